"""Learning-rate schedule: linear warm-up, then cosine decay to a floor."""

from __future__ import annotations

import math

import torch


def warmup_cosine(step: int, warmup: int, total: int, floor: float = 0.0) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based).

    Rises linearly from ``1/warmup`` to 1 over ``warmup`` steps, then follows a half cosine from
    1 to ``floor`` at ``total``; stays at ``floor`` afterwards.
    """
    if total < 1 or warmup < 0 or warmup > total:
        raise ValueError(f"need 0 <= warmup <= total and total >= 1, got {warmup}, {total}")
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(
    optimizer: torch.optim.Optimizer, warmup: int, total: int, floor: float = 0.0
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` applying :func:`warmup_cosine` (step it once per optimiser step)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, warmup, total, floor)
    )

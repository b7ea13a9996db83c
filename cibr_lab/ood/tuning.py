"""Hyperparameter selection on validation data, never on a test set."""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import nn

from cibr_lab.ood.metrics import ood_metrics
from cibr_lab.ood.registry import get_scorer, get_shaping, sweep_grid


def tune_shaping(
    score: str,
    shaping: str,
    train: tuple[torch.Tensor, torch.Tensor],
    val_id: torch.Tensor,
    val_ood: torch.Tensor,
    head: nn.Linear,
    grid: dict[str, list[Any]] | None = None,
) -> tuple[dict[str, Any], float]:
    """The shaping parameters (from ``grid``, default its ``methods.yaml`` sweep grid) that
    maximise the AUROC of ``score`` between ID validation features ``val_id [N, D]`` and
    validation OOD features ``val_ood [M, D]``; statistics are fitted on ``train``
    (features ``[K, D]``, labels ``[K]``). Returns ``(params, validation AUROC)``; ties keep
    the first grid point."""
    grid = sweep_grid("shapings", shaping) if grid is None else grid
    if not grid:
        raise ValueError(f"shaping {shaping!r} has no sweep grid to tune")
    names = list(grid)
    best: tuple[dict[str, Any], float] | None = None
    for values in itertools.product(*(grid[n] for n in names)):
        params = dict(zip(names, values, strict=True))
        scorer = get_scorer(score, get_shaping(shaping, **params)).fit(*train, head)
        auroc = ood_metrics(scorer.score(val_id, head), scorer.score(val_ood, head))["auroc"]
        if best is None or auroc > best[1]:
            best = (params, auroc)
    return best

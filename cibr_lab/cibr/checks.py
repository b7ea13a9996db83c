"""Input checks shared by the CIBR loss and metrics."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor


def require_finite(tensors: Mapping[str, Tensor]) -> None:
    """Raise a ``ValueError`` naming the first of ``{name: tensor}`` that holds NaN or infinite
    values (one host synchronisation for all of them)."""
    if not tensors:
        return
    device = next(iter(tensors.values())).device
    finite = torch.stack([torch.isfinite(t).all().to(device) for t in tensors.values()])
    for name, ok in zip(tensors, finite.tolist(), strict=True):
        if not ok:
            raise ValueError(f"NaN or infinite values in {name}")

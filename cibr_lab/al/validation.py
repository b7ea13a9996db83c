"""Input checks shared by the selection routines (clear errors on bad input)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def as_features(features: Tensor | np.ndarray, name: str = "features") -> Tensor:
    """A finite floating ``[N, D]`` tensor with ``N >= 1``, else a ValueError naming the problem."""
    x = torch.as_tensor(features)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a [N, D] matrix, got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty: the pool has no points")
    if not x.is_floating_point():
        x = x.float()
    if not all_finite(x):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def all_finite(x: Tensor, block: int = 2**22) -> bool:
    """True when every entry of ``x [N, D]`` is finite; checked in row blocks of about
    ``block`` entries so the temporaries stay small for large pools."""
    rows = max(1, block // max(1, x.shape[1]))
    return all(bool(torch.isfinite(x[i : i + rows]).all()) for i in range(0, x.shape[0], rows))


def as_mask(mask: Tensor | np.ndarray, n: int, device: torch.device) -> Tensor:
    """A bool ``[n]`` mask on ``device``, else a ValueError naming the shape mismatch."""
    m = torch.as_tensor(mask, device=device)
    if m.dtype != torch.bool:
        raise TypeError(f"labeled_mask must be boolean, got {m.dtype}")
    if m.shape != (n,):
        raise ValueError(
            f"labeled_mask has shape {tuple(m.shape)} but the pool has {n} points (features)"
        )
    return m


def check_budget(budget: int, available: int) -> None:
    """A positive int budget no larger than the ``available`` unlabelled points."""
    if not isinstance(budget, (int, np.integer)) or isinstance(budget, bool) or budget < 1:
        raise ValueError(f"budget must be a positive int, got {budget!r}")
    if budget > available:
        raise ValueError(f"budget {budget} exceeds the {available} unlabelled points in the pool")

"""Exact entropies and (conditional) mutual information of discrete joint distributions."""

from __future__ import annotations

import torch
from torch import Tensor


def _check_joint(p: Tensor) -> Tensor:
    p = torch.as_tensor(p, dtype=torch.float64)
    if torch.any(p < 0) or not torch.isfinite(p).all():
        raise ValueError("a probability table must be finite and non-negative")
    if abs(float(p.sum()) - 1.0) > 1e-6:
        raise ValueError(f"a probability table must sum to 1, got {float(p.sum()):.6g}")
    return p


def entropy(p: Tensor) -> Tensor:
    """Shannon entropy (nats) of a probability table of any shape."""
    p = _check_joint(p).flatten()
    nz = p[p > 0]
    return -(nz * nz.log()).sum()


def mutual_information(p_xy: Tensor) -> Tensor:
    """``I(X; Y)`` of a two-way table ``p_xy[x, y]``."""
    p = _check_joint(p_xy)
    return entropy(p.sum(1)) + entropy(p.sum(0)) - entropy(p)


def conditional_mutual_information(p_xyz: Tensor) -> Tensor:
    """``I(X; Y | Z)`` of a three-way table ``p_xyz[x, y, z]``."""
    p = _check_joint(p_xyz)
    return entropy(p.sum(1)) + entropy(p.sum(0)) - entropy(p) - entropy(p.sum((0, 1)))

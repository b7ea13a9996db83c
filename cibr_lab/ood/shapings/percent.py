"""Percents and exact percentiles for the shapings that take a percent of ID data.

Every shaping parameter that is a percent (``percentile`` of ReAct, ActFun and ASH, ``sparsity``
of DICE) is given in percent and must lie in the open interval (1, 100); values in (0, 1] are
refused as fractions (pytorch-ood users write ``0.9`` for the 90th percentile).
"""

from __future__ import annotations

import math

import torch


def check_percent(value: float, name: str = "percentile") -> float:
    """``value`` as a float percent in (1, 100); a clear error for fractions and out-of-range."""
    value = float(value)
    if 0 < value <= 1:
        raise ValueError(
            f"{name}={value:g} looks like a fraction; cibr_lab takes percents in (1, 100), e.g. 90"
        )
    if not 1 < value < 100:
        raise ValueError(f"{name} must lie in (1, 100) (a percent), got {value:g}")
    return value


def percentile(values: torch.Tensor, percent: float) -> float:
    """The ``percent``-th percentile of all entries of ``values`` (any shape, any size).

    Exact: numpy's default (linear interpolation between the order statistics around
    ``percent / 100 * (n - 1)``), from two ``torch.kthvalue`` calls over the whole flattened
    tensor on its device (no subsampling; half-precision values are read as float32).
    """
    flat = values.detach().reshape(-1)
    if flat.dtype in (torch.float16, torch.bfloat16):
        flat = flat.float()
    position = percent / 100 * (flat.numel() - 1)
    low = math.floor(position)
    frac = position - low
    below = float(flat.kthvalue(low + 1).values)
    if frac == 0:
        return below
    above = float(flat.kthvalue(low + 2).values)
    return below + frac * (above - below)

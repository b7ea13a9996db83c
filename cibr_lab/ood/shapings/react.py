"""ReAct: clip penultimate activations at a percentile of ID activations (Sun et al., 2021)."""

from __future__ import annotations

import torch
from torch import nn

from cibr_lab.ood.base import Shaping


def percentile_threshold(features: torch.Tensor, percentile: float) -> float:
    """The ``percentile``-th percentile of all entries of ID features ``[N, D]``."""
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must lie in (0, 100], got {percentile}")
    flat = features.reshape(-1).float()
    return float(torch.quantile(flat[:: max(1, flat.numel() // 2**24)], percentile / 100))


class ReAct(Shaping):
    """``min(h, c)`` with ``c`` the ``percentile``-th percentile of ID activations."""

    name = "react"
    requires_fit = True

    def __init__(self, percentile: float) -> None:
        self.percentile = float(percentile)

    def fit(self, features: torch.Tensor, head: nn.Linear) -> None:
        self.threshold = percentile_threshold(features, self.percentile)

    def apply(self, features: torch.Tensor, head: nn.Linear) -> tuple[torch.Tensor, nn.Linear]:
        return features.clamp(max=self.threshold), head

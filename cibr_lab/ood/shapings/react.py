"""ReAct: clip penultimate activations at a percentile of ID activations (Sun et al., 2021)."""

from __future__ import annotations

import torch
from torch import nn

from cibr_lab.ood.base import Shaping
from cibr_lab.ood.shapings.percent import check_percent, percentile


class ReAct(Shaping):
    """``min(h, c)`` with ``c`` the ``percentile``-th percentile (a percent in (1, 100)) of all
    ID activations, computed exactly over the whole ``[N, D]`` tensor."""

    name = "react"
    requires_fit = True

    def __init__(self, percentile: float) -> None:
        self.percentile = check_percent(percentile)

    def fit(self, features: torch.Tensor, head: nn.Linear) -> None:
        self.threshold = percentile(features, self.percentile)

    def apply(self, features: torch.Tensor, head: nn.Linear) -> tuple[torch.Tensor, nn.Linear]:
        return features.clamp(max=self.threshold), head

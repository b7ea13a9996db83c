"""BATS: truncate each feature to its typical ID range (Zhu et al., 2022)."""

from __future__ import annotations

import torch
from torch import nn

from cibr_lab.ood.base import Shaping


class BATS(Shaping):
    """Clamp unit ``j`` to ``mu_j +- lam * sd_j`` of the ID features.

    The paper takes ``mu`` and ``sd`` from the batch-norm layer before pooling; this feature-level
    reading takes them from the penultimate ID features, so it applies to any backbone.
    """

    name = "bats"
    requires_fit = True

    def __init__(self, lam: float) -> None:
        if lam <= 0:
            raise ValueError(f"lam must be positive, got {lam}")
        self.lam = float(lam)

    def fit(self, features: torch.Tensor, head: nn.Linear) -> None:
        mean, sd = features.mean(dim=0), features.std(dim=0)
        self.low, self.high = mean - self.lam * sd, mean + self.lam * sd

    def apply(self, features: torch.Tensor, head: nn.Linear) -> tuple[torch.Tensor, nn.Linear]:
        return torch.maximum(torch.minimum(features, self.high), self.low), head

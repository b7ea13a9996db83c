"""Negative free energy (Liu et al., 2020)."""

from __future__ import annotations

import torch
from torch import nn

from cibr_lab.ood.base import Score


class Energy(Score):
    """``T * logsumexp(logits / T)`` (the negative energy: higher = more ID)."""

    name = "energy"

    def __init__(self, temperature: float) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def score(self, features: torch.Tensor, head: nn.Linear) -> torch.Tensor:
        t = self.temperature
        return t * torch.logsumexp(head(features) / t, dim=1)

"""ASH: activation shaping by pruning each sample's low activations (Djurisic et al., 2023).

Applied to the penultimate feature vector (the feature-level reading OpenOOD also uses).
``percentile`` is a percent in (1, 100); each row's top entries are found exactly by ``topk``.
"""

from __future__ import annotations

import torch
from torch import nn

from cibr_lab.ood.base import Shaping
from cibr_lab.ood.shapings.percent import check_percent


def _top(features: torch.Tensor, percentile: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Values ``[N, k]`` and indices of each row's top ``(100 - percentile)%`` entries."""
    d = features.shape[1]
    k = max(1, d - round(d * percentile / 100))
    return features.topk(k, dim=1)


class _ASH(Shaping):
    def __init__(self, percentile: float) -> None:
        self.percentile = check_percent(percentile)

    def _fill(self, features: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def apply(self, features: torch.Tensor, head: nn.Linear) -> tuple[torch.Tensor, nn.Linear]:
        values, index = _top(features, self.percentile)
        out = torch.zeros_like(features).scatter(1, index, self._fill(features, values))
        return out, head


class ASHP(_ASH):
    """Prune: keep each sample's top activations, zero the rest."""

    name = "ash_p"

    def _fill(self, features: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
        return kept


class ASHB(_ASH):
    """Binarise: the kept entries all take the value ``sum(h) / k``."""

    name = "ash_b"

    def _fill(self, features: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
        return (features.sum(dim=1, keepdim=True) / kept.shape[1]).expand_as(kept)


class ASHS(_ASH):
    """Scale: the kept entries are multiplied by ``exp(sum(h) / sum(kept))``."""

    name = "ash_s"

    def _fill(self, features: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
        ratio = features.sum(dim=1, keepdim=True) / kept.sum(dim=1, keepdim=True).clamp_min(1e-12)
        return kept * ratio.exp()

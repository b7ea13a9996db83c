"""DICE: sparsify the head by the ID contribution of each weight (Sun and Li, 2022)."""

from __future__ import annotations

import torch
from torch import nn

from cibr_lab.ood.base import Shaping
from cibr_lab.ood.shapings.percent import check_percent, percentile


class DICE(Shaping):
    """Keep the head weights whose contribution ``W_cj * mean_ID(h_j)`` lies above its
    ``sparsity``-th percentile (a percent in (1, 100), exact); zero the others. Features pass
    unchanged."""

    name = "dice"
    requires_fit = True

    def __init__(self, sparsity: float) -> None:
        self.sparsity = check_percent(sparsity, "sparsity")

    def fit(self, features: torch.Tensor, head: nn.Linear) -> None:
        contribution = head.weight * features.mean(dim=0)[None]
        threshold = percentile(contribution, self.sparsity)
        self.mask = (contribution > threshold).to(head.weight.dtype)

    def apply(self, features: torch.Tensor, head: nn.Linear) -> tuple[torch.Tensor, nn.Linear]:
        if self.mask.shape != head.weight.shape:
            raise ValueError(
                f"dice was fitted on a head of shape {tuple(self.mask.shape)}, "
                f"got {tuple(head.weight.shape)}"
            )
        sparse = nn.Linear(head.in_features, head.out_features, device=head.weight.device)
        sparse.weight = nn.Parameter(head.weight.detach() * self.mask, requires_grad=False)
        sparse.bias = nn.Parameter(head.bias.detach().clone(), requires_grad=False)
        return features, sparse

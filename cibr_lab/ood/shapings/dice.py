"""DICE: sparsify the head by the ID contribution of each weight (Sun and Li, 2022)."""

from __future__ import annotations

import torch
from torch import nn

from cibr_lab.ood.base import Shaping


class DICE(Shaping):
    """Keep the head weights whose contribution ``W_cj * mean_ID(h_j)`` is in the top
    ``(100 - sparsity)%``; zero the others. Features pass unchanged."""

    name = "dice"
    requires_fit = True

    def __init__(self, sparsity: float) -> None:
        if not 0 <= sparsity < 100:
            raise ValueError(f"sparsity must lie in [0, 100), got {sparsity}")
        self.sparsity = float(sparsity)

    def fit(self, features: torch.Tensor, head: nn.Linear) -> None:
        contribution = head.weight * features.mean(dim=0)[None]
        threshold = torch.quantile(contribution.reshape(-1).float(), self.sparsity / 100)
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

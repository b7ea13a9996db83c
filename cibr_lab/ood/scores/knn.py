"""Deep nearest neighbours (Sun et al., 2022)."""

from __future__ import annotations

import torch
from torch import nn

from cibr_lab.ood.base import Score


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


class KNN(Score):
    """Minus the distance of the L2-normalised feature to its k-th nearest ID training feature."""

    name = "knn"
    requires_fit = True

    def __init__(self, k: int, chunk_size: int) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if chunk_size < 1:
            raise ValueError(f"knn chunk_size must be >= 1, got {chunk_size}")
        self.k = int(k)
        self.chunk_size = int(chunk_size)

    def fit(self, features: torch.Tensor, labels: torch.Tensor, head: nn.Linear) -> None:
        if features.shape[0] < self.k:
            raise ValueError(
                f"knn needs at least k={self.k} ID training samples, got {features.shape[0]}"
            )
        self.bank = _normalise(features)

    def score(self, features: torch.Tensor, head: nn.Linear) -> torch.Tensor:
        out = []
        for x in _normalise(features).split(self.chunk_size):
            sq = (2 - 2 * x @ self.bank.T).clamp_min(0)
            kth = sq.topk(self.k, dim=1, largest=False).values[:, -1]
            out.append(-kth.sqrt())
        return torch.cat(out)

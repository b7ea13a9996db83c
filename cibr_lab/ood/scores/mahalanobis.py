"""Mahalanobis distance to the closest class mean, tied covariance (Lee et al., 2018)."""

from __future__ import annotations

import torch
from torch import nn

from cibr_lab.ood.base import Score


class Mahalanobis(Score):
    """``-min_c (h - mu_c)^T S^+ (h - mu_c)`` with class means ``mu_c`` and shared covariance ``S``.

    Feature-level variant (penultimate layer, no input preprocessing), as OpenOOD's MDS.
    """

    name = "mahalanobis"
    requires_fit = True

    def __init__(self, chunk_size: int) -> None:
        if chunk_size < 1:
            raise ValueError(f"mahalanobis chunk_size must be >= 1, got {chunk_size}")
        self.chunk_size = int(chunk_size)

    def fit(self, features: torch.Tensor, labels: torch.Tensor, head: nn.Linear) -> None:
        x = features.double()
        classes = torch.arange(head.out_features, device=x.device)
        onehot = (labels[:, None] == classes[None]).double()
        counts = onehot.sum(dim=0)
        present = counts > 0
        means = (onehot.T @ x)[present] / counts[present, None]
        centred = x - (onehot[:, present] @ means)
        cov = centred.T @ centred / x.shape[0]
        self.means = means.to(features.dtype)
        self.precision = torch.linalg.pinv(cov, hermitian=True).to(features.dtype)

    def score(self, features: torch.Tensor, head: nn.Linear) -> torch.Tensor:
        p, mu = self.precision, self.means
        mu_p = mu @ p
        mu_term = (mu_p * mu).sum(dim=1)
        out = []
        for x in features.split(self.chunk_size):
            d = (x @ p * x).sum(dim=1, keepdim=True) - 2 * x @ mu_p.T + mu_term[None]
            out.append(-d.amin(dim=1))
        return torch.cat(out)

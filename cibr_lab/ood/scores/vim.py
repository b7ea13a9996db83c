"""ViM: virtual-logit matching (Wang et al., 2022)."""

from __future__ import annotations

import torch
from torch import nn

from cibr_lab.ood.base import Score


def default_dim(feature_dim: int) -> int:
    """The principal-subspace size the ViM authors use: 1000 / 512 for wide features, else D/2."""
    if feature_dim >= 2048:
        return 1000
    if feature_dim >= 768:
        return 512
    return feature_dim // 2


class ViM(Score):
    """``logsumexp(logits) - alpha * ||P_perp (h - o)||`` with origin ``o = -W^+ b``.

    ``P_perp`` projects on the complement of the ``dim`` leading principal directions of the ID
    features; ``alpha`` matches the mean virtual logit to the mean max logit on ID data.
    """

    name = "vim"
    requires_fit = True

    def __init__(self, dim: int | None) -> None:
        self.dim = dim

    def fit(self, features: torch.Tensor, labels: torch.Tensor, head: nn.Linear) -> None:
        d = features.shape[1]
        dim = default_dim(d) if self.dim is None else int(self.dim)
        if not 0 < dim < d:
            raise ValueError(f"vim dim must lie in (0, {d}) for {d}-dim features, got {dim}")
        w, b = head.weight.double(), head.bias.double()
        self.origin = -(torch.linalg.pinv(w) @ b)
        x = features.double() - self.origin
        _, vectors = torch.linalg.eigh(x.T @ x / x.shape[0])
        self.null_space = vectors[:, : d - dim].contiguous()
        virtual = (x @ self.null_space).norm(dim=1)
        self.alpha = float(head(features).amax(dim=1).double().mean() / virtual.mean())
        self.origin = self.origin.to(features.dtype)
        self.null_space = self.null_space.to(features.dtype)

    def score(self, features: torch.Tensor, head: nn.Linear) -> torch.Tensor:
        virtual = ((features - self.origin) @ self.null_space).norm(dim=1)
        return torch.logsumexp(head(features), dim=1) - self.alpha * virtual

"""Maximum logit (Hendrycks et al., 2022)."""

from __future__ import annotations

import torch
from torch import nn

from cibr_lab.ood.base import Score


class MaxLogit(Score):
    """``max_k logits_k``."""

    name = "maxlogit"

    def score(self, features: torch.Tensor, head: nn.Linear) -> torch.Tensor:
        return head(features).amax(dim=1)

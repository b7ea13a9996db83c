"""Maximum softmax probability (Hendrycks and Gimpel, 2017)."""

from __future__ import annotations

import torch
from torch import nn

from cibr_lab.ood.base import Score


class MSP(Score):
    """``max_k softmax(logits)_k``."""

    name = "msp"

    def score(self, features: torch.Tensor, head: nn.Linear) -> torch.Tensor:
        return head(features).softmax(dim=1).amax(dim=1)

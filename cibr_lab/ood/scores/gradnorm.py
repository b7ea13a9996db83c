"""GradNorm (Huang et al., 2021), batched in closed form."""

from __future__ import annotations

import torch
from torch import nn

from cibr_lab.ood.base import Score


class GradNorm(Score):
    """L1 norm of the gradient of ``-sum_k log softmax(logits / T)_k`` w.r.t. the head weight.

    The reference code uses all-ones targets, so the gradient w.r.t. the logits is
    ``(C p - 1) / T`` and the weight gradient its outer product with ``h``; its L1 norm
    factorises into ``(C / T) * sum_k |p_k - 1/C| * ||h||_1``, computed here for a whole batch.
    """

    name = "gradnorm"

    def __init__(self, temperature: float) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def score(self, features: torch.Tensor, head: nn.Linear) -> torch.Tensor:
        p = (head(features) / self.temperature).softmax(dim=1)
        c = p.shape[1]
        spread = (p - 1.0 / c).abs().sum(dim=1)
        return (c / self.temperature) * spread * features.abs().sum(dim=1)


def gradnorm_autograd(
    features: torch.Tensor, head: nn.Linear, temperature: float = 1.0
) -> torch.Tensor:
    """Per-sample autograd reference (as the GradNorm and OpenOOD code compute it): ``[N]``."""
    out = torch.empty(features.shape[0], dtype=features.dtype)
    weight = head.weight.detach().clone().requires_grad_(True)
    for i, h in enumerate(features):
        logits = nn.functional.linear(h[None], weight, head.bias) / temperature
        loss = -logits.log_softmax(dim=1).sum()
        (grad,) = torch.autograd.grad(loss, weight)
        out[i] = grad.abs().sum()
    return out

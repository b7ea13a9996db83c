"""ODIN: temperature scaling and input perturbation (Liang et al., 2018)."""

from __future__ import annotations

import torch
from torch import nn

from cibr_lab.ood.base import Forward, Score


class ODIN(Score):
    """Max softmax of ``logits / T`` at the input nudged by ``-noise * sign(grad)``.

    The gradient is that of the cross-entropy of the predicted class, so the nudge raises the
    top softmax probability. From cached features (no inputs) only the temperature applies.
    """

    name = "odin"

    def __init__(self, temperature: float, noise: float) -> None:
        if temperature <= 0 or noise < 0:
            raise ValueError(f"need temperature > 0 and noise >= 0, got {temperature}, {noise}")
        self.temperature = float(temperature)
        self.noise = float(noise)

    def score(self, features: torch.Tensor, head: nn.Linear) -> torch.Tensor:
        return (head(features) / self.temperature).softmax(dim=1).amax(dim=1)

    def score_inputs(self, forward: Forward, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            features, head = forward(x)
            logits = head(features.float()) / self.temperature
            loss = nn.functional.cross_entropy(logits, logits.argmax(dim=1), reduction="sum")
            (grad,) = torch.autograd.grad(loss, x)
        with torch.no_grad():
            features, head = forward(x.detach() - self.noise * grad.sign())
            return self.score(features.float(), head)

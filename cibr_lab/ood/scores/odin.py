"""ODIN: temperature scaling and input perturbation (Liang et al., 2018)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cibr_lab.ood.base import Forward, Score


def sign_plus(x: torch.Tensor) -> torch.Tensor:
    """``+1`` where ``x >= 0`` and ``-1`` elsewhere (``sign`` with ``sign(0) = +1``), as the ODIN
    code and OpenOOD take the gradient's sign."""
    return (x >= 0).to(x.dtype) * 2 - 1


class ODIN(Score):
    """Max softmax of ``logits / T`` at the input nudged by ``-noise * sign_plus(grad) / std``.

    ``grad`` is the gradient, w.r.t. the input, of the cross-entropy of the predicted class, so
    the nudge raises the top softmax probability. ``input_std`` is the per-channel standard
    deviation of the normalisation the inputs went through (channels on dim 1, e.g. OpenOOD's
    CIFAR-10 ``[0.247, 0.2435, 0.2616]``): dividing by it makes ``noise`` a step in pixel units,
    as in the ODIN code and OpenOOD. ``None`` (the default) means inputs that are not normalised
    (std 1). From cached features (no inputs) only the temperature applies.
    """

    name = "odin"

    def __init__(
        self, temperature: float, noise: float, input_std: Sequence[float] | None = None
    ) -> None:
        if temperature <= 0 or noise < 0:
            raise ValueError(f"need temperature > 0 and noise >= 0, got {temperature}, {noise}")
        if input_std is not None and not all(float(s) > 0 for s in input_std):
            raise ValueError(f"odin input_std must be positive per channel, got {list(input_std)}")
        self.temperature = float(temperature)
        self.noise = float(noise)
        self.input_std = None if input_std is None else tuple(float(s) for s in input_std)

    def _std(self, inputs: torch.Tensor) -> torch.Tensor | float:
        """``input_std`` shaped to broadcast over ``inputs [N, C, ...]`` (1 when unset)."""
        if self.input_std is None:
            return 1.0
        channels = inputs.shape[1] if inputs.ndim > 1 else None
        if channels != len(self.input_std):
            raise ValueError(
                f"odin input_std has {len(self.input_std)} channels, inputs of shape "
                f"{tuple(inputs.shape)} have {channels} on dim 1"
            )
        shape = (1, -1) + (1,) * (inputs.ndim - 2)
        return torch.tensor(self.input_std, dtype=inputs.dtype, device=inputs.device).view(shape)

    def score(self, features: torch.Tensor, head: nn.Linear) -> torch.Tensor:
        return (head(features) / self.temperature).softmax(dim=1).amax(dim=1)

    def perturb(self, forward: Forward, inputs: torch.Tensor) -> torch.Tensor:
        """The nudged inputs ``x - noise * sign_plus(grad) / input_std``, same shape."""
        std = self._std(inputs)
        x = inputs.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            features, head = forward(x)
            logits = head(features.to(head.weight.dtype)) / self.temperature
            loss = nn.functional.cross_entropy(logits, logits.argmax(dim=1), reduction="sum")
            (grad,) = torch.autograd.grad(loss, x)
        return x.detach() - self.noise * sign_plus(grad) / std

    def score_inputs(self, forward: Forward, inputs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            features, head = forward(self.perturb(forward, inputs))
            return self.score(features.to(head.weight.dtype), head)

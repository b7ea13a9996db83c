"""ActFun, as reconstructed: the expected capped ReLU over a Gaussian neighbourhood.

With ``g(t) = min(max(t, 0), c)`` and ``z ~ N(0, 1)``, ``E[g(h + sigma z)] = S(h) - S(h - c)``
where ``S(u) = u Phi(u / sigma) + sigma phi(u / sigma)``. As ``sigma -> 0`` this is ReAct's
clip (for non-negative ``h``), as ``c -> inf`` a smoothed ReLU. ``c`` is a percentile of ID
activations and ``sigma`` is given as a fraction of ``c``. :class:`ActFunMC` is the input-space
reading: the capped features averaged over Gaussian-perturbed copies of the input.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cibr_lab.ood.base import Shaping
from cibr_lab.ood.shapings.percent import check_percent, percentile


def _smooth_relu(u: torch.Tensor, sigma: float) -> torch.Tensor:
    """``E[max(u + sigma z, 0)] = u Phi(u / sigma) + sigma phi(u / sigma)``."""
    t = u / sigma
    cdf = 0.5 * (1 + torch.erf(t / math.sqrt(2)))
    pdf = torch.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)
    return u * cdf + sigma * pdf


def actfun(h: torch.Tensor, c: float, sigma: float) -> torch.Tensor:
    """Closed-form ActFun ``S(h) - S(h - c)``, elementwise, in ``[0, c]``.

    ``sigma = 0`` gives ``clamp(h, 0, c)``; the result is clamped to ``[0, c]`` against rounding.
    """
    if c <= 0 or sigma < 0:
        raise ValueError(f"actfun needs c > 0 and sigma >= 0, got c={c}, sigma={sigma}")
    if sigma == 0:
        return h.clamp(0, c)
    return (_smooth_relu(h, sigma) - _smooth_relu(h - c, sigma)).clamp(0, c)


class ActFun(Shaping):
    """Closed-form ActFun on penultimate features, ``c`` = ``percentile`` (a percent in (1, 100))
    of all ID activations, exact over the whole tensor, and the noise scale ``sigma * c``."""

    name = "actfun"
    requires_fit = True

    def __init__(self, percentile: float, sigma: float) -> None:
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        self.percentile = check_percent(percentile)
        self.sigma = float(sigma)

    def fit(self, features: torch.Tensor, head: nn.Linear) -> None:
        self.threshold = percentile(features, self.percentile)
        if self.threshold <= 0:
            raise ValueError(
                f"the {self.percentile}th percentile of the ID activations is {self.threshold}: "
                "actfun needs a positive cap (raise the percentile)"
            )

    def apply(self, features: torch.Tensor, head: nn.Linear) -> tuple[torch.Tensor, nn.Linear]:
        return actfun(features, self.threshold, self.sigma * self.threshold), head


class ActFunMC(ActFun):
    """Input-space ActFun: ``mean_k clamp(features(x + input_sigma * z_k), 0, c)`` over
    ``n_samples`` Gaussian copies of the input (seeded by ``seed``); needs inputs, not features."""

    name = "actfun_mc"
    input_level = True

    def __init__(self, percentile: float, input_sigma: float, n_samples: int, seed: int) -> None:
        super().__init__(percentile=percentile, sigma=0.0)
        if input_sigma < 0 or n_samples < 1:
            raise ValueError(
                f"need input_sigma >= 0 and n_samples >= 1, got {input_sigma}, {n_samples}"
            )
        self.input_sigma = float(input_sigma)
        self.n_samples = int(n_samples)
        self.seed = int(seed)

    def forward(self, model: nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, nn.Linear]:
        gen = torch.Generator(device=inputs.device).manual_seed(self.seed)
        k, n = self.n_samples, inputs.shape[0]
        noise = torch.randn((k, *inputs.shape), generator=gen, device=inputs.device)
        noisy = (inputs[None] + self.input_sigma * noise).reshape(k * n, *inputs.shape[1:])
        capped = model.features(noisy).clamp(0, self.threshold)
        return capped.reshape(k, n, -1).mean(dim=0), model.head

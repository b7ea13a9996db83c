"""``ceb``: a variational upper bound on the modality-specific information (CEB style).

Each modality has a Gaussian encoder ``e(z_v | x_v) = N(mu_v, sigma^2 I)`` whose mean is the
(normalised) feature, and a backward predictor ``b(z_v | x_t) = N(g_v(mu_t), s_v^2 I)`` with a
learned map ``g_v`` and a learned scale ``s_v``. Under the Markov chain ``Z_v - X_v - X_t``,

    I(Z_v; X_v | X_t) = E[log e(z_v|x_v) - log p(z_v|x_t)] <= E[KL(e(.|x_v) || b(.|x_t))]

for every ``b`` (the gap is ``E KL(p(.|x_t) || b(.|x_t)) >= 0``), so minimising the bound over
``g_v, s_v`` tightens it and minimising it over the encoder compresses: the model and the
predictors descend the same objective and need no schedule.

For identity ``g`` and ``s_v = sigma`` the bound is ``||mu_v - mu_t||^2 / (2 sigma^2)``, which on
the unit sphere equals ``(1 - cos(mu_v, mu_t)) / sigma^2``: the alignment term of the
alignment/uniformity view of contrastive learning, which also closes the modality gap.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from cibr_lab.cibr.estimators.base import RedundancyEstimator


def gaussian_kl(mu_q: Tensor, std_q: Tensor, mu_p: Tensor, std_p: Tensor) -> Tensor:
    """``KL(N(mu_q, std_q^2 I) || N(mu_p, std_p^2 I))`` per row, in nats.

    ``mu_q``, ``mu_p``: ``[N, D]``; ``std_q``, ``std_p``: positive scalar tensors.
    Returns ``[N]``.
    """
    d = mu_q.shape[-1]
    var_ratio = (std_q / std_p) ** 2
    const = 0.5 * d * (var_ratio - 1.0 - torch.log(var_ratio))
    return const + (mu_q - mu_p).pow(2).sum(-1) / (2.0 * std_p**2)


class ResidualPredictor(nn.Module):
    """``g(x) = x + W2 relu(W1 x)``: starts as the identity (``W2 = 0``), learns a correction."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(dim, hidden)
        self.out = nn.Linear(hidden, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        """``[N, D] -> [N, D]``."""
        return x + self.out(torch.relu(self.hidden(x)))


class CEBEstimator(RedundancyEstimator):
    """Upper bound ``R_v + R_t <= E KL(e(.|x_v)||b(.|x_t)) + E KL(e(.|x_t)||b(.|x_v))``.

    Parameters
    ----------
    embed_dim : feature dimension D.
    sigma : encoder standard deviation (fixed; it sets the scale of the bound).
    hidden : width of the residual predictors ``g_v`` (text -> image) and ``g_t`` (image -> text).
    """

    batch_level = False

    def __init__(self, embed_dim: int, sigma: float = 0.25, hidden: int = 64) -> None:
        super().__init__()
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.register_buffer("sigma", torch.tensor(float(sigma)))
        self.predict_image = ResidualPredictor(embed_dim, hidden)
        self.predict_text = ResidualPredictor(embed_dim, hidden)
        self.log_std_backward = nn.Parameter(torch.full((2,), math.log(sigma)))

    def forward(self, image_features: Tensor, text_features: Tensor) -> dict[str, Tensor]:
        """Mean over the batch of the two closed-form KL terms (``[N, D]`` features)."""
        std_v, std_t = self.log_std_backward.float().exp().unbind()
        sigma = self.sigma.float()
        img, txt = image_features.float(), text_features.float()
        r_v = gaussian_kl(img, sigma, self.predict_image(txt), std_v).mean()
        r_t = gaussian_kl(txt, sigma, self.predict_text(img), std_t).mean()
        return {"penalty": r_v + r_t, "R_v": r_v.detach(), "R_t": r_t.detach()}

"""The CEB penalty on the unit sphere is InfoNCE with a reweighted positive logit.

For normalised features ``u_i, w_i``, logits ``f_ij = s u_i . w_j`` (``s`` = logit scale) and
the CEB bound with identity backward maps and equal variances ``sigma``, the penalty is
``R_v + R_t = 2 mean_i (1 - u_i . w_i) / sigma^2 = 2 / sigma^2 - 2 mean_i f_ii / (s sigma^2)``,
so ``CLIP + lam (R_v + R_t)`` equals :func:`reweighted_infonce` with
``kappa = 1 + 2 lam / (s sigma^2)`` plus the constant ``2 lam / sigma^2``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from cibr_lab.cibr import CIBRLoss


def reweighted_infonce(logits: Tensor, kappa: float) -> Tensor:
    """Symmetric InfoNCE whose positive logit counts ``kappa`` times in the numerator only.

    ``logits [N, N]`` with the positives on the diagonal; returns the scalar
    ``mean_i [-kappa f_ii + (logsumexp_j f_ij + logsumexp_j f_ji) / 2]`` (nats). ``kappa = 1``
    is CLIP's loss.
    """
    if logits.ndim != 2 or logits.shape[0] != logits.shape[1]:
        raise ValueError(f"logits must be a square N x N matrix, got {tuple(logits.shape)}")
    lse = 0.5 * (torch.logsumexp(logits, 1) + torch.logsumexp(logits, 0))
    return (lse - kappa * logits.diagonal()).mean()


def ceb_kappa(lam: float, sigma: float, logit_scale: float) -> float:
    """The positive-logit weight ``1 + 2 lam / (logit_scale sigma^2)`` of the CEB penalty."""
    return 1.0 + 2.0 * lam / (logit_scale * sigma**2)


def ceb_as_reweighted_infonce(
    n: int, dim: int, lam: float, sigma: float, logit_scale: float, seed: int
) -> dict[str, float]:
    """Both sides of the identity on a random batch of ``n`` normalised ``dim``-d pairs.

    Returns ``cibr`` (``CIBRLoss`` with the ``ceb`` estimator at its initialisation: identity
    predictors, backward scale ``sigma``), ``reweighted`` (:func:`reweighted_infonce` plus
    ``2 lam / sigma^2``) and ``kappa``.
    """
    gen = torch.Generator().manual_seed(seed)
    img = F.normalize(torch.randn(n, dim, generator=gen), dim=-1)
    txt = F.normalize(img + torch.randn(n, dim, generator=gen), dim=-1)
    loss = CIBRLoss(lam, "ceb", embed_dim=dim, estimator_kwargs={"sigma": sigma})
    scale = torch.tensor(float(logit_scale))
    with torch.no_grad():
        terms = loss(img, txt, scale, output_dict=True)
        kappa = ceb_kappa(lam, sigma, logit_scale)
        reweighted = reweighted_infonce(scale * img @ txt.T, kappa) + 2 * lam / sigma**2
    return {
        "cibr": float(terms["contrastive_loss"] + terms["cibr_loss"]),
        "reweighted": float(reweighted),
        "kappa": kappa,
    }

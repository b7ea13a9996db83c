"""Closed forms for Gaussians: correlated pairs and linear-Gaussian encoders."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def gaussian_mi(rho: float | Tensor, dim: int = 1) -> Tensor:
    """True MI (nats) of ``dim`` pairs with correlation ``rho``: ``-dim/2 log(1 - rho^2)``."""
    rho_t = torch.as_tensor(rho, dtype=torch.float64)
    if torch.any(rho_t.abs() >= 1):
        raise ValueError(f"correlation must lie in (-1, 1), got {rho}")
    return -0.5 * dim * torch.log1p(-(rho_t**2))


def rho_for_mi(mi: float, dim: int = 1) -> float:
    """The correlation giving ``dim`` pairs a total MI of ``mi`` nats (inverts gaussian_mi)."""
    if mi < 0:
        raise ValueError(f"mutual information must be non-negative, got {mi}")
    return math.sqrt(1.0 - math.exp(-2.0 * mi / dim))


def sample_correlated(
    n: int, dim: int, rho: float | Tensor, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """x ~ N(0, I) and y = rho x + sqrt(1 - rho^2) e, each ``[..., n, dim]``.

    A tensor ``rho`` of shape ``[G]`` draws G independent problems, ``[G, n, dim]`` each.
    """
    rho_t = torch.as_tensor(rho, dtype=torch.float32)
    shape = (*rho_t.shape, n, dim)
    rho_b = rho_t.reshape(*rho_t.shape, 1, 1)
    x = torch.randn(shape, generator=generator)
    e = torch.randn(shape, generator=generator)
    return x, rho_b * x + torch.sqrt(1.0 - rho_b**2) * e


def gaussian_log_ratio(x: Tensor, y: Tensor, rho: float) -> Tensor:
    """The optimal critic ``log p(y_j | x_i) / p(y_j)`` for every pair, ``[..., N, N]``."""
    var = 1.0 - rho**2
    sq = torch.cdist(rho * x, y).pow(2)
    dim = x.shape[-1]
    return -0.5 * dim * math.log(var) - sq / (2 * var) + 0.5 * y.pow(2).sum(-1)[..., None, :]


def _logdet(a: Tensor) -> Tensor:
    return torch.linalg.slogdet(a)[1]


def linear_encoder_terms(
    w_v: Tensor, w_t: Tensor, cov: Tensor, noise_std: float
) -> dict[str, float]:
    """Exact information terms of the linear-Gaussian encoders ``Z_m = W_m X_m + s * xi``.

    ``cov`` is the joint covariance of ``(X_v, X_t)`` (image block first); ``w_v`` is
    ``[p, d_v]`` and ``w_t`` is ``[p, d_t]``. Returns, in nats, for the image side
    ``compression = I(Z_v; X_v)``, ``relevance = I(Z_v; X_t)``, ``redundancy =
    I(Z_v; X_v | X_t)`` (so compression = relevance + redundancy), the text-side counterparts
    with a ``_t`` suffix, and ``shared = I(Z_v; Z_t)``.
    """
    w_v, w_t, cov = (t.to(torch.float64) for t in (w_v, w_t, cov))
    d_v = w_v.shape[1]
    if cov.shape != (d_v + w_t.shape[1],) * 2:
        raise ValueError(f"cov must be square of size {d_v + w_t.shape[1]}, got {tuple(cov.shape)}")
    s2 = noise_std**2
    cvv, cvt, ctt = cov[:d_v, :d_v], cov[:d_v, d_v:], cov[d_v:, d_v:]
    eye = torch.eye(w_v.shape[0], dtype=torch.float64)

    def side(w, c_self, c_cross, c_other):
        cond = c_self - c_cross @ torch.linalg.solve(c_other, c_cross.T)
        total = _logdet(w @ c_self @ w.T + s2 * eye)
        given = _logdet(w @ cond @ w.T + s2 * eye)
        base = _logdet(s2 * eye)
        return 0.5 * (total - base), 0.5 * (total - given), 0.5 * (given - base)

    comp_v, rel_v, red_v = side(w_v, cvv, cvt, ctt)
    comp_t, rel_t, red_t = side(w_t, ctt, cvt.T, cvv)
    a = w_v @ cvv @ w_v.T + s2 * eye
    b = w_t @ ctt @ w_t.T + s2 * eye
    c = w_v @ cvt @ w_t.T
    joint = torch.cat([torch.cat([a, c], 1), torch.cat([c.T, b], 1)], 0)
    shared = 0.5 * (_logdet(a) + _logdet(b) - _logdet(joint))
    values = {
        "compression": comp_v,
        "relevance": rel_v,
        "redundancy": red_v,
        "compression_t": comp_t,
        "relevance_t": rel_t,
        "redundancy_t": red_t,
        "shared": shared,
    }
    return {k: float(v) for k, v in values.items()}

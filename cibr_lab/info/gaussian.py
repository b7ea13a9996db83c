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


def gaussian_pair_log_ratio(x: Tensor, y: Tensor, rho: float) -> Tensor:
    """``log p(y | x) / p(y)`` of each paired sample (the diagonal of
    :func:`gaussian_log_ratio`), ``[...]`` for ``x, y`` of shape ``[..., dim]``."""
    var = 1.0 - rho**2
    sq = (y - rho * x).pow(2).sum(-1)
    return -0.5 * x.shape[-1] * math.log(var) - sq / (2 * var) + 0.5 * y.pow(2).sum(-1)


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


def _conditional_mean_map(w_v: Tensor, cov: Tensor) -> tuple[Tensor, Tensor]:
    """``E[Z_v | x_t] = M x_t`` and ``Cov(Z_v | X_t) - s^2 I = W_v C_{v|t} W_v^T``."""
    d_v = w_v.shape[1]
    cvv, cvt, ctt = cov[:d_v, :d_v], cov[:d_v, d_v:], cov[d_v:, d_v:]
    gain = torch.linalg.solve(ctt, cvt.T).T  # C_vt C_tt^{-1}
    return w_v @ gain, w_v @ (cvv - gain @ cvt.T) @ w_v.T


def _checked(w_v: Tensor, w_t: Tensor, cov: Tensor, backward: Tensor | None) -> tuple:
    w_v, w_t, cov = (t.to(torch.float64) for t in (w_v, w_t, cov))
    if cov.shape != (w_v.shape[1] + w_t.shape[1],) * 2:
        raise ValueError(
            f"cov must be square of size {w_v.shape[1] + w_t.shape[1]}, got {tuple(cov.shape)}"
        )
    p = w_v.shape[0]
    g = torch.eye(p, dtype=torch.float64) if backward is None else backward.to(torch.float64)
    if g.shape != (p, w_t.shape[0]):
        raise ValueError(f"backward must be [{p}, {w_t.shape[0]}], got {tuple(g.shape)}")
    return w_v, w_t, cov, g


def ceb_bound(
    w_v: Tensor, w_t: Tensor, cov: Tensor, noise_std: float, backward: Tensor | None = None
) -> float:
    """The CEB upper bound on ``I(Z_v; X_v | X_t)`` of linear-Gaussian encoders, exact.

    Encoder ``e(z_v | x_v) = N(W_v x_v, s^2 I)``, backward model
    ``b(z_v | x_t) = N(G W_t x_t, s^2 I)`` with ``G = backward`` (``[p_v, p_t]``; identity when
    None). Returns ``E[KL(e || b)] = tr(A C A^T) / (2 s^2)`` with ``A = [W_v, -G W_t]`` and
    ``C = cov``, in nats: the expectation of the penalty ``||mu_v - G mu_t||^2 / (2 s^2)``.
    """
    w_v, w_t, cov, g = _checked(w_v, w_t, cov, backward)
    a = torch.cat([w_v, -g @ w_t], 1)
    return float(torch.trace(a @ cov @ a.T) / (2 * noise_std**2))


def ceb_bound_gap(
    w_v: Tensor, w_t: Tensor, cov: Tensor, noise_std: float, backward: Tensor | None = None
) -> float:
    """``E_{x_t}[KL(p(z_v | x_t) || b(z_v | x_t))]``: what :func:`ceb_bound` exceeds the exact
    redundancy ``I(Z_v; X_v | X_t)`` by (same arguments; nats, >= 0).

    ``p(z_v | x_t) = N(M x_t, W_v C_{v|t} W_v^T + s^2 I)`` with ``M = W_v C_vt C_tt^{-1}``.
    """
    w_v, w_t, cov, g = _checked(w_v, w_t, cov, backward)
    d_v, s2 = w_v.shape[1], noise_std**2
    m, spread = _conditional_mean_map(w_v, cov)
    p = w_v.shape[0]
    c = spread + s2 * torch.eye(p, dtype=torch.float64)
    diff = m - g @ w_t
    mean_term = torch.trace(diff @ cov[d_v:, d_v:] @ diff.T) / s2
    kl = 0.5 * (torch.trace(c) / s2 + mean_term - p + p * math.log(s2) - _logdet(c))
    return float(kl)

"""Squared maximum mean discrepancy with a multi-bandwidth Gaussian kernel, computed in chunks."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch
from torch import Tensor

from cibr_lab.info.matrix import off_diagonal

#: Multiples of the median pairwise distance used when no bandwidths are given.
DEFAULT_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)


def _check(x: Tensor, y: Tensor, min_rows: int) -> None:
    for name, t in (("x", x), ("y", y)):
        if t.ndim != 2:
            raise ValueError(f"{name} must be a [n, d] matrix, got shape {tuple(t.shape)}")
        if t.shape[0] < min_rows:
            raise ValueError(f"{name} needs at least {min_rows} rows, got {t.shape[0]}")
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y differ in feature dimension: {x.shape[1]} vs {y.shape[1]}")


def median_bandwidths(
    x: Tensor, y: Tensor, scales: Sequence[float] = DEFAULT_SCALES, max_points: int = 1024
) -> Tensor:
    """Bandwidths ``scales * median pairwise distance`` of the pooled sample.

    At most ``max_points`` evenly spaced points of the pool enter the median, so the cost stays
    fixed for large inputs.
    """
    pool = torch.cat([x, y]).detach()
    if pool.shape[0] > max_points:
        idx = torch.linspace(0, pool.shape[0] - 1, max_points, device=pool.device).long()
        pool = pool[idx]
    d = torch.cdist(pool.float(), pool.float())
    med = off_diagonal(d).median().clamp_min(1e-12)
    return torch.stack([med * s for s in scales])  # no mask, no host-to-device copy


def _given_bandwidths(bandwidths: Sequence[float] | Tensor) -> Tensor:
    bw = torch.as_tensor(bandwidths)
    if bw.numel() == 0 or torch.any(bw <= 0):
        raise ValueError("bandwidths must be positive")
    return bw


#: Up to this many points in all, :func:`mmd2` takes one pooled distance matrix (one kernel
#: pass, the median read from it) instead of three chunked blocks: the training-step case.
_FUSED_MAX = 1024


@lru_cache(maxsize=16)
def _pair_weights(m: int, n: int, unbiased: bool, device: torch.device) -> Tensor:
    """``W [m+n, m+n]`` with ``mmd2 = sum(W * K)`` for the pooled kernel matrix ``K``."""
    sign = torch.cat([torch.ones(m, dtype=torch.float64), -torch.ones(n, dtype=torch.float64)])
    size = torch.cat([torch.full((m,), float(m)), torch.full((n,), float(n))]).double()
    if not unbiased:
        return (torch.outer(sign / size, sign / size)).to(device)
    same = sign[:, None] == sign[None, :]
    w = torch.where(same, 1.0 / (size[:, None] * (size[:, None] - 1)), -1.0 / (m * n))
    return w.fill_diagonal_(0.0).to(device)


def _mmd2_fused(
    x: Tensor, y: Tensor, bandwidths: Sequence[float] | Tensor | None, unbiased: bool
) -> Tensor:
    """:func:`mmd2` for small inputs: the pooled squared distances and the kernel once, summed
    with fixed pair weights (few operations: the cost of a training step is their overhead)."""
    z = torch.cat([x, y])
    z2 = z.pow(2).sum(1)
    sq = (z2[:, None] + z2[None, :] - 2 * z @ z.T).clamp_min(0)
    if bandwidths is None:
        med = off_diagonal(sq.detach()).median().sqrt().clamp_min(1e-12)
        bw = med * torch.tensor(DEFAULT_SCALES, device=x.device, dtype=x.dtype)
    else:
        bw = _given_bandwidths(bandwidths)
    inv2s2 = 1.0 / (2 * bw.to(device=x.device, dtype=x.dtype).reshape(-1) ** 2)
    k = torch.exp(sq[..., None] * -inv2s2).sum(-1)
    weights = _pair_weights(x.shape[0], y.shape[0], unbiased, x.device)
    return (k.double() * weights).sum().to(x.dtype)


def _kernel_sum(a: Tensor, b: Tensor, inv2s2: Tensor, same: bool, chunk: int) -> Tensor:
    """Sum of k(a_i, b_j) over all pairs, one ``chunk x chunk`` block at a time (float64 total)."""
    total = a.new_zeros((), dtype=torch.float64)
    a2, b2 = a.pow(2).sum(1), b.pow(2).sum(1)
    for i in range(0, a.shape[0], chunk):
        for j in range(0, b.shape[0], chunk):
            sq = (
                a2[i : i + chunk, None]
                + b2[None, j : j + chunk]
                - 2 * a[i : i + chunk] @ b[j : j + chunk].T
            ).clamp_min(0)
            if same and i == j:
                sq = sq - torch.diag_embed(sq.diagonal())
            total = total + torch.exp(-sq[..., None] * inv2s2).sum().double()
    return total


def mmd2(
    x: Tensor,
    y: Tensor,
    bandwidths: Sequence[float] | Tensor | None = None,
    unbiased: bool = True,
    chunk_size: int = 2048,
    check: bool = True,
) -> Tensor:
    """Squared MMD between samples ``x [m, d]`` and ``y [n, d]``.

    Kernel: ``k(a, b) = sum_s exp(-||a - b||^2 / (2 s^2))`` over ``bandwidths`` (default: the
    median heuristic times :data:`DEFAULT_SCALES`). ``unbiased=True`` gives the U-statistic
    (can be slightly negative; near zero for equal distributions), else the V-statistic.
    Memory is one ``chunk_size x chunk_size`` block at a time; differentiable in x and y.
    ``check=False`` skips the input checks, which synchronise with the host (for training
    loops on a GPU that feed the model's own features).
    """
    if check:
        _check(x, y, 2 if unbiased else 1)
    if x.shape[0] + y.shape[0] <= min(chunk_size, _FUSED_MAX):
        return _mmd2_fused(x, y, bandwidths, unbiased)
    if bandwidths is None:
        bw = median_bandwidths(x, y)  # positive by construction
    else:
        bw = _given_bandwidths(bandwidths)
    bw = bw.to(device=x.device, dtype=x.dtype).reshape(-1)
    inv2s2 = 1.0 / (2 * bw**2)
    m, n, nb = x.shape[0], y.shape[0], bw.numel()
    kxx = _kernel_sum(x, x, inv2s2, True, chunk_size)
    kyy = _kernel_sum(y, y, inv2s2, True, chunk_size)
    kxy = _kernel_sum(x, y, inv2s2, False, chunk_size)
    if unbiased:
        value = (kxx - m * nb) / (m * (m - 1)) + (kyy - n * nb) / (n * (n - 1)) - 2 * kxy / (m * n)
    else:
        value = kxx / m**2 + kyy / n**2 - 2 * kxy / (m * n)
    return value.to(x.dtype)

"""k-center greedy selection (the coreset strategy of Sener and Savarese), chunked."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from cibr_lab.al.validation import as_features, as_mask, check_budget


def sq_norms(x: Tensor) -> Tensor:
    """Squared row norms ``[N]`` of ``x [N, D]`` without an ``[N, D]`` temporary."""
    return torch.linalg.vector_norm(x, dim=1).pow(2)


def min_sq_dist_to(x: Tensor, centers: Tensor, chunk_size: int = 2048) -> Tensor:
    """Squared distance from every row of ``x [N, D]`` to its nearest row of ``centers [M, D]``.

    Memory: one ``chunk_size x chunk_size`` block of distances at a time. Returns ``[N]``.
    """
    out = x.new_full((x.shape[0],), float("inf"))
    if centers.shape[0] == 0:
        return out
    x2, c2 = sq_norms(x), sq_norms(centers)
    for i in range(0, x.shape[0], chunk_size):
        rows = slice(i, i + chunk_size)
        for j in range(0, centers.shape[0], chunk_size):
            cols = slice(j, j + chunk_size)
            d = x2[rows, None] + c2[None, cols] - 2 * (x[rows] @ centers[cols].T)
            out[rows] = torch.minimum(out[rows], d.clamp_min(0).min(1).values)
    return out


def kcenter_greedy(
    features: Tensor | np.ndarray,
    labeled_mask: Tensor | np.ndarray,
    budget: int,
    chunk_size: int = 2048,
) -> Tensor:
    """Greedy k-center selection of ``budget`` unlabelled points.

    Parameters
    ----------
    features : ``[N, D]`` float features of the whole pool (labelled and unlabelled).
    labeled_mask : ``[N]`` bool, True for points already labelled (the initial centers).
    budget : number of points to pick among the unlabelled ones.
    chunk_size : rows per distance block when measuring distances to the labelled set.

    Returns
    -------
    ``[budget]`` int64 pool indices in selection order, on the features' device. Each pick is
    the unlabelled point farthest (Euclidean) from its nearest center; ties go to the lowest
    index. With no labelled point, the first pick is the point farthest from the pool mean.
    Time ``O(N (L + budget) D)``, memory ``O(N + chunk_size^2)``; never an ``N x N`` matrix.
    """
    x = as_features(features)
    mask = as_mask(labeled_mask, x.shape[0], x.device)
    check_budget(budget, int((~mask).sum()))
    if mask.any():
        min_d = min_sq_dist_to(x, x[mask], chunk_size)
    else:
        mean = x.mean(0)
        min_d = sq_norms(x) - 2 * (x @ mean) + mean @ mean
    return farthest_first(x, min_d, mask, budget)


def farthest_first(x: Tensor, min_d: Tensor, blocked: Tensor, budget: int) -> Tensor:
    """The greedy loop of :func:`kcenter_greedy`, without input checks or host syncs.

    ``x [N, D]`` features, ``min_d [N]`` squared distances to the nearest center so far,
    ``blocked [N]`` bool (never picked; not modified). Returns ``[budget]`` int64 indices; each
    pick is the unblocked point of largest ``min_d`` (lowest index on ties), which then becomes
    a center. Indices stay 1-element tensors: indexing with a 0-dim tensor reads it on the host.
    """
    blocked = blocked.clone()
    x2 = sq_norms(x)
    chosen = torch.empty(budget, dtype=torch.long, device=x.device)
    for k in range(budget):
        idx = min_d.masked_fill(blocked, -float("inf")).argmax().reshape(1)
        chosen[k : k + 1] = idx
        blocked.index_fill_(0, idx, True)
        d = (x2 + x2.index_select(0, idx) - 2 * (x @ x.index_select(0, idx)[0])).clamp_min(0)
        min_d = torch.minimum(min_d, d)
    return chosen

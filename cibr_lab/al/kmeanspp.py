"""k-means++ seeding on last-layer gradient embeddings (BADGE), in closed form.

For cross-entropy with the predicted label ``y = argmax p`` as target, the gradient of the loss
with respect to the last linear layer's weight ``W [C, D]`` is the outer product
``g = (p - e_y) h^T`` of the probability residual ``a = p - e_y [C]`` and the penultimate
features ``h [D]``. Inner products of such embeddings factorise:
``<g_i, g_j> = <a_i, a_j> <h_i, h_j>``, so squared distances need only ``O(C + D)`` work per
pair and the ``[N, C * D]`` embedding matrix is never built.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from cibr_lab.al.kcenter import sq_norms
from cibr_lab.al.validation import as_features, check_budget


def probability_residual(probs: Tensor) -> Tensor:
    """``a = p - onehot(argmax p)`` for ``probs [N, C]``: the loss gradient at the logits."""
    onehot = torch.nn.functional.one_hot(probs.argmax(1), probs.shape[1]).to(probs.dtype)
    return probs - onehot


def gradient_embedding(probs: Tensor, features: Tensor) -> Tensor:
    """Materialised gradient embeddings ``[N, C * D]`` (row-major ``a_c h_d``); small N only."""
    a = probability_residual(probs)
    return (a[:, :, None] * features[:, None, :]).reshape(a.shape[0], -1)


def _check_pair(probs: Tensor | np.ndarray, features: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
    p = as_features(probs, "probs")
    h = as_features(features, "features").to(device=p.device)
    if p.shape[0] != h.shape[0]:
        raise ValueError(f"probs has {p.shape[0]} rows but features has {h.shape[0]}")
    return p.to(h.dtype), h


def badge_kmeanspp(
    probs: Tensor | np.ndarray,
    features: Tensor | np.ndarray,
    budget: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """k-means++ seeding of ``budget`` points on gradient embeddings.

    Parameters
    ----------
    probs : ``[N, C]`` predicted class probabilities of the unlabelled candidates.
    features : ``[N, D]`` penultimate features of the same candidates.
    budget : number of points to pick.
    generator : CPU generator for the ``D^2`` sampling (all uniforms are drawn up front).

    Returns
    -------
    ``[budget]`` int64 candidate indices in selection order. The first pick is the largest
    gradient norm (as in BADGE); each later pick is drawn with probability proportional to the
    squared distance to the nearest pick so far (inverse-CDF sampling in float64). Time
    ``O(N budget (C + D))``, memory ``O(N (C + D))``.
    """
    p, h = _check_pair(probs, features)
    check_budget(budget, p.shape[0])
    uniforms = torch.rand(budget, generator=generator, dtype=torch.float64)
    return d2_seeding(probability_residual(p), h, uniforms.to(h.device, non_blocking=True))


def d2_seeding(a: Tensor, h: Tensor, uniforms: Tensor) -> Tensor:
    """The loop of :func:`badge_kmeanspp`, without input checks or host syncs.

    ``a [N, C]`` probability residuals, ``h [N, D]`` features, ``uniforms [budget]`` float64
    draws in [0, 1) on their device (``uniforms[0]`` is unused: the first pick is the largest
    norm). Returns ``[budget]`` int64 indices. Indices stay 1-element tensors: indexing with a
    0-dim tensor reads it on the host.
    """
    budget = uniforms.shape[0]
    norms = sq_norms(a) * sq_norms(h)
    chosen = torch.empty(budget, dtype=torch.long, device=h.device)
    taken = torch.zeros(a.shape[0], dtype=torch.bool, device=h.device)
    idx = norms.argmax().reshape(1)
    min_d = torch.full_like(norms, float("inf"))
    for k in range(budget):
        chosen[k : k + 1] = idx
        taken.index_fill_(0, idx, True)
        a_k, h_k = a.index_select(0, idx)[0], h.index_select(0, idx)[0]
        d = (norms + norms.index_select(0, idx) - 2 * (a @ a_k) * (h @ h_k)).clamp_min(0)
        min_d = torch.minimum(min_d, d).masked_fill(taken, 0)
        if k + 1 < budget:
            idx = _d2_sample(min_d, taken, uniforms[k + 1])
    return chosen


def _d2_sample(min_d: Tensor, taken: Tensor, u: Tensor) -> Tensor:
    """A ``[1]`` index drawn with probability proportional to ``min_d`` (uniform over the
    untaken points if all are 0)."""
    w = min_d.double()
    total = w.sum()
    w = torch.where(total > 0, w, (~taken).double())
    cdf = w.cumsum(0)
    idx = torch.searchsorted(cdf, (u * cdf[-1]).reshape(1), right=True)
    return idx.clamp_max(w.shape[0] - 1)

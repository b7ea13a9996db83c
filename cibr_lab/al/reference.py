"""Naive reference selections that build the full ``N x N`` distance matrix.

They exist to check the chunked routines (tests) and to measure what chunking saves
(``benchmarks/bench_al.py``); do not use them on large pools.
"""

from __future__ import annotations

import torch
from torch import Tensor

from cibr_lab.al.kmeanspp import _d2_sample, gradient_embedding


def _full_sq_dist(x: Tensor) -> Tensor:
    return torch.cdist(x, x).pow(2)


def naive_kcenter_greedy(features: Tensor, labeled_mask: Tensor, budget: int) -> Tensor:
    """k-center greedy on a full distance matrix; same contract as ``kcenter_greedy``."""
    d = _full_sq_dist(features)
    if labeled_mask.any():
        min_d = d[:, labeled_mask].min(1).values
    else:
        min_d = (features - features.mean(0, keepdim=True)).pow(2).sum(1)
    blocked = labeled_mask.clone()
    chosen = []
    for _ in range(budget):
        idx = int(min_d.masked_fill(blocked, -float("inf")).argmax())
        chosen.append(idx)
        blocked[idx] = True
        min_d = torch.minimum(min_d, d[:, idx])
    return torch.tensor(chosen, dtype=torch.long)


def naive_badge_kmeanspp(
    probs: Tensor, features: Tensor, budget: int, generator: torch.Generator | None = None
) -> Tensor:
    """k-means++ on materialised gradient embeddings and their full distance matrix."""
    g = gradient_embedding(probs, features)
    d = _full_sq_dist(g)
    uniforms = torch.rand(budget, generator=generator, dtype=torch.float64)
    taken = torch.zeros(g.shape[0], dtype=torch.bool)
    idx = int(g.pow(2).sum(1).argmax())
    min_d = torch.full((g.shape[0],), float("inf"), dtype=g.dtype)
    chosen = []
    for k in range(budget):
        chosen.append(idx)
        taken[idx] = True
        min_d = torch.minimum(min_d, d[:, idx]).masked_fill(taken, 0)
        if k + 1 < budget:
            idx = int(_d2_sample(min_d, taken, uniforms[k + 1]))
    return torch.tensor(chosen, dtype=torch.long)

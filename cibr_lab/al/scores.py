"""Uncertainty scores from predicted probabilities (higher = more wanted for labelling).

``probs`` is ``[N, C]`` (rows sum to 1); ``samples`` is ``[T, N, C]`` (T posterior samples:
MC-dropout passes or trajectory snapshots). Entropies are in nats.
"""

from __future__ import annotations

from torch import Tensor


def entropy(probs: Tensor) -> Tensor:
    """Predictive entropy ``-sum_c p_c log p_c``, ``[N]``."""
    return -(probs * probs.clamp_min(1e-12).log()).sum(-1)


def least_confidence(probs: Tensor) -> Tensor:
    """``1 - max_c p_c``, ``[N]``."""
    return 1 - probs.max(-1).values


def margin(probs: Tensor) -> Tensor:
    """Negative gap between the two largest probabilities, ``-(p_(1) - p_(2))``, ``[N]``."""
    top2 = probs.topk(2, dim=-1).values
    return top2[..., 1] - top2[..., 0]


def mean_entropy(samples: Tensor) -> Tensor:
    """Entropy of the sample-mean prediction, ``H[mean_t p_t]``, ``[N]``."""
    return entropy(samples.mean(0))


def bald(samples: Tensor) -> Tensor:
    """Mutual information between label and sample: ``H[mean_t p_t] - mean_t H[p_t]``, ``[N]``."""
    return mean_entropy(samples) - entropy(samples).mean(0)

"""Variational lower bounds on mutual information from a critic's score matrix.

Convention for every function here: ``scores[..., i, j] = T(x_i, y_j)`` for a batch of N
paired samples, so the diagonal holds the N joint (positive) pairs and the off-diagonal the
N(N-1) pairs drawn from the product of marginals. Leading dimensions are independent problems
(one value each). All values are in nats.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from cibr_lab.errors import ConfigError
from cibr_lab.info.matrix import off_diagonal


def check_score_shape(scores: Tensor) -> Tensor:
    """Validate the shape of ``[..., N, N]`` score matrices with N >= 2 (no host sync)."""
    if scores.ndim < 2 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(f"scores must be square N x N matrices, got shape {tuple(scores.shape)}")
    if scores.shape[-1] < 2:
        raise ValueError("scores need a batch of at least 2 pairs")
    return scores


def check_scores(scores: Tensor) -> Tensor:
    """Validate finite ``[..., N, N]`` score matrices with N >= 2 (one host sync)."""
    check_score_shape(scores)
    if not torch.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinite values")
    return scores


def marginal_log_mean_exp(scores: Tensor) -> Tensor:
    """``log mean_{i != j} exp(scores[..., i, j])`` over the N(N-1) marginal pairs, ``[...]``."""
    n = scores.shape[-1]
    return torch.logsumexp(off_diagonal(scores), -1) - math.log(n * (n - 1))


def _split(scores: Tensor) -> tuple[Tensor, Tensor]:
    """Joint scores ``[..., N]`` and the log-mean-exp of the marginal scores ``[...]``."""
    return scores.diagonal(dim1=-2, dim2=-1), marginal_log_mean_exp(scores)


def infonce(scores: Tensor) -> Tensor:
    """InfoNCE bound: ``log N - CE(rows)``; it can never exceed ``log N``."""
    check_scores(scores)
    joint = scores.diagonal(dim1=-2, dim2=-1)
    return (joint - torch.logsumexp(scores, dim=-1)).mean(-1) + math.log(scores.shape[-1])


def infonce_floor(joint_log_ratio: Tensor, n: int) -> Tensor:
    """Lower bound on the *expected* InfoNCE estimate with the optimal critic, batch ``n``.

    ``joint_log_ratio [..., M]`` holds ``log r = log p(x, y) / (p(x) p(y))`` of M joint
    samples. With the optimal critic the other ``n - 1`` scores of a row are ``r(x, y_j)``
    with ``E[r(x, y_j) | x] = 1``; ``log(1 + S / r)`` is concave in their sum S, so by Jensen
    ``E[InfoNCE] >= E_p[log n - log(1 + (n - 1) / r)]``. Returns that value, ``[...]``, nats.
    """
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    return (math.log(n) - F.softplus(math.log(n - 1) - joint_log_ratio)).mean(-1)


def nwj(scores: Tensor) -> Tensor:
    """NWJ (f-divergence) bound: ``E_p[T] - e^{-1} E_q[e^T]``; unbiased, high variance."""
    joint, log_mean_exp = _split(check_scores(scores))
    return joint.mean(-1) - torch.exp(log_mean_exp - 1)


def donsker_varadhan(scores: Tensor) -> Tensor:
    """Donsker-Varadhan bound: ``E_p[T] - log E_q[e^T]`` (the bound MINE maximises)."""
    joint, log_mean_exp = _split(check_scores(scores))
    return joint.mean(-1) - log_mean_exp


class MineObjective:
    """MINE's training objective with the moving-average gradient correction.

    The gradient of ``log E_q[e^T]`` is ``grad E_q[e^T] / E_q[e^T]``; a mini-batch estimate of
    the denominator biases it, so MINE replaces the denominator by an exponential moving
    average. Calling the object returns ``(dv_estimate, loss)``: the Donsker-Varadhan value
    to report, and a surrogate loss whose gradient is the corrected one.

    It runs inside training loops, so it never waits for the GPU: shapes are checked, but a
    score matrix with NaN or infinite entries gives NaN for both values (and leaves an existing
    moving average as it was) instead of raising.
    """

    def __init__(self, ema_rate: float = 0.01) -> None:
        if not 0.0 < ema_rate <= 1.0:
            raise ValueError(f"ema_rate must lie in (0, 1], got {ema_rate}")
        self.ema_rate = ema_rate
        self.log_ema: Tensor | None = None

    def __call__(self, scores: Tensor) -> tuple[Tensor, Tensor]:
        joint, log_mean_exp = _split(check_score_shape(scores))
        finite = torch.isfinite(scores).all()
        batch = log_mean_exp.detach()
        if self.log_ema is None:
            self.log_ema = batch
        else:
            # the weights as Python numbers rounded like tensors of the scores' dtype: exact,
            # and no host-to-device copy
            rate = torch.tensor(self.ema_rate, dtype=batch.dtype)
            keep, new = torch.log1p(-rate).item(), torch.log(rate).item()
            updated = torch.logaddexp(keep + self.log_ema, new + batch)
            self.log_ema = torch.where(finite, updated, self.log_ema)
        surrogate = joint.mean(-1) - torch.exp(log_mean_exp - self.log_ema)
        nan = torch.full_like(batch, torch.nan)
        estimate = torch.where(finite, joint.mean(-1).detach() - batch, nan)
        return estimate, torch.where(finite, -surrogate, nan)


class _PlainObjective:
    def __init__(self, bound) -> None:
        self.bound = bound

    def __call__(self, scores: Tensor) -> tuple[Tensor, Tensor]:
        value = self.bound(scores)
        return value.detach(), -value


OBJECTIVES = {
    "infonce": lambda **kw: _PlainObjective(infonce),
    "nwj": lambda **kw: _PlainObjective(nwj),
    "dv": lambda **kw: _PlainObjective(donsker_varadhan),
    "mine": lambda **kw: MineObjective(**kw),
}


def get_objective(name: str, **params):
    """A training objective by name: a callable ``scores -> (estimate, loss)``."""
    if name not in OBJECTIVES:
        raise ConfigError(
            f"unknown MI estimator {name!r}; valid estimators: {', '.join(OBJECTIVES)}"
        )
    return OBJECTIVES[name](**params)

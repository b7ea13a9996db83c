"""Each host sync removed from a training or scoring loop keeps the old values exactly.

The old formulas (boolean masks, tensor indices, host-side checks) are restated here as the
references; ``torch.equal`` asks for bitwise equality.
"""

from __future__ import annotations

import math

import pytest
import torch

from cibr_lab.al.kcenter import farthest_first, sq_norms
from cibr_lab.al.kmeanspp import _d2_sample, d2_seeding, probability_residual
from cibr_lab.info import MineObjective, median_bandwidths
from cibr_lab.info.bounds import marginal_log_mean_exp
from cibr_lab.info.matrix import off_diagonal
from cibr_lab.ood.models import small_cnn
from cibr_lab.ood.registry import get_scorer


def _eye_mask(n: int) -> torch.Tensor:
    return ~torch.eye(n, dtype=torch.bool)


@pytest.mark.parametrize("shape", [(2, 2), (7, 7), (3, 5, 5), (2, 3, 2, 2)])
def test_off_diagonal_equals_the_boolean_mask(shape):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    n = shape[-1]
    assert torch.equal(off_diagonal(x), x[..., _eye_mask(n)])
    t = x.transpose(-1, -2)  # non-contiguous input
    assert torch.equal(off_diagonal(t), t[..., _eye_mask(n)])


def test_marginal_term_equals_the_old_mine_helper():
    scores = torch.randn(9, 9, generator=torch.Generator().manual_seed(1)) * 5
    old = torch.logsumexp(scores[_eye_mask(9)], 0) - math.log(9 * 8)
    assert torch.equal(marginal_log_mean_exp(scores), old)


class _OldMineObjective:
    """MINE's objective before the change: a host-side finiteness check and a boolean mask."""

    def __init__(self, ema_rate: float) -> None:
        self.ema_rate, self.log_ema = ema_rate, None

    def __call__(self, scores):
        if not torch.isfinite(scores).all():
            raise ValueError("scores contain NaN or infinite values")
        n = scores.shape[-1]
        joint = scores.diagonal(dim1=-2, dim2=-1)
        log_mean_exp = torch.logsumexp(scores[..., _eye_mask(n)], -1) - math.log(n * (n - 1))
        batch = log_mean_exp.detach()
        if self.log_ema is None:
            self.log_ema = batch
        else:
            rate = torch.as_tensor(self.ema_rate, dtype=batch.dtype, device=batch.device)
            self.log_ema = torch.logaddexp(
                torch.log1p(-rate) + self.log_ema, torch.log(rate) + batch
            )
        surrogate = joint.mean(-1) - torch.exp(log_mean_exp - self.log_ema)
        return joint.mean(-1).detach() - batch, -surrogate


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mine_objective_equals_the_old_formula_and_its_gradient(dtype):
    gen = torch.Generator().manual_seed(2)
    new, old = MineObjective(ema_rate=0.3), _OldMineObjective(ema_rate=0.3)
    for _ in range(4):  # first call seeds the moving average, the others update it
        base = torch.randn(6, 6, generator=gen, dtype=dtype) * 3
        a, b = base.clone().requires_grad_(), base.clone().requires_grad_()
        (est_new, loss_new), (est_old, loss_old) = new(a), old(b)
        assert torch.equal(est_new, est_old) and torch.equal(loss_new, loss_old)
        assert torch.equal(new.log_ema, old.log_ema)
        loss_new.backward(), loss_old.backward()
        assert torch.equal(a.grad, b.grad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_mine_objective_marks_non_finite_scores_nan_instead_of_raising(bad):
    gen = torch.Generator().manual_seed(3)
    objective = MineObjective(ema_rate=0.5)
    objective(torch.randn(5, 5, generator=gen))
    ema = objective.log_ema.clone()
    scores = torch.randn(5, 5, generator=gen)
    scores[1, 3] = bad  # an off-diagonal entry: -inf alone would leave the value finite
    with pytest.raises(ValueError, match="NaN or infinite"):
        _OldMineObjective(0.5)(scores)  # the old branch raised (one host sync per call)
    estimate, loss = objective(scores)
    assert torch.isnan(estimate) and torch.isnan(loss)
    assert torch.equal(objective.log_ema, ema)  # one bad batch leaves the average alone


def _old_median_bandwidths(x, y, scales=(0.25, 0.5, 1.0, 2.0, 4.0), max_points=1024):
    pool = torch.cat([x, y]).detach()
    if pool.shape[0] > max_points:
        idx = torch.linspace(0, pool.shape[0] - 1, max_points, device=pool.device).long()
        pool = pool[idx]
    d = torch.cdist(pool.float(), pool.float())
    off = d[~torch.eye(d.shape[0], dtype=torch.bool, device=d.device)]
    med = off.median().clamp_min(1e-12)
    return med * torch.as_tensor(scales, dtype=med.dtype, device=med.device)


@pytest.mark.parametrize("n, max_points", [(10, 1024), (40, 16)])
def test_median_bandwidths_equal_the_old_formula(n, max_points):
    gen = torch.Generator().manual_seed(4)
    x, y = torch.randn(n, 3, generator=gen), torch.randn(n + 3, 3, generator=gen) + 1
    got = median_bandwidths(x, y, max_points=max_points)
    assert torch.equal(got, _old_median_bandwidths(x, y, max_points=max_points))


def test_farthest_first_equals_the_old_loop_with_tensor_indices():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(30, 4, generator=gen)
    blocked = torch.zeros(30, dtype=torch.bool)
    blocked[:3] = True
    min_d = torch.cdist(x, x[:3]).pow(2).min(1).values
    # the old loop: 0-dim index tensors (each use reads the index on the host)
    old_blocked, old_min, x2 = blocked.clone(), min_d.clone(), sq_norms(x)
    old = torch.empty(8, dtype=torch.long)
    for k in range(8):
        idx = old_min.masked_fill(old_blocked, -float("inf")).argmax()
        old[k] = idx
        old_blocked[idx] = True
        old_min = torch.minimum(old_min, (x2 + x2[idx] - 2 * (x @ x[idx])).clamp_min(0))
    assert torch.equal(farthest_first(x, min_d, blocked, 8), old)
    assert not blocked[3:].any()  # the caller's mask is not modified


def test_d2_seeding_equals_the_old_loop_with_tensor_indices():
    gen = torch.Generator().manual_seed(6)
    probs = torch.randn(25, 4, generator=gen).softmax(1)
    h = torch.randn(25, 6, generator=gen)
    uniforms = torch.rand(7, generator=gen, dtype=torch.float64)
    a = probability_residual(probs)
    norms = sq_norms(a) * sq_norms(h)
    old = torch.empty(7, dtype=torch.long)
    taken = torch.zeros(25, dtype=torch.bool)
    idx, min_d = norms.argmax(), torch.full_like(norms, float("inf"))
    for k in range(7):
        old[k] = idx
        taken[idx] = True
        d = (norms + norms[idx] - 2 * (a @ a[idx]) * (h @ h[idx])).clamp_min(0)
        min_d = torch.minimum(min_d, d).masked_fill(taken, 0)
        if k + 1 < 7:
            idx = _d2_sample(min_d, taken, uniforms[k + 1])[0]
    assert torch.equal(d2_seeding(a, h, uniforms), old)


def test_score_inputs_gathers_on_the_device_with_the_same_values():
    torch.manual_seed(7)
    model = small_cnn(num_classes=3, width=4, feature_dim=8).eval()
    x = torch.randn(10, 1, 28, 28, generator=torch.Generator().manual_seed(7))
    scorer = get_scorer("odin")
    # the old loop moved each batch's scores to the CPU inside the loop
    old = torch.cat([scorer.score_batch(model, b).cpu() for b in x.split(3)])
    assert torch.equal(scorer.score_inputs(model, x, batch_size=3), old)

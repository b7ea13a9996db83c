"""MI bounds against closed forms: InfoNCE's log N cap, DV/NWJ/MINE near the true MI."""

from __future__ import annotations

import math

import pytest
import torch

from cibr_lab.info import (
    MineObjective,
    donsker_varadhan,
    gaussian_log_ratio,
    gaussian_mi,
    gaussian_pair_log_ratio,
    get_objective,
    infonce,
    infonce_floor,
    nwj,
    rho_for_mi,
    sample_correlated,
)
from cibr_lab.info.critics import SeparableCritic, fit_critic


@pytest.mark.parametrize("n", [2, 7, 64])
def test_infonce_never_exceeds_log_n(n):
    gen = torch.Generator().manual_seed(n)
    for scale in (0.1, 10.0, 1e3):
        scores = scale * torch.randn(n, n, generator=gen)
        scores.diagonal().add_(scale * 5)  # very confident positives
        assert infonce(scores) <= math.log(n) + 1e-6


def test_infonce_equals_log_n_minus_cross_entropy():
    scores = torch.randn(16, 16, generator=torch.Generator().manual_seed(0))
    ce = torch.nn.functional.cross_entropy(scores, torch.arange(16))
    assert torch.allclose(infonce(scores), math.log(16) - ce, atol=1e-6)


def _optimal(mi, n, dim=2, seed=0):
    rho = rho_for_mi(mi, dim)
    x, y = sample_correlated(n, dim, rho, torch.Generator().manual_seed(seed))
    return gaussian_log_ratio(x.double(), y.double(), rho)


def test_infonce_close_to_true_mi_well_below_log_n():
    est = torch.stack([infonce(_optimal(0.5, 1024, seed=s)) for s in range(8)]).mean()
    assert abs(float(est) - 0.5) < 0.03


def test_infonce_saturates_at_log_n_for_large_mi():
    est = torch.stack([infonce(_optimal(12.0, 64, dim=4, seed=s)) for s in range(4)]).mean()
    assert math.log(64) - 0.5 < float(est) <= math.log(64)


@pytest.mark.parametrize("mi", [0.5, 1.5])
def test_dv_and_nwj_with_optimal_critic_match_true_mi(mi):
    scores = _optimal(mi, 2048, seed=1)
    assert abs(float(donsker_varadhan(scores)) - mi) < 0.06
    # NWJ is tight at T = log ratio + 1
    assert abs(float(nwj(scores + 1.0)) - mi) < 0.06


def test_gaussian_mi_closed_form_and_inverse():
    assert float(gaussian_mi(0.0)) == 0.0
    assert math.isclose(float(gaussian_mi(0.8, dim=3)), -1.5 * math.log(1 - 0.64), rel_tol=1e-12)
    assert math.isclose(float(gaussian_mi(rho_for_mi(2.7, 5), 5)), 2.7, rel_tol=1e-9)
    with pytest.raises(ValueError, match="correlation"):
        gaussian_mi(1.0)
    with pytest.raises(ValueError, match="non-negative"):
        rho_for_mi(-1.0)


def test_mine_gradient_uses_moving_average_denominator():
    obj = MineObjective(ema_rate=0.5)
    t = torch.randn(8, 8, generator=torch.Generator().manual_seed(0))
    obj(t)  # initialise the average
    ema_before = float(obj.log_ema.exp())
    scores = t.clone().requires_grad_(True)
    _, loss = obj(scores)
    loss.backward()
    off = ~torch.eye(8, dtype=torch.bool)
    batch_mean = float(t[off].exp().mean())
    ema_after = 0.5 * ema_before + 0.5 * batch_mean
    expected = torch.zeros(8, 8)
    expected.diagonal().fill_(-1 / 8)
    expected[off] = t[off].exp() / off.sum() / ema_after
    assert torch.allclose(scores.grad, expected, atol=1e-6)


def test_trained_grouped_critic_estimates_true_mi_for_every_estimator():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    names, mi = ["mine", "nwj", "infonce"], 1.0
    rhos = torch.full((3,), rho_for_mi(mi, 1))
    sample = lambda n: sample_correlated(n, 1, rhos, gen)
    critic = SeparableCritic(1, 1, hidden=32, embed=8, groups=3)
    objectives = [get_objective(n) for n in names]
    trace = fit_critic(critic, objectives, sample, steps=400, batch_size=256, lr=3e-3)
    assert trace.shape == (400, 3)
    with torch.no_grad():
        scores = torch.stack([critic(*sample(512)) for _ in range(10)], 1)
    for k, name in enumerate(names):
        estimate = get_objective(name)(scores[k])[0].mean()
        assert abs(float(estimate) - mi) < 0.2, name


def test_grouped_critic_groups_are_independent_networks():
    critic = SeparableCritic(2, 3, hidden=8, embed=4, groups=2)
    x, y = torch.randn(2, 5, 2), torch.randn(2, 5, 3)
    scores = critic(x, y)
    assert scores.shape == (2, 5, 5)
    (scores[0].sum()).backward()
    assert critic.g.weights[0].grad[1].abs().sum() == 0  # group 1 untouched by group 0's loss
    single = SeparableCritic(2, 3, hidden=8, embed=4)
    assert single(x[0], y[0]).shape == (5, 5)


def test_batched_bounds_equal_per_problem_bounds():
    scores = torch.randn(4, 6, 6, generator=torch.Generator().manual_seed(0))
    for bound in (infonce, nwj, donsker_varadhan):
        batched = bound(scores)
        assert torch.allclose(batched, torch.stack([bound(s) for s in scores]))


def test_bad_scores_and_names_are_clear_errors():
    with pytest.raises(ValueError, match="square"):
        infonce(torch.randn(3, 4))
    with pytest.raises(ValueError, match="at least 2"):
        nwj(torch.randn(1, 1))
    bad = torch.randn(4, 4)
    bad[0, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        donsker_varadhan(bad)
    with pytest.raises(KeyError, match="valid estimators: infonce, nwj, dv, mine"):
        get_objective("jsd")
    with pytest.raises(ValueError, match="ema_rate"):
        MineObjective(ema_rate=0.0)


def test_infonce_floor_closed_form_for_a_constant_ratio():
    log_r = torch.full((5,), 2.0, dtype=torch.float64)
    expected = math.log(8) - math.log(1 + 7 * math.exp(-2.0))
    assert math.isclose(float(infonce_floor(log_r, 8)), expected, rel_tol=1e-12)
    with pytest.raises(ValueError, match="n must be at least 2, got 1"):
        infonce_floor(log_r, 1)


@pytest.mark.parametrize(("mi", "n"), [(0.5, 16), (2.0, 16), (4.0, 64), (8.0, 16)])
def test_optimal_critic_infonce_lies_between_its_floor_and_min_of_mi_and_log_n(mi, n):
    dim, rho = 2, rho_for_mi(mi, 2)
    gen = torch.Generator().manual_seed(7)
    x, y = sample_correlated(n, dim, torch.full((400,), rho), gen)
    est = infonce(gaussian_log_ratio(x.double(), y.double(), rho))
    se = float(est.std()) / math.sqrt(est.numel())
    xs, ys = sample_correlated(200_000, dim, rho, gen)
    floor = float(infonce_floor(gaussian_pair_log_ratio(xs.double(), ys.double(), rho), n))
    assert floor - 3 * se <= float(est.mean()) <= min(mi, math.log(n)) + 3 * se
    assert floor < min(mi, math.log(n))

"""Exact information terms: discrete tables and linear-Gaussian encoders."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import MultivariateNormal

from cibr_lab.experiments.implicit_ib import toy_covariance
from cibr_lab.info import (
    ceb_bound,
    ceb_bound_gap,
    conditional_mutual_information,
    entropy,
    linear_encoder_terms,
    mutual_information,
)


def test_entropy_and_mi_of_simple_tables():
    assert math.isclose(float(entropy(torch.full((4,), 0.25))), math.log(4))
    independent = torch.outer(
        torch.tensor([0.3, 0.7], dtype=torch.float64),
        torch.tensor([0.5, 0.2, 0.3], dtype=torch.float64),
    )
    assert abs(float(mutual_information(independent))) < 1e-12
    copy = torch.diag(torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64))
    assert math.isclose(float(mutual_information(copy)), float(entropy(copy.diagonal())))


def test_chain_rule_holds_on_a_random_table():
    p = torch.rand(3, 4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    p /= p.sum()
    # I(X; Y, Z) = I(X; Z) + I(X; Y | Z)
    lhs = mutual_information(p.reshape(3, 8))
    rhs = mutual_information(p.sum(1)) + conditional_mutual_information(p)
    assert abs(float(lhs - rhs)) < 1e-12


def test_tables_are_validated():
    with pytest.raises(ValueError, match="sum to 1"):
        entropy(torch.tensor([0.5, 0.6]))
    with pytest.raises(ValueError, match="non-negative"):
        mutual_information(torch.tensor([[1.2, -0.2], [0.0, 0.0]]))


def test_linear_encoder_terms_match_scalar_closed_form():
    r, w, s = 0.6, 1.7, 0.8
    cov = torch.tensor([[1.0, r], [r, 1.0]], dtype=torch.float64)
    terms = linear_encoder_terms(
        torch.tensor([[w]], dtype=torch.float64), torch.eye(1, dtype=torch.float64), cov, s
    )
    assert math.isclose(terms["compression"], 0.5 * math.log(1 + w**2 / s**2), rel_tol=1e-9)
    relevance = 0.5 * math.log((w**2 + s**2) / (w**2 * (1 - r**2) + s**2))
    assert math.isclose(terms["relevance"], relevance, rel_tol=1e-9)
    assert math.isclose(
        terms["compression"], terms["relevance"] + terms["redundancy"], rel_tol=1e-9
    )
    # data processing: I(Z_v; X_t) >= I(Z_v; Z_t)
    assert terms["shared"] <= terms["relevance"] + 1e-12


def test_linear_encoder_terms_reject_bad_covariance():
    with pytest.raises(ValueError, match="cov must be square"):
        linear_encoder_terms(torch.ones(1, 2), torch.ones(1, 2), torch.eye(3), 1.0)


def _toy_weights(seed=0, p=3):
    gen = torch.Generator().manual_seed(seed)
    cov = toy_covariance(shared=2, nuisance=3, signal_noise=0.5, nuisance_scale=1.5)
    w_v = torch.randn(p, 5, generator=gen, dtype=torch.float64) / 2
    w_t = torch.randn(p, 5, generator=gen, dtype=torch.float64) / 2
    return w_v, w_t, cov


@pytest.mark.parametrize("with_backward", [False, True])
def test_ceb_bound_is_exact_redundancy_plus_gap(with_backward):
    w_v, w_t, cov = _toy_weights()
    g = torch.randn(3, 3, generator=torch.Generator().manual_seed(1)) if with_backward else None
    exact = linear_encoder_terms(w_v, w_t, cov, 0.7)["redundancy"]
    bound, gap = ceb_bound(w_v, w_t, cov, 0.7, g), ceb_bound_gap(w_v, w_t, cov, 0.7, g)
    assert gap > 0 and bound > exact
    assert math.isclose(bound, exact + gap, rel_tol=1e-10)


def test_redundancy_and_ceb_bound_match_monte_carlo():
    # I(Z_v; X_v | X_t) = E[log e(z | x_v) - log p(z | x_t)], both Gaussian densities known
    w_v, w_t, cov = _toy_weights(seed=2)
    s, m = 0.8, 200_000
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(m, 10, generator=gen, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    x_v, x_t = x[:, :5], x[:, 5:]
    z = x_v @ w_v.T + s * torch.randn(m, 3, generator=gen, dtype=torch.float64)
    gain = torch.linalg.solve(cov[5:, 5:], cov[:5, 5:].T).T
    cond = w_v @ (cov[:5, :5] - gain @ cov[:5, 5:].T) @ w_v.T + s**2 * torch.eye(3)
    encoder = MultivariateNormal(x_v @ w_v.T, s**2 * torch.eye(3, dtype=torch.float64))
    given_text = MultivariateNormal(x_t @ (w_v @ gain).T, cond)
    log_ratio = encoder.log_prob(z) - given_text.log_prob(z)
    exact = linear_encoder_terms(w_v, w_t, cov, s)["redundancy"]
    assert abs(float(log_ratio.mean()) - exact) < 4 * float(log_ratio.std()) / math.sqrt(m)
    penalty = (x_v @ w_v.T - x_t @ w_t.T).pow(2).sum(1) / (2 * s**2)
    bound = ceb_bound(w_v, w_t, cov, s)
    assert abs(float(penalty.mean()) - bound) < 4 * float(penalty.std()) / math.sqrt(m)


def test_ceb_bound_rejects_a_backward_map_of_the_wrong_shape():
    w_v, w_t, cov = _toy_weights()
    with pytest.raises(ValueError, match=r"backward must be \[3, 3\], got \(2, 3\)"):
        ceb_bound(w_v, w_t, cov, 1.0, torch.ones(2, 3))

"""Exact information terms: discrete tables and linear-Gaussian encoders."""

from __future__ import annotations

import math

import pytest
import torch

from cibr_lab.info import (
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

"""The claims engine: four verdicts, the smallest detectable effect, Holm, the paper's value."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cibr_lab.errors import ConfigError
from cibr_lab.results import (
    Claim,
    evaluate_claim,
    evaluate_claims,
    holm,
    load_claims,
    min_detectable_effect,
    t_test,
)


def _records(values, base=None, experiment="e"):
    rows = [
        {"chapter": "c", "experiment": experiment, "seed": s, "metric": "m", "value": v, "lr": 1}
        for s, v in enumerate(values)
    ]
    rows += [
        {"chapter": "c", "experiment": experiment, "seed": s, "metric": "b", "value": v, "lr": 1}
        for s, v in enumerate(base or [])
    ]
    return pd.DataFrame(rows)


def _claim(**kw):
    data = dict(
        id="x",
        paper="P",
        chapter="c",
        claim="m is big",
        source="abstract",
        experiment="e",
        metric="m",
        direction="greater",
        unit="points",
    )
    return Claim.from_dict({**data, **kw})


def test_four_verdicts():
    assert evaluate_claim(_claim(), _records([1.0, 1.1, 0.9]))["verdict"] == "supported"
    straddle = evaluate_claim(_claim(), _records([1.0, -1.0, 0.1]))
    assert straddle["verdict"] == "inconclusive" and "no effect detected" in straddle["detail"]
    opposite = evaluate_claim(_claim(), _records([-1.0, -1.1, -0.9]))
    assert opposite["verdict"] == "contradicted" and "opposite side" in opposite["detail"]
    less = evaluate_claim(_claim(direction="less"), _records([-1.0, -1.1, -0.9]))
    assert less["verdict"] == "supported"
    one = evaluate_claim(_claim(), _records([1.0]))
    assert one["verdict"] == "not testable here" and "at least 2 seeds" in one["detail"]
    marked = evaluate_claim(_claim(testable=False, note="needs ImageNet"), _records([1.0, 2.0]))
    assert marked["verdict"] == "not testable here" and marked["detail"] == "needs ImageNet"
    assert evaluate_claim(_claim(), _records([]))["verdict"] == "not testable here"


def test_verdict_agrees_with_the_interval_for_exploratory_claims():
    rng = np.random.default_rng(0)
    for _ in range(200):
        values = rng.normal(rng.normal(0, 0.5), 1.0, size=rng.integers(2, 12)).tolist()
        out = evaluate_claim(_claim(), _records(values))
        excludes = out["ci_low"] > 0 or out["ci_high"] < 0
        assert (out["verdict"] != "inconclusive") == excludes
        ref = stats.ttest_1samp(values, 0.0).pvalue
        assert math.isclose(out["p"], ref, rel_tol=1e-9)


def test_nan_seeds_are_not_counted():
    out = evaluate_claim(_claim(), _records([1.0, math.nan, 1.2]))
    assert out["n"] == 2 and np.isfinite(out["ci_low"])


def test_paired_baseline_and_filter():
    paired = evaluate_claim(_claim(baseline_metric="b"), _records([1.0, 2.0, 3.0], [0.5, 1.4, 2.6]))
    assert paired["verdict"] == "supported" and math.isclose(paired["estimate"], 0.5)
    assert evaluate_claim(_claim(where={"lr": 2}), _records([1.0, 2.0]))["n"] == 0


def test_mde_matches_the_normal_limit_and_has_80_percent_power():
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert math.isclose(min_detectable_effect(4000, 1.0), z / math.sqrt(4000), rel_tol=2e-3)
    # Simulated power of the t-test at the mde: 80% (n = 5, a small-sample case).
    n, sd = 5, 0.3
    delta = min_detectable_effect(n, sd)
    rng = np.random.default_rng(1)
    sims = rng.normal(delta, sd, size=(20000, n))
    p = stats.ttest_1samp(sims, 0.0, axis=1).pvalue
    assert abs((p < 0.05).mean() - 0.8) < 0.015
    assert min_detectable_effect(3, 0.0) == 0.0 and math.isnan(min_detectable_effect(1, 1.0))
    # Three seeds detect only effects over three times their spread.
    assert min_detectable_effect(3, 1.0) > 3.0


def test_mde_and_sd_are_reported_in_the_claims_units():
    values = [0.01, 0.03, 0.02, 0.05]
    out = evaluate_claim(_claim(), _records(values))
    assert math.isclose(out["sd"], np.std(values, ddof=1))
    assert math.isclose(out["mde"], min_detectable_effect(4, out["sd"]))
    assert out["unit"] == "points"


def test_t_test_edge_cases():
    assert t_test([1.0, 1.0, 1.0], 0.0) == 0.0
    assert t_test([0.0, 0.0], 0.0) == 1.0
    assert math.isnan(t_test([1.0]))


def test_holm_matches_its_definition():
    p = [0.01, 0.04, 0.03, math.nan, 0.2]
    adjusted = holm(p)
    # sorted: 0.01 (x4), 0.03 (x3), 0.04 (x2), 0.2 (x1), monotone
    assert np.allclose(adjusted[[0, 2, 1, 4]], [0.04, 0.09, 0.09, 0.2])
    assert math.isnan(adjusted[3])


def test_primary_claims_are_holm_corrected_per_chapter():
    records = pd.concat(
        [
            _records([0.3, 0.9, 0.1, 0.7, 0.5, 0.05], experiment="e1"),  # p = 0.027
            _records([0.2, 0.9, 0.1, 0.7, 0.5, -0.05], experiment="e2"),  # p = 0.048
        ]
    )
    nominal = evaluate_claim(_claim(experiment="e1"), records)
    assert nominal["verdict"] == "supported" and 0.01 < nominal["p"] < 0.05
    claims = [
        _claim(id="a", experiment="e1", primary=True),
        _claim(id="b", experiment="e2", primary=True),
        _claim(id="c", experiment="e1"),
    ]
    table = evaluate_claims(records, claims).set_index("id")
    assert table.loc["a", "p_holm"] == pytest.approx(2 * table.loc["a", "p"])
    assert table.loc["a", "verdict"] == "inconclusive" and "Holm p" in table.loc["a", "detail"]
    assert table.loc["c", "verdict"] == "supported" and np.isnan(table.loc["c", "p_holm"])
    assert table.loc["c", "role"] == "exploratory" and table.loc["a", "role"] == "primary"


def test_paper_value_is_placed_against_our_interval():
    records = _records([0.10, 0.12, 0.11])
    assert evaluate_claim(_claim(paper_value=0.11), records)["vs_paper"] == "contains"
    assert evaluate_claim(_claim(paper_value=0.18), records)["vs_paper"] == "below"
    assert evaluate_claim(_claim(paper_value=0.01), records)["vs_paper"] == "above"
    assert evaluate_claim(_claim(), records)["vs_paper"] == ""


def test_claim_validation_and_registry():
    with pytest.raises(ConfigError, match="direction"):
        _claim(direction="up")
    with pytest.raises(ConfigError, match="unknown key 'metrik'"):
        Claim.from_dict({"id": "x", "metrik": "m"})
    with pytest.raises(ConfigError, match="claim 'x'.*unit"):
        Claim.from_dict({k: v for k, v in vars(_claim()).items() if k != "unit"})
    claims = load_claims()
    assert len({c.id for c in claims}) == len(claims) > 0
    assert all(c.chapter == "theory" for c in load_claims("theory"))
    primaries = pd.Series([c.chapter for c in claims if c.primary]).value_counts()
    assert set(primaries.index) == {"theory", "al", "cibr", "ood"} and primaries.max() <= 5

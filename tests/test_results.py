"""Atomic records, the tidy table, resume, statistics and the claims registry."""

from __future__ import annotations

import json
import math
import os

import pandas as pd
import pytest
from scipy import stats

from cibr_lab.results import (
    Claim,
    atomic_write_text,
    cached_run,
    evaluate_claim,
    load_claims,
    load_records,
    mean_ci,
    read_record,
    record_path,
    write_record,
)


def test_atomic_write_leaves_old_file_intact_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "a" / "r.json"
    atomic_write_text(path, "old")

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temporary left behind


def test_record_round_trip_and_tidy_table():
    path = write_record(
        "ch",
        "exp",
        profile="smoke",
        seed=3,
        config={"lr": 0.1, "grid": [1, 2]},
        metrics={"acc": 0.9, "loss": 0.2},
        wall_time_s=1.5,
    )
    rec = read_record(path)
    assert rec["seed"] == 3 and rec["metrics"] == {"acc": 0.9, "loss": 0.2}
    assert {"python", "torch", "numpy"} <= set(rec["versions"])
    table = load_records(profile="smoke")
    assert sorted(table["metric"]) == ["acc", "loss"]
    assert (table["lr"] == 0.1).all() and "grid" not in table.columns  # lists stay in the record
    assert load_records(profile="full").empty


def test_record_rejects_non_scalar_or_empty_metrics():
    with pytest.raises(TypeError, match="not a scalar"):
        write_record(
            "ch", "e", profile="smoke", seed=0, config={}, metrics={"m": [1, 2]}, wall_time_s=0
        )
    with pytest.raises(ValueError, match="at least one metric"):
        write_record("ch", "e", profile="smoke", seed=0, config={}, metrics={}, wall_time_s=0)


def test_cached_run_resumes_and_reruns_on_new_config():
    calls = []

    def run():
        calls.append(1)
        return {"m": len(calls)}

    kwargs = dict(profile="smoke", seed=0, run=run, timer=lambda: 0.0)
    first = cached_run("ch", "e", config={"a": 1}, **kwargs)
    again = cached_run("ch", "e", config={"a": 1}, **kwargs)
    assert len(calls) == 1 and again["metrics"] == first["metrics"] == {"m": 1.0}
    changed = cached_run("ch", "e", config={"a": 2}, **kwargs)
    assert len(calls) == 2 and changed["metrics"] == {"m": 2.0}
    assert json.loads(record_path("ch", "e", 0, "smoke").read_text())["config"] == {"a": 2}


def test_mean_ci_matches_scipy_t_interval():
    x = [0.1, 0.4, 0.35, 0.2]
    mean, lo, hi = mean_ci(x)
    ref = stats.t.interval(0.95, df=3, loc=sum(x) / 4, scale=stats.sem(x))
    assert math.isclose(mean, sum(x) / 4) and math.isclose(lo, ref[0]) and math.isclose(hi, ref[1])
    assert math.isnan(mean_ci([1.0])[1])


def _records(values, base=None):
    rows = [
        {"chapter": "c", "experiment": "e", "seed": s, "metric": "m", "value": v, "lr": 1}
        for s, v in enumerate(values)
    ]
    rows += [
        {"chapter": "c", "experiment": "e", "seed": s, "metric": "b", "value": v, "lr": 1}
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
    )
    return Claim.from_dict({**data, **kw})


def test_verdicts():
    assert evaluate_claim(_claim(), _records([1.0, 1.1, 0.9]))["verdict"] == "supported"
    straddle = evaluate_claim(_claim(), _records([1.0, -1.0, 0.1]))
    assert straddle["verdict"] == "not supported" and "straddles" in straddle["detail"]
    opposite = evaluate_claim(_claim(), _records([-1.0, -1.1, -0.9]))
    assert opposite["verdict"] == "not supported" and "opposite" in opposite["detail"]
    assert (
        evaluate_claim(_claim(direction="less"), _records([-1.0, -1.1, -0.9]))["verdict"]
        == "supported"
    )
    one = evaluate_claim(_claim(), _records([1.0]))
    assert one["verdict"] == "not testable here" and "at least 2 seeds" in one["detail"]
    assert (
        evaluate_claim(_claim(testable=False, note="needs ImageNet"), _records([1.0, 2.0]))[
            "detail"
        ]
        == "needs ImageNet"
    )
    assert evaluate_claim(_claim(), _records([]))["verdict"] == "not testable here"


def test_paired_baseline_and_filter():
    paired = evaluate_claim(_claim(baseline_metric="b"), _records([1.0, 2.0, 3.0], [0.5, 1.4, 2.6]))
    assert paired["verdict"] == "supported" and math.isclose(paired["estimate"], 0.5)
    assert evaluate_claim(_claim(where={"lr": 2}), _records([1.0, 2.0]))["n"] == 0


def test_claim_validation_and_registry():
    with pytest.raises(ValueError, match="direction"):
        _claim(direction="up")
    with pytest.raises(KeyError, match="unknown key 'metrik'"):
        Claim.from_dict({"id": "x", "metrik": "m"})
    claims = load_claims()
    assert len({c.id for c in claims}) == len(claims) > 0
    assert all(c.chapter == "theory" for c in load_claims("theory"))

"""The experiment driver on a tiny profile: validation-seed lambda choice, records, paired
comparison, claims, resume."""

from __future__ import annotations

import numpy as np
import pytest

from cibr_lab.cibr.experiment import (
    PLATEAU_WINDOW,
    check_curve,
    check_seeds,
    chosen_arms,
    late_gain,
    methods,
    run,
    select_lambdas,
    validation_grid,
)
from cibr_lab.errors import ConfigError
from cibr_lab.results import evaluate_claims, load_claims, load_records
from cibr_lab.runtime import get_profile

TINY = {
    "n_scenes_train": 96,
    "n_scenes_test": 64,
    "n_scenes_retrieval": 48,
    "n_digits_train": 32,
    "n_digits_test": 32,
    "n_animals_train": 32,
    "n_animals_test": 32,
    "steps": 5,
    "batch_size": 16,
    "log_every": 1,
    "eval_every": 1,
    "curve_n": 32,
    "lams": {"ceb": [0.01, 0.5], "mine": [0.5]},
    "test_seeds": [0, 1],
    "validation_seeds": [7],
}
KEY = "zs_scenes_shift_scene_colour_acc1"


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIBR_LAB_RESULTS", str(root))
        profile = get_profile("smoke", overrides={"cibr": TINY})
        return profile, run(profile), root


def _record(label: str, seed: int, value: float) -> dict:
    return {"experiment": label, "seed": seed, "metrics": {KEY: value}}


def test_lambda_selection_reads_validation_seeds_only():
    cfg = {"lams": {"ceb": [0.1, 0.01]}, "validation_seeds": [5, 6], "select_metric": KEY}
    val = [_record("ceb-0.01", 5, 0.6), _record("ceb-0.01", 6, 0.4)]
    val += [_record("ceb-0.1", 5, 0.3), _record("ceb-0.1", 6, 0.5)]
    assert select_lambdas(val, cfg) == {"ceb": 0.01}
    # test-seed records that favour the other value change nothing
    planted = [_record("ceb-0.1", 0, 1.0), _record("ceb-0.01", 0, 0.0)]
    assert select_lambdas(val + planted, cfg) == {"ceb": 0.01}
    # a tie goes to the smaller lambda
    tie = [_record("ceb-0.01", s, 0.5) for s in (5, 6)] + [
        _record("ceb-0.1", s, 0.5) for s in (5, 6)
    ]
    assert select_lambdas(tie, cfg) == {"ceb": 0.01}
    with pytest.raises(ValueError, match=r"no validation record of ceb-0.1 for seeds \[6\]"):
        select_lambdas(val[:3] + planted, cfg)


def test_late_gain_is_the_window_slope_times_its_length():
    steps = np.arange(40, 801, 40)
    line = 0.2 + 3e-4 * steps
    assert late_gain(steps, line, 800) == pytest.approx(3e-4 * PLATEAU_WINDOW * 800)
    # only the window counts: a rise before it, then flat
    early_rise = np.minimum(line, 0.3)
    assert late_gain(steps, early_rise, 800) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="hold 1 evaluations; the late gain needs two"):
        late_gain([400, 800], [0.4, 0.5], 800)


@pytest.mark.parametrize("every", [0, 161])
def test_a_curve_needs_two_evaluations_in_its_window(every):
    with pytest.raises(ConfigError, match="eval_every must be between 1 and 160 "):
        check_curve({"data": "embedded", "steps": 800, "eval_every": every})
    check_curve({"data": "embedded", "steps": 800, "eval_every": 160})
    check_curve({"data": "coco", "steps": 800, "eval_every": every})  # keeps no curve


def test_validation_and_test_seeds_must_be_disjoint():
    cfg = get_profile("smoke").section("cibr")
    assert not set(cfg["validation_seeds"]) & set(cfg["test_seeds"])
    embedded = get_profile("embedded").section("cibr")
    assert not set(embedded["validation_seeds"]) & set(embedded["test_seeds"])
    with pytest.raises(ConfigError, match=r"must be disjoint; both hold \[1\]"):
        check_seeds({**cfg, "test_seeds": [0, 1], "validation_seeds": [1, 9]})
    with pytest.raises(ConfigError, match="validation_seeds is empty"):
        check_seeds({**cfg, "validation_seeds": []})
    with pytest.raises(ConfigError, match="must be disjoint"):
        run(get_profile("smoke", overrides={"cibr": {**TINY, "validation_seeds": [1]}}))


def test_grid_on_validation_seeds_and_chosen_arms_on_test_seeds(outcome):
    profile, tables, _ = outcome
    cfg = profile.section("cibr")
    # mine has one lambda: nothing to choose, no validation run
    assert [(m.label, s) for m, s in validation_grid(cfg)] == [("ceb-0.01", 7), ("ceb-0.5", 7)]
    assert tables["chosen"]["mine"] == 0.5
    validation = tables["validation"]
    assert set(validation["seed"]) == {7}
    scores = validation[validation["metric"] == KEY].set_index("experiment")["value"]
    best = scores[["ceb-0.01", "ceb-0.5"]].max()
    assert tables["chosen"]["ceb"] == min(
        lam for lam in (0.01, 0.5) if scores[f"ceb-{lam:g}"] == best
    )
    labels = [m.label for m in chosen_arms(cfg, tables["chosen"])]
    assert labels[0] == "clip" and labels[2] == "mine-0.5"
    assert [m.label for m in methods(cfg)] == ["clip", "ceb-0.01", "ceb-0.5", "mine-0.5"]
    metrics = tables["metrics"]
    assert set(metrics["seed"]) == {0, 1}
    assert sorted(metrics["experiment"].unique()) == sorted(labels)
    per_run = metrics.groupby(["experiment", "seed"])["metric"].nunique()
    assert len(per_run) == 6 and per_run.nunique() == 1
    assert {
        "zs_mean_acc1",
        "ret_mean_recall@1",
        "probe_image_nuisance",
        "probe_text_nuisance",
        "gap_scenes_shift",
        "s_per_step",
        "curve_auc_zs_acc1",
        "curve_late_gain",
    } <= set(metrics["metric"])
    assert metrics.loc[metrics["metric"] == "zs_mean_acc1", "value"].between(0, 1).all()
    curves = tables["curves"]
    assert set(curves["kind"]) == {"train", "eval"} and set(curves["method"]) == set(labels)
    assert curves.loc[curves["method"] == "clip", "cibr_loss"].fillna(0).eq(0).all()


def test_comparison_record_pairs_methods_by_seed(outcome):
    profile, tables, root = outcome
    records = load_records(profile=profile.label, chapter="cibr", root=root)
    compare = records[records["experiment"] == "compare"].pivot_table(
        index="seed", columns="metric", values="value"
    )
    assert sorted(compare.index) == [0, 1]
    metrics = tables["metrics"]
    label = f"ceb-{tables['chosen']['ceb']:g}"
    for seed in (0, 1):
        own = metrics[(metrics["experiment"] == label) & (metrics["seed"] == seed)]
        value = own.loc[own["metric"] == "zs_mean_acc1", "value"].item()
        assert compare.loc[seed, "ceb/zs_mean_acc1"] == pytest.approx(value)
        assert compare.loc[seed, "ceb/lam"] == tables["chosen"]["ceb"]
        assert compare.loc[seed, "clip/step_cost_ratio"] == pytest.approx(1.0)
    verdicts = evaluate_claims(records, load_claims("cibr")).set_index("id")
    assert verdicts.loc["cibr-ceb-robust", "n"] == 2
    assert verdicts.loc["cibr-full-zeroshot-7", "verdict"] == "not testable here"


def test_a_second_run_reads_the_records_instead_of_training(outcome, monkeypatch):
    profile, _, root = outcome
    monkeypatch.setenv("CIBR_LAB_RESULTS", str(root))  # the autouse fixture isolates each test
    (path,) = (root / profile.label / "cibr").glob("clip-seed0-*.json")
    (val,) = (root / profile.label / "cibr").glob("ceb-0.5-seed7-*.json")
    before = path.stat().st_mtime_ns, val.stat().st_mtime_ns
    run(profile)
    assert (path.stat().st_mtime_ns, val.stat().st_mtime_ns) == before

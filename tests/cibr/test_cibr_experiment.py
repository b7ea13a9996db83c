"""The experiment driver on a tiny profile: records, paired comparison, claims, resume."""

from __future__ import annotations

import pytest

from cibr_lab.cibr.experiment import methods, run
from cibr_lab.results import evaluate_claims, load_claims, load_records
from cibr_lab.runtime import get_profile

TINY = {
    "n_scenes_train": 96,
    "n_scenes_test": 64,
    "n_digits_train": 32,
    "n_digits_test": 32,
    "n_animals_train": 32,
    "n_animals_test": 32,
    "steps": 2,
    "batch_size": 16,
    "log_every": 1,
    "eval_every": 2,
    "curve_n": 32,
}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIBR_LAB_RESULTS", str(root))
        profile = get_profile("smoke", overrides={"cibr": TINY}, seeds=[0, 1])
        return profile, run(profile), root


def test_every_method_and_seed_has_a_record_and_a_curve(outcome):
    profile, tables, _ = outcome
    labels = [m.label for m in methods(profile.section("cibr"))]
    assert labels == ["clip", "ceb-0.5", "mine-0.5"]
    metrics = tables["metrics"]
    assert sorted(metrics["experiment"].unique()) == sorted(labels)
    per_run = metrics.groupby(["experiment", "seed"])["metric"].nunique()
    assert len(per_run) == 6 and per_run.nunique() == 1
    assert {
        "zs_mean_acc1",
        "ret_mean_recall@1",
        "probe_image_nuisance",
        "gap_scenes_shift",
        "s_per_step",
        "curve_auc_zs_acc1",
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
    metrics = tables["metrics"]
    for seed in (0, 1):
        own = metrics[(metrics["experiment"] == "ceb-0.5") & (metrics["seed"] == seed)]
        value = own.loc[own["metric"] == "zs_mean_acc1", "value"].item()
        assert compare.loc[seed, "ceb/zs_mean_acc1"] == pytest.approx(value)
        assert compare.loc[seed, "clip/step_cost_ratio"] == pytest.approx(1.0)
    verdicts = evaluate_claims(records, load_claims("cibr")).set_index("id")
    assert verdicts.loc["cibr-ceb-zeroshot", "n"] == 2
    assert verdicts.loc["cibr-full-zeroshot-7", "verdict"] == "not testable here"


def test_a_second_run_reads_the_records_instead_of_training(outcome, monkeypatch):
    profile, _, root = outcome
    monkeypatch.setenv("CIBR_LAB_RESULTS", str(root))  # the autouse fixture isolates each test
    (path,) = (root / profile.label / "cibr").glob("ceb-0.5-seed0-*.json")
    before = path.stat().st_mtime_ns
    run(profile)
    assert path.stat().st_mtime_ns == before

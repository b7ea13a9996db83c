"""The experiment driver on a tiny digits setup: records, tidy frames, caching, claims."""

import numpy as np
import pytest

import cibr_lab.al.experiment as experiment
from cibr_lab.al import aubc
from cibr_lab.al.experiment import aubc_frame, run
from cibr_lab.results import evaluate_claims, load_claims, load_records, write_record
from cibr_lab.runtime import get_profile

TRAIN = {
    "steps": 8,
    "batch_size": 8,
    "lr": 0.01,
    "unlabeled_batch_size": 8,
    "swa_lr": 0.03,
    "swa_lr_min": 0.003,
    "n_snapshots": 2,
    "cycle_steps": 4,
}
METHODS = [
    "random",
    "entropy_swa",
    "badge",
    "mpts",
    "trajectory_no_mmd",
    "mmd_no_trajectory",
    "random_mpts_recipe",
]
TINY = {
    "datasets": {
        "digits": {
            "source": "digits",
            "net": "mlp",
            "net_options": {"hidden": 16},
            "pool_size": 120,
            "test_size": 100,
            "n_initial": 10,
            "query_size": 10,
            "n_rounds": 2,
            "n_seeds": 2,
            "run_methods": METHODS,
            "train": TRAIN,
        }
    },
    "tune_dataset": "digits",
    "validation_test_size": 30,
    "validation_seeds": [100],
    "tune_lrs": [0.003, 0.01],
    "tune_steps": [8],
    "tune_mmd_weights": [0.5],
    "tune_trajectories": [[2, 4]],
}
SEEDS = [0, 1]
LABEL = get_profile("smoke", {"al": TINY}).label  # an override run has records of its own


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIBR_LAB_RESULTS", str(root))
        out = run("smoke", seeds=SEEDS, device="cpu", overrides=TINY)
        yield root, out, load_records(LABEL, "al", root=root)


def test_curves_cover_every_method_and_the_tuning_grid(results):
    _, out, records = results
    curves = out["curves"]
    assert set(curves["group"]) == {"main"}
    assert set(curves["method"]) == set(METHODS)
    assert len(curves) == len(METHODS) * len(SEEDS) * 3
    assert sorted(curves["n_labels"].unique()) == [10, 20, 30]
    assert (curves["accuracy"].between(0, 1)).all()
    grid = out["tuning"]
    assert sorted(grid["candidate"]) == ["lr0.003-steps8", "lr0.01-steps8", "mmd0.5-k2-cycle4"]
    assert set(grid["seed"]) == {100} and grid["chosen"].sum() == 2
    tuned = records[records["group"].isin(["tune_recipe", "tune_mpts"])]
    assert set(tuned["seed"]) == {100}
    best = grid[grid["stage"] == "recipe"].sort_values("aubc")["candidate"].iloc[-1]
    assert grid.loc[grid["chosen"] & (grid["stage"] == "recipe"), "candidate"].item() == best
    assert out["chosen"]["lr"].item() == float(best.split("-")[0].removeprefix("lr"))


def test_diagnostics_are_recorded_per_round(results):
    _, out, _ = results
    curves = out["curves"]
    mpts = curves[curves["method"] == "mpts"]
    assert mpts["disagreement"].between(0, 1).all() and (mpts["weight_distance"] > 0).all()
    assert mpts["bald_snapshots"].notna().all() and mpts["bald_mc"].notna().all()
    queried = mpts[mpts["round"] < 2]
    assert queried["overlap_entropy_swa"].between(0, 1).all()
    assert queried["query_class_entropy"].between(0, 1).all()
    entropy = curves[(curves["method"] == "entropy_swa") & (curves["round"] < 2)]
    assert (entropy["overlap_entropy_swa"] == 1.0).all()  # entropy of the SWA model, by definition
    # the control's labelled sets are random's, so the shared evaluation recipe scores them alike
    control = curves[curves["method"] == "random_mpts_recipe"].set_index(["seed", "round"])
    random = curves[curves["method"] == "random"].set_index(["seed", "round"])
    assert (control["accuracy"] == random["accuracy"]).all()


def test_aubc_and_summary_records_agree(results):
    _, out, records = results
    curves = out["curves"]
    table = aubc_frame(curves)
    stored = records[(records["metric"] == "aubc")].set_index(["experiment", "seed"])["value"]
    for row in table.itertuples():
        assert row.aubc == pytest.approx(stored[(row.experiment, row.seed)])
    summary = records[records["experiment"] == "digits-summary"]
    one = curves[(curves["experiment"] == "digits-mpts") & (curves["seed"] == 1)].sort_values(
        "round"
    )
    expected = aubc(one["n_labels"], one["accuracy"])
    got = summary[(summary["seed"] == 1) & (summary["metric"] == "aubc_mpts")]["value"].item()
    assert got == pytest.approx(expected)
    own = summary[(summary["seed"] == 1) & (summary["metric"] == "own_aubc_mpts")]["value"].item()
    assert own == pytest.approx(aubc(one["n_labels"], one["own_accuracy"]))


def test_rerun_loads_records_instead_of_training(results, monkeypatch):
    root, out, _ = results
    curves = out["curves"]
    monkeypatch.setenv("CIBR_LAB_RESULTS", str(root))

    def boom(*args, **kwargs):
        raise AssertionError("a cached curve was recomputed")

    monkeypatch.setattr(experiment, "run_active_learning", boom)
    stale = {"acc_r0": 0.5, "n_labels_r0": 10, "train_s_r0": 1.0}
    write_record(
        "al",
        "digits-retired",
        profile=LABEL,
        seed=0,
        wall_time_s=0.0,
        config={
            "dataset": "digits",
            "method": "retired",
            "group": "main",
            "mmd_weight": 0.0,
        },
        metrics=stale,
    )
    again = run("smoke", seeds=SEEDS, device="cpu", overrides=TINY)["curves"]
    np.testing.assert_array_equal(again["accuracy"].to_numpy(), curves["accuracy"].to_numpy())
    assert "digits-retired" not in set(again["experiment"])  # records beside the run are ignored


def test_registered_claims_evaluate_on_the_records(results):
    _, _, records = results
    claims = [c for c in load_claims("al") if c.experiment == "digits-summary"]
    table = evaluate_claims(records, claims)
    testable = table[table["id"] != "al-trajectory-cheaper-than-ensembles"]
    assert (testable["n"] == len(SEEDS)).all()
    assert set(testable["verdict"]) <= {"supported", "contradicted", "inconclusive"}
    assert (testable["mde"] > 0).all()

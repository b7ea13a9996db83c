"""The experiment driver on a tiny digits setup: records, tidy frames, caching, claims."""

import numpy as np
import pytest

import cibr_lab.al.experiment as experiment
from cibr_lab.al import aubc
from cibr_lab.al.experiment import aubc_frame, run
from cibr_lab.results import evaluate_claims, load_claims, load_records, write_record
from cibr_lab.runtime import get_profile

TRAIN = {
    "epochs": 4,
    "batch_size": 8,
    "lr": 0.01,
    "unlabeled_batch_size": 8,
    "swa_start": 0.5,
    "swa_lr": 0.01,
    "swa_lr_min": 0.001,
    "n_snapshots": 2,
}
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
            "train": TRAIN,
        }
    },
    "sweep_dataset": "digits",
    "mmd_weights": [0.5],
    "snapshot_counts": [1],
}
SEEDS = [0, 1]
LABEL = get_profile("smoke", {"al": TINY}).label  # an override run has records of its own


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIBR_LAB_RESULTS", str(root))
        curves = run("smoke", seeds=SEEDS, device="cpu", overrides=TINY)["curves"]
        yield root, curves, load_records(LABEL, "al", root=root)


def test_curves_cover_every_method_and_sweep(results):
    _, curves, _ = results
    methods = get_profile("smoke").section("al")["methods"]
    main = curves[curves["group"] == "main"]
    assert set(main["method"]) == set(methods)
    assert len(main) == len(methods) * len(SEEDS) * 3
    assert sorted(main["n_labels"].unique()) == [10, 20, 30]
    sweep = curves[curves["group"] != "main"]
    assert set(sweep["experiment"]) == {"digits-mpts-mmd0.5", "digits-mpts-snapshots1"}
    assert (curves["accuracy"].between(0, 1)).all()


def test_aubc_and_summary_records_agree(results):
    _, curves, records = results
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


def test_rerun_loads_records_instead_of_training(results, monkeypatch):
    root, curves, _ = results
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
            "n_snapshots": 1,
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

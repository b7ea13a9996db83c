"""The smoke profile end to end: records, frames, claims and review outputs (about 30 s)."""

import numpy as np
import pytest
import torch

from cibr_lab.ood import METRICS, experiment, frames, method_grid, ood_metrics
from cibr_lab.results import evaluate_claims, load_claims
from cibr_lab.runtime import get_profile


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIBR_LAB_RESULTS", str(root))
        torch.set_num_threads(1)
        tables = experiment.run(get_profile("smoke", seeds=[0, 1]), device="cpu")
        run = experiment.prepare("smoke", 0, device="cpu")
        yield {"records": tables["records"], "tables": tables, "run": run, "root": root}


def test_every_method_and_set_is_recorded(smoke) -> None:
    table = smoke["tables"]["benchmark"]
    assert table.equals(frames.benchmark_frame(smoke["records"]))
    cfg = smoke["run"].cfg
    tuned = len(cfg["tuned"]["scores"]) * len(cfg["tuned"]["shapings"])
    grid = method_grid(cfg["scores"], cfg["shapings"])  # the pairs equal to another left out
    assert len(grid) == len(cfg["scores"]) * len(cfg["shapings"]) - 3
    expected = len(grid) + tuned + len(cfg["input_level"])
    combos = table.groupby(["score", "shaping"]).ngroups
    assert combos == expected
    assert not {("knn", "dice"), ("knn", "ash_s"), ("mahalanobis", "dice")} & set(
        table[["score", "shaping"]].itertuples(index=False, name=None)
    )
    assert set(table["metric"]) == set(METRICS)
    assert set(table["ood_set"]) == {*cfg["ood_sets"], "mean", "near", "far"}
    assert set(table["seed"]) == {0, 1}
    assert table["value"].between(0, 1).all()
    summary = frames.method_table(table)
    assert {"mean", "ci_low", "ci_high"} <= set(summary.columns)


def test_rectified_metrics_drop_exactly_the_flagged_items(smoke) -> None:
    run = smoke["run"]
    scores = experiment.method_scores(run, "energy", "none", input_level=False)
    name = run.cfg["ood_sets"][0]
    keep = ~run.committees[name].flagged
    expected = ood_metrics(scores["id_test"], scores[name][keep])["auroc"]
    table = frames.benchmark_frame(smoke["records"])
    row = table.query(
        "seed == 0 and score == 'energy' and shaping == 'none' and ood_set == @name "
        "and variant == 'rectified' and metric == 'auroc'"
    )
    assert row["value"].item() == pytest.approx(expected, abs=1e-6)


def test_oodr_and_sensitivity_frames(smoke) -> None:
    oodr = frames.oodr_frame(smoke["records"])
    # precision is left out where nothing was flagged (undefined, never a NaN record)
    assert {"recall", "n_flagged", "n_injected"} <= set(oodr["stat"])
    assert set(oodr["stat"]) <= {"precision", "recall", "n_flagged", "n_injected"}
    injected = oodr.query("seed == 0 and ood_set == 'all' and stat == 'n_injected'")["value"]
    run = smoke["run"]
    assert injected.item() == sum(s.injected.sum() for s in run.bench.ood.values())
    sens = frames.sensitivity_frame(smoke["records"])
    assert set(sens["sigma"]) == set(run.cfg["sensitivity_sigmas"])
    assert set(sens["percentile"]) == set(run.cfg["sensitivity_percentiles"])


def test_cached_rerun_and_claims(smoke, monkeypatch) -> None:
    def no_training(*args, **kwargs):
        raise AssertionError("a cached rerun must not train or score again")

    monkeypatch.setenv("CIBR_LAB_RESULTS", str(smoke["root"]))
    monkeypatch.setattr(experiment, "prepare", no_training)
    for name in experiment.EXPERIMENTS:
        monkeypatch.setitem(experiment.EXPERIMENTS, name, no_training)
    again = experiment.run(get_profile("smoke", seeds=[0, 1]), device="cpu")["records"]
    assert np.allclose(
        again.sort_values(["seed", "metric"])["value"],
        smoke["records"].sort_values(["seed", "metric"])["value"],
        equal_nan=True,
    )
    verdicts = evaluate_claims(smoke["records"], load_claims("ood"))
    assert len(verdicts) == 21 and (verdicts["n"] == 2).all()
    assert set(verdicts["verdict"]) <= {"supported", "contradicted", "inconclusive"}


def test_review_outputs(smoke, tmp_path) -> None:
    paths = frames.review_outputs(smoke["run"], tmp_path)
    removed = paths["removed"].read_text().splitlines()
    n_flagged = sum(c.flagged.sum() for c in smoke["run"].committees.values())
    assert len(removed) == 1 + n_flagged
    assert paths["sheet"].read_text().count("data:image/png;base64,") == n_flagged
    samples = frames.score_samples(smoke["run"], [("energy", "none"), ("energy", "actfun")])
    assert set(samples["set"]) == {"id_test", *smoke["run"].bench.ood}


def test_group_means_average_their_sets(smoke) -> None:
    table = frames.benchmark_frame(smoke["records"])
    rows = table.query("seed == 0 and score == 'msp' and shaping == 'none' and metric == 'auroc'")
    rows = rows[rows["variant"] == "raw"].set_index("ood_set")["value"]
    far = [n for n, s in smoke["run"].bench.ood.items() if s.group == "far"]
    assert rows["far"] == pytest.approx(rows[far].mean())
    assert rows["near"] == pytest.approx(rows["digits_heldout"])


def test_heatmap_frame(smoke) -> None:
    table = frames.benchmark_frame(smoke["records"])
    heat = frames.heatmap_frame(table, "auroc", "rectified", "mean")
    assert heat.index.is_unique and heat.columns.is_unique
    values = heat.to_numpy().ravel()
    values = values[~np.isnan(values)]
    assert ((0 <= values) & (values <= 1)).all()
    assert np.isnan(heat.loc["knn", "dice"])  # left out of the grid: equals knn + none
    cell = table.query(
        "score == 'energy' and shaping == 'actfun' and ood_set == 'mean' "
        "and variant == 'rectified' and metric == 'auroc'"
    )["value"].mean()
    assert heat.loc["energy", "actfun"] == pytest.approx(cell)
    with pytest.raises(ValueError, match="no records for auroc/rectified/svhn"):
        frames.heatmap_frame(table, "auroc", "rectified", "svhn")
    summary = frames.method_table(table)
    assert summary["ci_low"].between(0, 1).all() and summary["ci_high"].between(0, 1).all()


def test_committee_parameters_come_from_the_validation_split_only(smoke, monkeypatch) -> None:
    seen = []
    original = experiment.select_committee

    def spy(probs, truth, ks, thresholds):
        seen.append((np.asarray(probs).shape, np.asarray(truth).copy()))
        return original(probs, truth, ks, thresholds)

    monkeypatch.setenv("CIBR_LAB_RESULTS", str(smoke["root"]))
    monkeypatch.setattr(experiment, "select_committee", spy)
    run = experiment.prepare("smoke", 0, device="cpu")
    ((shape, truth),) = seen
    val_sets = run.bench.val_ood.values()
    assert shape[1] == sum(len(s.images) for s in val_sets) == len(run.features["val_ood"])
    assert np.array_equal(truth, np.concatenate([s.injected for s in val_sets]))
    k, threshold = int(run.committee_params["k"]), run.committee_params["threshold"]
    assert k in run.cfg["committee_k"] and threshold in run.cfg["committee_threshold"]
    for committee in run.committees.values():  # the test sets get the chosen rule
        assert (committee.k, committee.threshold) == (k, threshold)
    assert run.val_keep.shape == truth.shape

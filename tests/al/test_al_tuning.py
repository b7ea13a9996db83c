"""Honest tuning: the chosen values are the argmax over validation records only, the tuning
curves run on validation seeds and the validation task, and the test curves use the choice."""

import pandas as pd
import pytest

import cibr_lab.al.experiment as experiment
from cibr_lab.al.experiment import (
    _test_jobs,
    candidate_label,
    mpts_candidates,
    recipe_candidates,
    select_best,
    tune,
)
from cibr_lab.errors import ConfigError
from cibr_lab.runtime import get_profile


def _frame(rows):
    return pd.DataFrame(rows, columns=["candidate", "seed", "aubc"])


def test_select_best_reads_validation_seeds_only():
    rows = [("a", 100, 0.50), ("a", 101, 0.52), ("b", 100, 0.55), ("b", 101, 0.53),
            ("a", 0, 0.99), ("a", 1, 0.99), ("b", 0, 0.10), ("b", 1, 0.10)]  # fmt: skip
    # test seeds 0, 1 favour "a" by far; the validation seeds favour "b"
    assert select_best(_frame(rows), [100, 101], ["a", "b"]) == "b"
    assert select_best(_frame(rows), [0, 1], ["a", "b"]) == "a"  # the data do differ
    tie = [("a", 100, 0.5), ("b", 100, 0.5)]
    assert select_best(_frame(tie), [100], ["a", "b"]) == "a"  # ties: the first in grid order


def test_select_best_needs_every_validation_seed():
    with pytest.raises(ConfigError) as err:
        select_best(_frame([("a", 100, 0.5), ("b", 100, 0.6)]), [100, 101], ["a", "b"])
    assert str(err.value) == "tuning candidate 'a' has no validation record for seeds [101]"


def test_tuning_runs_validation_seeds_on_the_validation_task(monkeypatch):
    settings = get_profile("embedded").section("al")
    seen = []

    def fake_run_all(jobs, device, workers, progress):
        seen.extend(jobs)
        # validation AUBC favours the last candidate of each grid
        labels = list(dict.fromkeys(j.config["candidate"] for j in jobs))
        return [labels.index(j.config["candidate"]) / 10 for j in jobs]

    monkeypatch.setattr(experiment, "_run_all", fake_run_all)
    out = tune("test", settings, None, 1)
    assert {j.seed for j in seen} == set(settings["validation_seeds"])
    assert not {j.seed for j in seen} & set(settings["test_seeds"])
    assert {j.data_key[-1] for j in seen} == {settings["validation_test_size"]}
    last_recipe, last_mpts = recipe_candidates(settings)[-1], mpts_candidates(settings)[-1]
    assert out["chosen"] == {**last_recipe, **last_mpts}
    assert set(out["grid"].loc[out["grid"]["chosen"], "candidate"]) == {
        candidate_label(last_recipe),
        candidate_label(last_mpts),
    }
    # the mpts stage trains with the recipe chosen in the first stage
    mpts_jobs = [j for j in seen if j.config["group"] == "tune_mpts"]
    assert {(j.method.train.lr, j.method.train.steps) for j in mpts_jobs} == {
        (last_recipe["lr"], last_recipe["steps"])
    }
    # the test curves use the chosen values, without any typed in the profile
    jobs = _test_jobs("test", settings, settings["test_seeds"], out["chosen"])
    tuned = [j for j in jobs if j.config["dataset"] == settings["tune_dataset"]]
    assert {(j.method.train.lr, j.method.train.steps, j.method.train.cycle_steps)
            for j in tuned} == {(last_recipe["lr"], last_recipe["steps"],
                                 last_mpts["cycle_steps"])}  # fmt: skip
    weights = {j.config["method"]: j.method.train.mmd_weight for j in tuned}
    assert weights["mpts"] == weights["random_mpts_recipe"] == last_mpts["mmd_weight"]
    assert weights["trajectory_no_mmd"] == weights["entropy_swa"] == 0.0
    assert all(j.method.evaluation == tuned[0].method.evaluation for j in tuned)


def test_validation_and_test_seeds_must_be_disjoint():
    settings = {**get_profile("embedded").section("al"), "validation_seeds": [3, 100]}
    with pytest.raises(ConfigError) as err:
        tune("test", settings, None, 1)
    assert str(err.value) == "validation_seeds and test_seeds must be disjoint; both hold [3]"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"tune_trajectories": [[2, 0]]}, "al.tune_trajectories[0][1]: expected int>=1, got 0"),
        ({"validation_seeds": [-1]}, "al.validation_seeds[0]: expected int>=0, got -1"),
        ({"tune_lrs": 0.1}, "al.tune_lrs: expected list[float>0], got 0.1"),
    ],
)
def test_bad_new_keys_are_config_errors_naming_the_key(override, message):
    with pytest.raises(ConfigError) as err:
        get_profile("smoke", {"al": override})
    assert str(err.value) == f"profile 'smoke': {message}"


def test_trajectory_entries_need_two_values():
    settings = {**get_profile("smoke").section("al"), "tune_trajectories": [[2, 10, 3]]}
    with pytest.raises(
        ConfigError, match=r"must be \[n_snapshots, cycle_steps\], got \[2, 10, 3\]"
    ):
        mpts_candidates(settings)

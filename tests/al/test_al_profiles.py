"""Every profile's AL settings build valid methods, protocols, sources and nets; the embedded
and full designs keep the properties the chapter relies on."""

import pytest

from cibr_lab.al.datasets import SOURCES
from cibr_lab.al.experiment import (
    _test_jobs,
    _tuning_jobs,
    build_protocol,
    mpts_candidates,
    recipe_candidates,
)
from cibr_lab.al.nets import NETS
from cibr_lab.al.strategies import STRATEGIES
from cibr_lab.al.train import TrainConfig
from cibr_lab.runtime import get_profile


def _chosen(settings):
    return {**recipe_candidates(settings)[-1], **mpts_candidates(settings)[-1]}


@pytest.mark.parametrize("name", ["smoke", "embedded", "full"])
def test_profile_settings_build(name):
    profile = get_profile(name)  # validates every key against the schema
    settings = profile.section("al")
    assert settings["tune_dataset"] in settings["datasets"]
    assert not set(settings["validation_seeds"]) & set(settings["test_seeds"])
    chosen = _chosen(settings)
    jobs = _test_jobs(name, settings, settings["test_seeds"], chosen)
    jobs += _tuning_jobs(name, settings, "recipe", None)
    jobs += _tuning_jobs(name, settings, "mpts", chosen)
    assert len({(j.experiment, j.seed) for j in jobs}) == len(jobs)
    for job in jobs:
        ds = settings["datasets"][job.config["dataset"]]
        assert ds["source"] in SOURCES and ds["net"] in NETS
        assert job.method.strategy in STRATEGIES
        assert job.method.train.swa and job.method.evaluation.mmd_weight == 0
        protocol = build_protocol(ds)
        assert protocol.n_initial + protocol.n_rounds * protocol.query_size <= (
            ds["pool_size"] or float("inf")
        )


@pytest.mark.parametrize("name", ["embedded", "full"])
def test_trajectory_grid_is_real_and_at_one_budget(name):
    settings = get_profile(name).section("al")
    totals = {k * c for k, c in settings["tune_trajectories"]}
    assert len(totals) == 1  # K and the cycle length trade off at one trajectory budget
    assert min(c for _, c in settings["tune_trajectories"]) >= 50
    tuned = settings["datasets"][settings["tune_dataset"]]["train"]
    for lr in settings["tune_lrs"]:  # every tuned base rate builds: the restarts lie above it
        assert TrainConfig(**{**tuned, "lr": lr, "swa": True}).swa_lr > lr


def test_embedded_power_and_regime():
    settings = get_profile("embedded").section("al")
    digits, mnist = settings["datasets"]["digits"], settings["datasets"]["mnist5k"]
    assert digits["n_seeds"] >= 15 and mnist["n_seeds"] >= 6
    assert mnist["n_initial"] == 100  # the paper's regime
    kept = {"random", "entropy_swa", "badge", "trajectory_no_mmd", "mmd_no_trajectory", "mpts",
            "random_mpts_recipe"}  # fmt: skip
    assert kept <= set(digits["run_methods"])


def test_full_profile_protocols_and_decaying_rates():
    settings = get_profile("full").section("al")
    for name, ds in settings["datasets"].items():
        assert ds["train"]["lr_min"] < ds["train"]["lr"], name  # every method's rate decays
        if name != "cifar10_distil":
            assert (ds["n_initial"], ds["query_size"], ds["n_rounds"]) == (100, 100, 15)
    distil = settings["datasets"]["cifar10_distil"]
    assert distil["n_initial"] + distil["n_rounds"] * distil["query_size"] == 25_000

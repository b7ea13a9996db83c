"""Every profile's AL settings build valid methods, protocols, sources and nets."""

import pytest

from cibr_lab.al.datasets import SOURCES
from cibr_lab.al.experiment import _jobs, build_method, build_protocol
from cibr_lab.al.nets import NETS
from cibr_lab.al.strategies import STRATEGIES
from cibr_lab.runtime import get_profile


@pytest.mark.parametrize("name", ["smoke", "embedded", "full"])
def test_profile_settings_build(name):
    profile = get_profile(name)
    settings = profile.section("al")
    assert settings["sweep_dataset"] in settings["datasets"]
    jobs = _jobs(profile.name, settings, profile.seeds)
    assert len({(j.experiment, j.seed) for j in jobs}) == len(jobs)
    for job in jobs:
        ds = job.dataset_settings
        assert ds["source"] in SOURCES and ds["net"] in NETS
        method = build_method(job.spec, ds["train"], **job.overrides)
        assert method.strategy in STRATEGIES
        protocol = build_protocol(ds)
        assert protocol.n_initial + protocol.n_rounds * protocol.query_size <= (
            ds["pool_size"] or float("inf")
        )


def test_sweeps_leave_out_the_main_settings():
    settings = get_profile("embedded").section("al")
    mpts = settings["methods"]["mpts"]["train"]
    main_k = settings["datasets"][settings["sweep_dataset"]]["train"]["n_snapshots"]
    assert mpts["mmd_weight"] not in settings["mmd_weights"] and 0 not in settings["mmd_weights"]
    assert main_k not in settings["snapshot_counts"]

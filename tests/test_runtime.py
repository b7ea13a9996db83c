"""Device selection, seeding, profiles and paths."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from cibr_lab.errors import ConfigError
from cibr_lab.runtime import (
    data_dir,
    get_device,
    get_profile,
    profile_names,
    results_dir,
    seed_everything,
)


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_seeding_is_reproducible_and_seed_dependent():
    seed_everything(7)
    a = _draws()
    seed_everything(7)
    b = _draws()
    seed_everything(8)
    c = _draws()
    assert a == b
    assert all(x != y for x, y in zip(a, c))
    gen = seed_everything(7)
    assert torch.equal(
        torch.rand(3, generator=gen), torch.rand(3, generator=torch.Generator().manual_seed(7))
    )


def test_deterministic_mode_toggles_torch():
    seed_everything(0, deterministic=True)
    assert torch.are_deterministic_algorithms_enabled()
    seed_everything(0)
    assert not torch.are_deterministic_algorithms_enabled()
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(-1)


def test_device_order_argument_then_environment(monkeypatch):
    assert get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("CIBR_LAB_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            get_device("cuda")
        monkeypatch.delenv("CIBR_LAB_DEVICE")
        assert get_device().type in {"cpu", "mps"}


def test_profiles_share_keys_and_load():
    assert profile_names() == ["embedded", "full", "smoke"]
    ref = get_profile("embedded")
    for name in profile_names():
        p = get_profile(name)
        assert p.seeds
        for section in ref.sections:
            assert set(p.section(section)) == set(ref.section(section))


def test_profile_errors_list_valid_choices():
    with pytest.raises(KeyError, match="valid profiles: embedded, full, smoke"):
        get_profile("tiny")
    with pytest.raises(KeyError, match=r"unknown key 'dimm'.*valid keys: .*dim"):
        get_profile("smoke", overrides={"theory": {"dimm": 3}})
    with pytest.raises(KeyError, match="valid sections: .*theory"):
        get_profile("smoke", overrides={"nope": {}})
    with pytest.raises(KeyError, match="valid sections"):
        get_profile("smoke").section("nope")
    with pytest.raises(ValueError, match="seeds must be a non-empty list"):
        get_profile("smoke", seeds=[])


def test_overrides_and_seeds_apply():
    original = get_profile("smoke").section("theory")["dim"]
    p = get_profile("smoke", overrides={"theory": {"dim": original + 1}}, seeds=[4, 5, 6])
    assert p.section("theory")["dim"] == original + 1 and p.seeds == (4, 5, 6)
    section = get_profile("smoke").section("theory")
    section["dim"] = 99
    assert get_profile("smoke").section("theory")["dim"] == original  # nothing leaks back


def test_paths_follow_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CIBR_LAB_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("CIBR_LAB_RESULTS", str(tmp_path / "r"))
    assert data_dir() == tmp_path / "d"
    assert results_dir() == tmp_path / "r"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"theory": {"critic_steps": "40"}}, "theory.critic_steps: expected int>=1, got '40'"),
        ({"theory": {"ib_steps": 40.5}}, "theory.ib_steps: expected int>=1, got 40.5"),
        ({"theory": {"trials": 0}}, "theory.trials: expected int>=2, got 0"),
        ({"theory": {"ib_lr": -0.1}}, "theory.ib_lr: expected float>0, got -0.1"),
        ({"cibr": {"sigma": 0}}, "cibr.sigma: expected float>0, got 0"),
        ({"cibr": {"lams": {"ceb": ["big"]}}}, r"cibr.lams.ceb\[0\]: expected float>=0"),
        ({"cibr": {"test_seeds": [0, -1]}}, r"cibr.test_seeds\[1\]: expected int>=0, got -1"),
        ({"cibr": {"validation_seeds": 7}}, "cibr.validation_seeds: expected list"),
        ({"cibr": {"select_metric": 3}}, "cibr.select_metric: expected str, got 3"),
        ({"ood": {"id_classes": [0, -1]}}, r"ood.id_classes\[1\]: expected int>=0, got -1"),
        ({"al": {"tune_steps": [2, 0]}}, r"al.tune_steps\[1\]: expected int>=1, got 0"),
    ],
)
def test_profile_values_are_typed_and_ranged(overrides, message):
    with pytest.raises(ConfigError, match=message):
        get_profile("smoke", overrides)


def test_nested_values_and_new_keys_are_checked():
    smoke = get_profile("smoke").section("al")
    datasets = {**smoke["datasets"]}
    datasets["digits"] = {**datasets["digits"], "train": {**datasets["digits"]["train"]}}
    datasets["digits"]["train"]["momentum"] = 2.0
    with pytest.raises(ConfigError, match=r"al.datasets.digits.train.momentum: expected prob"):
        get_profile("smoke", {"al": {"datasets": datasets}})
    datasets["digits"]["train"]["momentum"] = 0.5
    datasets["digits"]["train"]["new_knob"] = 1
    with pytest.raises(ConfigError, match="no schema entry for key 'new_knob'"):
        get_profile("smoke", {"al": {"datasets": datasets}})


@pytest.mark.parametrize("seeds", [[-1], [0.5], [1, 1], [True]])
def test_bad_seeds_are_refused(seeds):
    with pytest.raises(ConfigError, match="seeds"):
        get_profile("smoke", seeds=seeds)


def test_bad_environment_values_are_clear_errors(monkeypatch, tmp_path):
    monkeypatch.setenv("CIBR_LAB_DEVICE", "gpu")
    with pytest.raises(ConfigError, match="CIBR_LAB_DEVICE='gpu' is not a device; use cpu"):
        get_device()
    monkeypatch.delenv("CIBR_LAB_DEVICE")
    monkeypatch.setenv("CIBR_LAB_RESULTS", "")
    with pytest.raises(ConfigError, match="CIBR_LAB_RESULTS is set but empty"):
        results_dir()
    afile = tmp_path / "afile"
    afile.write_text("x")
    monkeypatch.setenv("CIBR_LAB_RESULTS", str(afile))
    with pytest.raises(ConfigError, match="CIBR_LAB_RESULTS=.*is a file, not a folder"):
        results_dir()


def test_fused_adam_where_torch_has_it_and_it_steps_like_the_loop():
    from cibr_lab.runtime import fused_adam

    assert fused_adam(torch.device("cpu")) is True
    assert fused_adam(torch.device("meta")) is None
    torch.manual_seed(0)
    start = [torch.randn(5, 3), torch.randn(3)]
    grads = [torch.randn(5, 3), torch.randn(3)]
    results = []
    for fused in (None, fused_adam(torch.device("cpu"))):
        params = [p.clone().requires_grad_() for p in start]
        opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1, fused=fused)
        for _ in range(3):
            for p, g in zip(params, grads, strict=True):
                p.grad = g.clone()
            opt.step()
        results.append(params)
    for loop, fused in zip(*results, strict=True):
        assert torch.allclose(loop, fused, atol=1e-6)


def test_torch_threads_sets_the_number_for_the_block_and_restores_it():
    from cibr_lab.runtime import torch_threads

    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="inside"):
        with torch_threads(before + 1):
            assert torch.get_num_threads() == before + 1
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="at least 1, got 0"):
        with torch_threads(0):
            pass

"""Sharded runs: any layout of ``--shard I/N`` writes the records of one unsharded run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from cibr_lab.cli import main
from cibr_lab.errors import ConfigError
from cibr_lab.experiments import get_experiment
from cibr_lab.runtime import Shard, get_profile

TIMING = ("s_per_step", "step_cost_ratio", "cpu_s", "train_s", "query_s")


def test_shards_cover_the_grid_exactly_once():
    grid = list(range(11))
    for n in range(1, 5):
        parts = [Shard(i, n).take(grid) for i in range(n)]
        assert sorted(x for part in parts for x in part) == grid
    assert Shard.parse(" 2/4 ") == Shard(2, 4) and str(Shard(2, 4)) == "2/4"
    for bad in ("4/4", "-1/2", "1of2", "0/0"):
        with pytest.raises(ConfigError, match="shard"):
            Shard.parse(bad)


def _records(root: Path) -> dict[str, dict]:
    """File name -> (config hash, metrics without timings) of every record under ``root``."""
    out = {}
    for path in sorted(root.glob("*/*/*.json")):
        rec = json.loads(path.read_text())
        metrics = {k: v for k, v in rec["metrics"].items() if not any(t in k for t in TIMING)}
        out[path.name] = (rec["config_hash"], metrics)
    return out


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name][0] == b[name][0], name
        for key, value in a[name][1].items():
            assert math.isclose(value, b[name][1][key], rel_tol=1e-6, abs_tol=1e-9), (name, key)


def _run(monkeypatch, root: Path, chapter: str, profile, shards: list[Shard]) -> dict:
    monkeypatch.setenv("CIBR_LAB_RESULTS", str(root))
    for shard in shards:
        get_experiment(chapter)(profile, shard=shard)
    return _records(root)


def test_two_theory_shards_write_the_records_of_one_run(tmp_path, monkeypatch):
    profile = get_profile("smoke", seeds=[0, 1])
    whole = _run(monkeypatch, tmp_path / "one", "theory", profile, [Shard()])
    sharded = _run(monkeypatch, tmp_path / "two", "theory", profile, [Shard(1, 2), Shard(0, 2)])
    assert len(whole) == 6
    _same(whole, sharded)


def test_cibr_shards_split_arms_and_the_last_one_writes_the_comparison(tmp_path, monkeypatch):
    tiny = {
        "n_scenes_train": 64, "n_scenes_test": 32, "n_scenes_retrieval": 32,
        "n_digits_train": 16, "n_digits_test": 16, "n_animals_train": 16, "n_animals_test": 16,
        "steps": 5, "batch_size": 16,
        "log_every": 1, "eval_every": 1, "curve_n": 16, "workers": 1,
    }  # fmt: skip
    profile = get_profile("smoke", {"cibr": tiny}, seeds=[0, 1])
    whole = _run(monkeypatch, tmp_path / "one", "cibr", profile, [Shard()])
    monkeypatch.setenv("CIBR_LAB_RESULTS", str(tmp_path / "three"))
    get_experiment("cibr")(profile, shard=Shard(0, 3))
    assert not any(n.startswith("compare") for n in _records(tmp_path / "three"))
    # shard 1 completes the validation runs and goes on to its test runs; shard 2 had stopped
    # after phase 1, so (like shard 0) it is rerun: a second pass of the array
    second = [Shard(2, 3), Shard(1, 3), Shard(0, 3), Shard(2, 3)]
    sharded = _run(monkeypatch, tmp_path / "three", "cibr", profile, second)
    assert sum(n.startswith("compare") for n in whole) == 2
    _same(whole, sharded)


def test_cli_shard_and_a_bad_shard(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CIBR_LAB_RESULTS", str(tmp_path))
    assert main(["run", "theory", "--profile", "smoke", "--seeds", "0", "1", "--shard", "1/2"]) == 0
    assert {json.loads(p.read_text())["seed"] for p in tmp_path.glob("*/*/*.json")} == {1}
    assert main(["run", "theory", "--profile", "smoke", "--shard", "2/2"]) == 2
    assert "shard 2/2: needs 0 <= I < N" in capsys.readouterr().err


def test_al_shards_write_the_curves_and_summaries_of_one_run(tmp_path, monkeypatch):
    train = {
        "steps": 4, "batch_size": 8, "lr": 0.01, "unlabeled_batch_size": 8, "swa_lr": 0.03,
        "swa_lr_min": 0.003, "n_snapshots": 2, "cycle_steps": 2,
    }  # fmt: skip
    digits = {
        "source": "digits", "net": "mlp", "net_options": {"hidden": 8}, "pool_size": 60,
        "test_size": 60, "n_initial": 10, "query_size": 10, "n_rounds": 1, "n_seeds": 2,
        "run_methods": ["random", "entropy_swa", "mpts"], "train": train,
    }  # fmt: skip
    methods = get_profile("smoke").section("al")["methods"]
    tiny = {
        "datasets": {"digits": digits},
        "methods": {k: methods[k] for k in ("random", "entropy_swa", "mpts")},
        "tune_dataset": "digits",
        "validation_test_size": 20,
        "tune_lrs": [0.01],
        "tune_steps": [4],
        "tune_mmd_weights": [0.5],
        "tune_trajectories": [[2, 2]],
    }
    profile = get_profile("smoke", {"al": tiny}, seeds=[0, 1])
    whole = _run(monkeypatch, tmp_path / "one", "al", profile, [Shard()])
    sharded = _run(monkeypatch, tmp_path / "two", "al", profile, [Shard(0, 2), Shard(1, 2)])
    assert sum(n.startswith("digits-summary") for n in whole) == 2
    _same(whole, sharded)

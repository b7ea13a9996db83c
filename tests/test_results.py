"""Records: atomic writes, keys by configuration and code version, damaged state, the tidy table."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading

import pytest
import torch
from scipy import stats

from cibr_lab.errors import ConfigError, RecordError
from cibr_lab.results import (
    atomic_torch_save,
    atomic_write_text,
    cached_run,
    load_records,
    mean_ci,
    read_record,
    record_path,
    torch_load_checked,
    write_record,
)
from cibr_lab.results.version import PACKAGE_DIR
from cibr_lab.runtime import get_profile


def _write(seed=0, config=None, metrics=None, experiment="e", profile="smoke"):
    return write_record(
        "ch",
        experiment,
        profile=profile,
        seed=seed,
        config={"a": 1} if config is None else config,
        metrics={"m": 0.5} if metrics is None else metrics,
        wall_time_s=1.0,
    )


def test_atomic_write_leaves_old_file_intact_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "a" / "r.json"
    atomic_write_text(path, "old")

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temporary left behind


def test_two_writers_sharing_a_checkpoint_path_never_fail_or_tear(tmp_path):
    """A fixed '<path>.tmp' name made half of such saves fail and readers see torn files."""
    path = tmp_path / "ckpt.pt"
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(value: float) -> None:
        try:
            for _ in range(60):
                atomic_torch_save({"w": torch.full((2000,), value)}, path)
        except BaseException as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    def reader() -> None:
        while not stop.is_set():
            if path.exists():
                w = torch_load_checked(path, "checkpoint")["w"]
                if not (bool((w == w[0]).all()) and float(w[0]) in (1.0, 2.0)):
                    errors.append(AssertionError("torn read"))

    threads = [threading.Thread(target=writer, args=(v,)) for v in (1.0, 2.0)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_record_round_trip_and_tidy_table():
    path = write_record(
        "ch",
        "exp",
        profile="smoke",
        seed=3,
        config={"lr": 0.1, "grid": [1, 2]},
        metrics={"acc": 0.9, "loss": 0.2},
        wall_time_s=1.5,
    )
    rec = read_record(path)
    assert rec["seed"] == 3 and rec["metrics"] == {"acc": 0.9, "loss": 0.2}
    assert {"python", "torch", "numpy", "cibr_lab"} <= set(rec["versions"])
    assert path.name == f"exp-seed3-{rec['config_hash']}.json"
    table = load_records(profile="smoke")
    assert sorted(table["metric"]) == ["acc", "loss"]
    assert (table["lr"] == 0.1).all() and "grid" not in table.columns  # lists stay in the record
    assert load_records(profile="full").empty


def test_record_rejects_non_scalar_empty_or_non_finite_metrics():
    with pytest.raises(RecordError, match="'m' is not a scalar"):
        _write(metrics={"m": [1, 2]})
    with pytest.raises(RecordError, match="at least one metric"):
        _write(metrics={})
    for bad in (math.nan, math.inf):
        with pytest.raises(RecordError, match=r"ch/e seed 0: metric 'acc' is (nan|inf); the run"):
            _write(metrics={"ok": 1.0, "acc": bad})
    assert load_records(profile="smoke").empty  # nothing a report could average


def test_seed_must_be_a_non_negative_int():
    for bad in (-1, 1.0, True):
        with pytest.raises(ConfigError, match="seed must be a non-negative int"):
            _write(seed=bad)


def test_cached_run_keys_by_configuration():
    calls = []

    def run():
        calls.append(1)
        return {"m": len(calls)}

    kwargs = dict(profile="smoke", seed=0, run=run, timer=lambda: 0.0)
    first = cached_run("ch", "e", config={"a": 1}, **kwargs)
    again = cached_run("ch", "e", config={"a": 1}, **kwargs)
    assert len(calls) == 1 and again["metrics"] == first["metrics"] == {"m": 1.0}
    changed = cached_run("ch", "e", config={"a": 2}, **kwargs)
    assert len(calls) == 2 and changed["metrics"] == {"m": 2.0}
    assert record_path("ch", "e", 0, "smoke", {"a": 1}) != record_path(
        "ch", "e", 0, "smoke", {"a": 2}
    )
    # The profile's configuration changed: the old record is kept aside, never reported twice.
    table = load_records(profile="smoke")
    assert table["value"].tolist() == [2.0]
    assert (record_path("ch", "e", 0, "smoke", {"a": 1}).parent / "superseded").is_dir()


def test_override_runs_never_touch_the_profiles_records():
    base = get_profile("smoke")
    override = get_profile("smoke", {"theory": {"ib_steps": 5}})
    assert base.label == "smoke" and override.label.startswith("smoke+")
    assert get_profile("smoke", {"theory": {"ib_steps": 5}}).label == override.label
    _write(profile=base.label, config=base.section("theory"), metrics={"m": 1.0})
    _write(profile=override.label, config=override.section("theory"), metrics={"m": 9.0})
    assert load_records(profile="smoke")["value"].tolist() == [1.0]
    assert load_records(profile=override.label)["value"].tolist() == [9.0]


@pytest.mark.parametrize(
    "stale",
    [
        {"code": {"commit": "0" * 40}},
        {"code": {"dirty": True, "source": "feedfacefeedface"}},
        {"versions": {"torch": "0.0.1"}},
    ],
)
def test_records_of_another_code_version_are_recomputed_not_restamped(stale):
    path = _write()
    rec = json.loads(path.read_text())
    for key, value in stale.items():
        rec[key].update(value)
    path.write_text(json.dumps(rec))
    assert load_records(profile="smoke").empty
    assert load_records(profile="smoke").attrs["stale"] == 1
    assert len(load_records(profile="smoke", reuse="config")) == 1  # the explicit option
    reused = cached_run(
        "ch", "e", profile="smoke", seed=0, config={"a": 1}, run=lambda: {"m": 7.0},
        timer=lambda: 0.0, reuse="config",
    )  # fmt: skip
    assert reused["metrics"] == {"m": 0.5}
    fresh = cached_run(
        "ch", "e", profile="smoke", seed=0, config={"a": 1}, run=lambda: {"m": 7.0},
        timer=lambda: 0.0,
    )  # fmt: skip
    assert fresh["metrics"] == {"m": 7.0}
    assert load_records(profile="smoke")["value"].tolist() == [7.0]


def test_unknown_reuse_policy_is_an_error(monkeypatch):
    monkeypatch.setenv("CIBR_LAB_REUSE", "always")
    with pytest.raises(ConfigError, match="reuse policy 'always'.*exact, config"):
        load_records(profile="smoke")


def _package_commit() -> str:
    out = subprocess.run(
        ["git", "-C", str(PACKAGE_DIR), "log", "-1", "--format=%H", "--", "."],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def test_code_version_is_read_from_the_package_not_the_working_folder(tmp_path):
    other = tmp_path / "other_repo"
    other.mkdir()
    git = ["git", "-C", str(other), "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    script = (
        "from cibr_lab.results import code_version; import json; print(json.dumps(code_version()))"
    )
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_DIR.parent)}
    for cwd in (other, tmp_path):
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True
        )
        code = json.loads(out.stdout)
        assert code["commit"] == (_package_commit() or None)
        assert len(code["source"]) == 16


def test_damaged_records_name_the_file_and_what_to_do():
    path = _write()
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(RecordError, match=rf"unreadable record {path}.*delete it to recompute"):
        load_records(profile="smoke")
    rec = json.loads(text)
    del rec["experiment"]
    path.write_text(json.dumps(rec))
    with pytest.raises(RecordError, match=rf"record {path} lacks 'experiment'"):
        load_records(profile="smoke")
    path.write_text(text.replace('"m": 0.5', '"m": NaN'))
    with pytest.raises(RecordError, match="non-finite number NaN"):
        read_record(path)


def test_damaged_checkpoint_and_feature_cache_name_the_file(tmp_path):
    from torch import nn

    from cibr_lab.ood.features import FeatureCache
    from cibr_lab.ood.train import load_or_fit

    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"garbage")
    with pytest.raises(RecordError, match=rf"unreadable checkpoint {ckpt}.*delete it"):
        load_or_fit(ckpt, "meta", nn.Linear(2, 2), fit=lambda: None)
    cache = FeatureCache(tmp_path / "cache")
    bad = tmp_path / "cache" / "m" / "d.pt"
    bad.parent.mkdir(parents=True)
    bad.write_text("not a torch file")
    with pytest.raises(RecordError, match=rf"unreadable feature cache {bad}"):
        cache.get("m", "d", nn.Identity(), torch.zeros(2, 3))


def test_mean_ci_matches_scipy_t_interval():
    x = [0.1, 0.4, 0.35, 0.2]
    mean, lo, hi = mean_ci(x)
    ref = stats.t.interval(0.95, df=3, loc=sum(x) / 4, scale=stats.sem(x))
    assert math.isclose(mean, sum(x) / 4) and math.isclose(lo, ref[0]) and math.isclose(hi, ref[1])
    assert math.isnan(mean_ci([1.0])[1])


def test_write_download_goes_to_the_folder_the_book_names(monkeypatch, tmp_path):
    import pandas as pd

    from cibr_lab.results.present import write_download

    monkeypatch.setenv("CIBR_LAB_DOWNLOADS", str(tmp_path / "dl"))
    frame = pd.DataFrame({"claim": ["a", "b"], "estimate": [0.1234567, -2.0]})
    path = write_download(frame, "ch-verdicts")
    assert path == tmp_path / "dl" / "ch-verdicts.csv"
    pd.testing.assert_frame_equal(pd.read_csv(path), frame)


def test_headline_findings_lists_each_primary_claim_under_its_paper():
    import pandas as pd

    from cibr_lab.results.present import headline_findings

    nan = float("nan")
    columns = "paper id claim role n estimate ci_low ci_high unit mde verdict detail".split()
    rows = [
        ("P1", "a", "A beats B.", "primary", 16, 0.0123, 0.004, 0.0206, "AUBC", 0.0113,
         "supported", ""),
        ("P1", "b", "C helps", "exploratory", 3, 1.0, 0.0, 2.0, "nats", 2.0, "inconclusive", ""),
        ("P2", "c", "D", "primary", 0, nan, nan, nan, "AUROC", nan, "not testable here",
         "no records"),
    ]  # fmt: skip
    text = headline_findings(pd.DataFrame(rows, columns=columns))
    assert text.splitlines() == [
        "- **P1**: 2 claims (1 primary): 1 supported, 1 inconclusive.",
        "  - A beats B: 0.0123 [0.004, 0.0206] AUBC over 16 seeds, **supported**, mde 0.0113.",
        "- **P2**: 1 claim (1 primary): 1 not testable here.",
        "  - D: **not testable here** (no records).",
    ]

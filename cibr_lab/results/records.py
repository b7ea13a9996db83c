"""Experiment records: one JSON file per (chapter, experiment, seed), written atomically.

A record holds the profile, config, seed, git commit, package versions, wall time and a flat
mapping of scalar metrics. ``load_records`` turns a folder of records into a tidy table with
one row per metric.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from cibr_lab.runtime.paths import results_dir

_PACKAGES = ("cibr_lab", "torch", "numpy", "open_clip_torch", "scikit-learn")


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide results from other users
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def git_commit() -> str | None:
    """The current git commit of the working directory, or None outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def package_versions() -> dict[str, str]:
    """Versions of python and the packages that decide the numbers."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def record_path(chapter: str, experiment: str, seed: int, profile: str) -> Path:
    """Where the record of one run lives under :func:`results_dir`."""
    return results_dir() / profile / chapter / f"{experiment}-seed{seed}.json"


def _check_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    if not metrics:
        raise ValueError("a record needs at least one metric")
    out = {}
    for key, value in metrics.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"metric {key!r} is not a scalar: {value!r}") from None
    return out


def write_record(
    chapter: str,
    experiment: str,
    *,
    profile: str,
    seed: int,
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
    wall_time_s: float,
) -> Path:
    """Write one run's record atomically and return its path."""
    record = {
        "chapter": chapter,
        "experiment": experiment,
        "profile": profile,
        "seed": int(seed),
        "config": dict(config),
        "metrics": _check_metrics(metrics),
        "wall_time_s": float(wall_time_s),
        "git_commit": git_commit(),
        "versions": package_versions(),
    }
    text = json.dumps(record, indent=2, sort_keys=True, default=str)
    return atomic_write_text(record_path(chapter, experiment, seed, profile), text)


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    """Load one record."""
    return json.loads(Path(path).read_text())


def cached_run(
    chapter: str,
    experiment: str,
    *,
    profile: str,
    seed: int,
    config: Mapping[str, Any],
    run: Callable[[], Mapping[str, Any]],
    timer: Callable[[], float],
) -> dict[str, Any]:
    """Return the stored record when one with the same config exists, else run and store it.

    This is how long experiments resume: each finished seed is on disk, an interrupted one is
    simply run again.
    """
    path = record_path(chapter, experiment, seed, profile)
    wanted = json.loads(json.dumps(dict(config), default=str))
    if path.exists():
        record = read_record(path)
        if record.get("config") == wanted:
            return record
    start = timer()
    metrics = run()
    write_record(
        chapter,
        experiment,
        profile=profile,
        seed=seed,
        config=config,
        metrics=metrics,
        wall_time_s=timer() - start,
    )
    return read_record(path)


def load_records(
    profile: str | None = None, chapter: str | None = None, root: str | os.PathLike | None = None
) -> pd.DataFrame:
    """All records under ``root`` as a tidy table: one row per (record, metric).

    Columns: chapter, experiment, profile, seed, wall_time_s, git_commit, metric, value, and
    one column per config key.
    """
    root = Path(root) if root is not None else results_dir()
    pattern = f"{profile or '*'}/{chapter or '*'}/*.json"
    rows = []
    for path in sorted(root.glob(pattern)):
        rec = read_record(path)
        base = {
            "chapter": rec["chapter"],
            "experiment": rec["experiment"],
            "profile": rec["profile"],
            "seed": rec["seed"],
            "wall_time_s": rec["wall_time_s"],
            "git_commit": rec.get("git_commit"),
            **{k: v for k, v in rec["config"].items() if not isinstance(v, (list, dict))},
        }
        rows.extend({**base, "metric": m, "value": v} for m, v in rec["metrics"].items())
    columns = ["chapter", "experiment", "profile", "seed", "wall_time_s", "git_commit"]
    return pd.DataFrame(rows, columns=None if rows else [*columns, "metric", "value"])

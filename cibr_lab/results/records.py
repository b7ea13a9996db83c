"""Experiment records: one JSON file per (chapter, experiment, seed, configuration).

A record holds the profile label, the configuration and its hash, the seed, the code version
(:func:`code_version`), package versions, wall time and a flat mapping of finite scalar metrics.
It lives at ``<results>/<label>/<chapter>/<experiment>-seed<seed>-<config hash>.json``, so a run
with another configuration never overwrites it. :func:`cached_run` reuses a record only for the
same configuration and code version; :func:`load_records` turns a folder of records into a tidy
table with one row per metric.

``CIBR_LAB_REUSE=config`` (or ``reuse="config"``) is the explicit option to reuse and report
records of the same configuration written by another code version.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from cibr_lab.errors import ConfigError, RecordError
from cibr_lab.results.atomic import atomic_write_text
from cibr_lab.results.version import code_version, config_hash, package_versions, same_code

REUSE_ENV = "CIBR_LAB_REUSE"
REUSE_POLICIES = ("exact", "config")
_FIELDS = ("chapter", "experiment", "profile", "seed", "config", "metrics", "wall_time_s")
SUPERSEDED = "superseded"


def reuse_policy(reuse: str | None = None) -> str:
    """``"exact"`` (the default: same configuration and code version) or ``"config"`` (same
    configuration, any code version), from the argument or ``CIBR_LAB_REUSE``."""
    policy = reuse or os.environ.get(REUSE_ENV) or "exact"
    if policy not in REUSE_POLICIES:
        raise ConfigError(
            f"reuse policy {policy!r} (from the argument or {REUSE_ENV}) is not one of "
            f"{', '.join(REUSE_POLICIES)}"
        )
    return policy


def chapter_dir(profile: str, chapter: str) -> Path:
    """The folder of one profile label's records of one chapter."""
    from cibr_lab.runtime.paths import results_dir

    return results_dir() / profile / chapter


def record_path(
    chapter: str, experiment: str, seed: int, profile: str, config: Mapping[str, Any]
) -> Path:
    """Where the record of one run (this configuration) lives under :func:`results_dir`."""
    name = f"{experiment}-seed{int(seed)}-{config_hash(config)}.json"
    return chapter_dir(profile, chapter) / name


def _check_metrics(metrics: Mapping[str, Any], where: str) -> dict[str, float]:
    if not metrics:
        raise RecordError(f"{where}: a record needs at least one metric")
    out = {}
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise RecordError(f"{where}: metric {key!r} is not a scalar: {value!r}") from None
        if not math.isfinite(number):
            raise RecordError(
                f"{where}: metric {key!r} is {number}; the run failed and no record was written"
            )
        out[str(key)] = number
    return out


def _supersede(path: Path, experiment: str, seed: int) -> None:
    """Move the label's records of the same run under another configuration to ``superseded/``
    (the profile changed; they are kept, never read by reports)."""
    own = re.compile(rf"^{re.escape(experiment)}-seed{int(seed)}-[0-9a-f]{{12}}\.json$")
    for other in path.parent.glob(f"{experiment}-seed{int(seed)}-*.json"):
        if other != path and own.match(other.name):
            target = path.parent / SUPERSEDED / other.name
            target.parent.mkdir(exist_ok=True)
            shutil.move(str(other), str(target))


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
    """Write one run's record atomically and return its path.

    Non-finite metrics are a :class:`RecordError` (a failed run): nothing is written.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative int, got {seed!r}")
    where = f"{chapter}/{experiment} seed {seed}"
    record = {
        "chapter": chapter,
        "experiment": experiment,
        "profile": profile,
        "seed": seed,
        "config": json.loads(json.dumps(dict(config), default=str)),
        "config_hash": config_hash(config),
        "metrics": _check_metrics(metrics, where),
        "wall_time_s": float(wall_time_s),
        "code": code_version(),
        "versions": package_versions(),
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    text = json.dumps(record, indent=2, sort_keys=True, allow_nan=False)
    path = record_path(chapter, experiment, seed, profile, config)
    atomic_write_text(path, text)
    _supersede(path, experiment, seed)
    return path


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name}")


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    """Load one record; a damaged or incomplete file is a :class:`RecordError` naming it."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(), parse_constant=_reject_constant)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise RecordError(
            f"unreadable record {path} ({err}); delete it to recompute that run"
        ) from None
    missing = [k for k in _FIELDS if not isinstance(record, dict) or k not in record]
    if missing:
        raise RecordError(
            f"record {path} lacks {', '.join(map(repr, missing))}; delete it to recompute that run"
        )
    return record


def is_current(record: Mapping[str, Any], policy: str = "exact") -> bool:
    """Whether a stored record may be reused under ``policy`` (see :func:`reuse_policy`)."""
    return policy == "config" or same_code(record.get("code"), record.get("versions"))


def find_record(
    chapter: str,
    experiment: str,
    *,
    profile: str,
    seed: int,
    config: Mapping[str, Any],
    reuse: str | None = None,
) -> dict[str, Any] | None:
    """The stored record of this run and configuration if it is reusable (see
    :func:`reuse_policy`), else None (also when another shard has not written it yet)."""
    path = record_path(chapter, experiment, seed, profile, config)
    if not path.exists():
        return None
    record = read_record(path)
    return record if is_current(record, reuse_policy(reuse)) else None


def cached_run(
    chapter: str,
    experiment: str,
    *,
    profile: str,
    seed: int,
    config: Mapping[str, Any],
    run: Callable[[], Mapping[str, Any]],
    timer: Callable[[], float],
    reuse: str | None = None,
) -> dict[str, Any]:
    """Return the stored record of this configuration when its code version is current (see
    :func:`reuse_policy`), else run, store and return it.

    This is how long experiments resume: each finished seed is on disk, an interrupted one is
    simply run again.
    """
    found = find_record(chapter, experiment, seed=seed, profile=profile, config=config, reuse=reuse)
    if found is not None:
        return found
    path = record_path(chapter, experiment, seed, profile, config)
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
    profile: str | None = None,
    chapter: str | None = None,
    root: str | os.PathLike | None = None,
    reuse: str | None = None,
) -> pd.DataFrame:
    """The current records under ``root`` as a tidy table: one row per (record, metric).

    Records of another code version are left out unless ``reuse="config"`` (or
    ``CIBR_LAB_REUSE=config``); ``superseded/`` folders are never read. Columns: chapter,
    experiment, profile, seed, wall_time_s, git_commit, config_hash, path, metric, value, and one
    column per scalar config key. ``df.attrs["stale"]`` counts the records left out.
    """
    from cibr_lab.runtime.paths import results_dir

    policy = reuse_policy(reuse)
    root = Path(root) if root is not None else results_dir()
    pattern = f"{profile or '*'}/{chapter or '*'}/*.json"
    rows, stale = [], 0
    for path in sorted(root.glob(pattern)):
        rec = read_record(path)
        if not is_current(rec, policy):
            stale += 1
            continue
        base = {
            "chapter": rec["chapter"],
            "experiment": rec["experiment"],
            "profile": rec["profile"],
            "seed": rec["seed"],
            "wall_time_s": rec["wall_time_s"],
            "git_commit": (rec.get("code") or {}).get("commit"),
            "config_hash": rec.get("config_hash"),
            "path": str(path),
            **{k: v for k, v in rec["config"].items() if not isinstance(v, (list, dict))},
        }
        rows.extend({**base, "metric": m, "value": v} for m, v in rec["metrics"].items())
    columns = [
        "chapter", "experiment", "profile", "seed", "wall_time_s", "git_commit", "config_hash",
        "path", "metric", "value",
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=None if rows else columns)
    table.attrs["stale"] = stale
    return table

"""Where data and results live (overridable by ``CIBR_LAB_DATA`` / ``CIBR_LAB_RESULTS``)."""

from __future__ import annotations

import os
from pathlib import Path

from cibr_lab.errors import ConfigError

DATA_ENV = "CIBR_LAB_DATA"
RESULTS_ENV = "CIBR_LAB_RESULTS"


def _folder(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    if value is None:
        return default
    if not value.strip():
        raise ConfigError(f"{env} is set but empty; unset it or name a folder")
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{env}={value!r} is a file, not a folder")
    return path


def data_dir() -> Path:
    """Root of the full-profile datasets (default ``~/.cache/cibr_lab/data``)."""
    return _folder(DATA_ENV, Path.home() / ".cache" / "cibr_lab" / "data")


def results_dir() -> Path:
    """Root of experiment records and figures (default ``./results``)."""
    return _folder(RESULTS_ENV, Path("results")).resolve()

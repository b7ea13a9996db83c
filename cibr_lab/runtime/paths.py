"""Where data and results live (overridable by ``CIBR_LAB_DATA`` / ``CIBR_LAB_RESULTS``)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "CIBR_LAB_DATA"
RESULTS_ENV = "CIBR_LAB_RESULTS"


def data_dir() -> Path:
    """Root of the full-profile datasets (default ``~/.cache/cibr_lab/data``)."""
    return Path(os.environ.get(DATA_ENV, Path.home() / ".cache" / "cibr_lab" / "data"))


def results_dir() -> Path:
    """Root of experiment records and figures (default ``./results``)."""
    return Path(os.environ.get(RESULTS_ENV, "results")).resolve()

"""The raw arrays a data source yields."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    """Inputs ``x [N, ...]`` and labels ``y [N]``; ``x_test``/``y_test`` None when the source
    has no official test split."""

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

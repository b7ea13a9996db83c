"""Small statistics helpers shared by tables, plots and the claims report."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats


def mean_ci(
    values: Sequence[float] | np.ndarray, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval over independent runs (seeds).

    With fewer than two finite values the interval is (nan, nan).
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, df=x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def summarise(df: pd.DataFrame, by: Sequence[str], value: str = "value") -> pd.DataFrame:
    """Group ``df`` by ``by`` and report n, mean and the 95% interval of ``value``."""
    rows = []
    for key, group in df.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        mean, lo, hi = mean_ci(group[value].to_numpy())
        rows.append(
            {**dict(zip(by, key)), "n": len(group), "mean": mean, "ci_low": lo, "ci_high": hi}
        )
    return pd.DataFrame(rows)

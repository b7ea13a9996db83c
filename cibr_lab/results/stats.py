"""Small statistics helpers shared by tables, plots and the claims report."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats


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


def t_test(values: Sequence[float] | np.ndarray, threshold: float = 0.0) -> float:
    """Two-sided one-sample Student-t p-value of ``mean(values) == threshold``.

    With zero spread the p-value is 0 when the mean differs from the threshold and 1 when it
    equals it; with fewer than two values it is nan.
    """
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return math.nan
    sd = float(x.std(ddof=1))
    diff = float(x.mean()) - threshold
    if sd == 0.0:
        return 0.0 if diff != 0.0 else 1.0
    t = diff / (sd / math.sqrt(x.size))
    return float(2 * stats.t.sf(abs(t), df=x.size - 1))


def min_detectable_effect(n: int, sd: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true mean shift a two-sided one-sample t-test at level ``alpha`` detects with
    probability ``power``, for ``n`` independent runs whose spread is ``sd`` (noncentral t).

    In the units of the measured values; nan for ``n < 2``, 0 for ``sd == 0``.
    """
    if n < 2 or not math.isfinite(sd):
        return math.nan
    if sd == 0.0:
        return 0.0
    df = n - 1
    crit = stats.t.ppf(1 - alpha / 2, df)

    def shortfall(nc: float) -> float:
        lower = stats.nct.cdf(-crit, df, nc)  # the wrong-side rejections; nan once negligible
        return stats.nct.sf(crit, df, nc) + (lower if np.isfinite(lower) else 0.0) - power

    hi = 1.0
    while shortfall(hi) < 0:
        hi *= 2
    nc = optimize.brentq(shortfall, 0.0, hi, xtol=1e-10)
    return float(nc * sd / math.sqrt(n))


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (nan entries stay nan and do not count)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    order = idx[np.argsort(p[idx], kind="stable")]
    m = order.size
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out

"""Budget-curve summaries: area under the budget curve and labelling efficiency."""

from __future__ import annotations

import numpy as np


def _curve(
    n_labels: np.ndarray | list, accuracy: np.ndarray | list
) -> tuple[np.ndarray, np.ndarray]:
    n = np.asarray(n_labels, dtype=float)
    acc = np.asarray(accuracy, dtype=float)
    if n.ndim != 1 or n.shape != acc.shape:
        raise ValueError(
            f"n_labels and accuracy must be 1-d of equal length, got {n.shape} and {acc.shape}"
        )
    if n.size < 2:
        raise ValueError(f"a budget curve needs at least 2 points, got {n.size}")
    if not (np.isfinite(n).all() and np.isfinite(acc).all()):
        raise ValueError("n_labels and accuracy must be finite")
    if np.any(np.diff(n) <= 0):
        raise ValueError("n_labels must be strictly increasing")
    return n, acc


def aubc(n_labels: np.ndarray | list, accuracy: np.ndarray | list) -> float:
    """Area under the budget curve: trapezoid area of accuracy over labels / label range.

    ``n_labels [R]`` strictly increasing, ``accuracy [R]``; the result is on the accuracy's scale
    (a constant curve c gives c).
    """
    n, acc = _curve(n_labels, accuracy)
    area = float(np.sum(np.diff(n) * (acc[1:] + acc[:-1]) / 2))
    return area / float(n[-1] - n[0])


def labeling_efficiency(
    n_labels: np.ndarray | list,
    accuracy: np.ndarray | list,
    reference_n_labels: np.ndarray | list,
    reference_accuracy: np.ndarray | list,
) -> np.ndarray:
    """DISTIL-style labelling efficiency of a curve against a reference (usually random).

    For each point ``(n_i, acc_i)`` of the curve: the labels the reference needs to reach
    ``acc_i`` (linear interpolation along the reference's running-maximum curve) divided by
    ``n_i``. Values above 1 mean the strategy saves labels; NaN where the reference never
    reaches ``acc_i``; ``ref_n[0] / n_i`` where it reaches it at its first point. Returns ``[R]``.
    """
    n, acc = _curve(n_labels, accuracy)
    rn, racc = _curve(reference_n_labels, reference_accuracy)
    best = np.maximum.accumulate(racc)
    out = np.full(n.shape, np.nan)
    for i, target in enumerate(acc):
        hit = np.nonzero(best >= target)[0]
        if hit.size == 0:
            continue
        j = hit[0]
        if j == 0:
            out[i] = rn[0] / n[i]
            continue
        frac = (target - best[j - 1]) / (best[j] - best[j - 1])
        out[i] = (rn[j - 1] + frac * (rn[j] - rn[j - 1])) / n[i]
    return out

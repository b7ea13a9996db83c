"""Threshold-free OOD metrics, ID as the positive class and higher score = more ID."""

from __future__ import annotations

import numpy as np
import torch

METRICS = ("auroc", "aupr_in", "aupr_out", "fpr95")


def as_scores(values: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    """``values`` as a finite, non-empty float64 vector; a clear error otherwise."""
    if isinstance(values, torch.Tensor):
        values = values.detach().to("cpu", torch.float64).numpy()
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector of scores, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a metric needs at least one score")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} holds {int(bad.sum())} NaN or infinite value(s)")
    return arr


def _curve(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative true and false positives at each distinct threshold, highest first."""
    scores = np.concatenate([pos, neg])
    is_pos = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    order = np.argsort(-scores, kind="mergesort")
    scores, is_pos = scores[order], is_pos[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    tps = np.cumsum(is_pos)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    return tps, fps


def _average_precision(pos: np.ndarray, neg: np.ndarray) -> float:
    tps, fps = _curve(pos, neg)
    precision = tps / (tps + fps)
    recall_steps = np.diff(np.r_[0.0, tps]) / pos.size
    return float(np.sum(recall_steps * precision))


def _auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    tps, fps = _curve(pos, neg)
    tpr = np.r_[0.0, tps / pos.size]
    fpr = np.r_[0.0, fps / neg.size]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def _fpr_at_tpr(pos: np.ndarray, neg: np.ndarray, level: float) -> float:
    tps, fps = _curve(pos, neg)
    first = int(np.argmax(tps / pos.size >= level))
    return float(fps[first] / neg.size)


def ood_metrics(
    id_scores: np.ndarray | torch.Tensor, ood_scores: np.ndarray | torch.Tensor
) -> dict[str, float]:
    """AUROC, AUPR-In, AUPR-Out and FPR at 95% TPR, as fractions.

    Parameters
    ----------
    id_scores : [N_id] scores of in-distribution samples (higher = more ID; the positive class).
    ood_scores : [N_ood] scores of OOD samples.

    Returns
    -------
    dict with ``auroc``, ``aupr_in`` (average precision, ID positive), ``aupr_out`` (average
    precision, OOD positive, scores negated) and ``fpr95`` (fraction of OOD samples scored at or
    above the highest threshold that keeps 95% of ID samples). Ties count as scikit-learn counts
    them: tied samples enter the curve together.
    """
    pos = as_scores(id_scores, "id_scores")
    neg = as_scores(ood_scores, "ood_scores")
    return {
        "auroc": _auroc(pos, neg),
        "aupr_in": _average_precision(pos, neg),
        "aupr_out": _average_precision(-neg, -pos),
        "fpr95": _fpr_at_tpr(pos, neg, 0.95),
    }

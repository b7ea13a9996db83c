"""Threshold-free OOD metrics from scores where higher = more in-distribution (ID).

Two conventions are in use and both are computed, under distinct names:

* the ReAct / Energy / GradNorm papers' (and scikit-learn's with ID labelled 1): ID is the
  positive class; ``fpr95`` is the fraction of OOD samples *accepted* when 95% of ID samples
  are kept; ``aupr_in`` / ``aupr_out`` are step-wise average precision;
* OpenOOD v1.5's ``compute_all_metrics``: OOD is the positive class with confidence ``-score``;
  ``fpr95_openood`` is the fraction of ID samples *rejected* when 95% of OOD samples are
  rejected; ``aupr_in_trapz`` / ``aupr_out_trapz`` integrate the precision-recall curve by the
  trapezoid rule (its ``auc(recall, precision)``), which differs from the step-wise figure by up
  to a few points on small or tied sets.

AUROC is the same under both. Ties count as scikit-learn counts them: tied samples enter the
curve together.
"""

from __future__ import annotations

import numpy as np
import torch

METRICS = (
    "auroc",
    "aupr_in",
    "aupr_out",
    "fpr95",
    "fpr95_openood",
    "aupr_in_trapz",
    "aupr_out_trapz",
)


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
    """Step-wise: ``sum_k (R_k - R_{k-1}) P_k`` (scikit-learn's ``average_precision_score``)."""
    tps, fps = _curve(pos, neg)
    precision = tps / (tps + fps)
    recall_steps = np.diff(np.r_[0.0, tps]) / pos.size
    return float(np.sum(recall_steps * precision))


def _aupr_trapz(pos: np.ndarray, neg: np.ndarray) -> float:
    """Trapezoid area under precision(recall), the curve starting at (recall 0, precision 1)."""
    tps, fps = _curve(pos, neg)
    precision = np.r_[1.0, tps / (tps + fps)]
    recall = np.r_[0.0, tps / pos.size]
    return float(np.sum(np.diff(recall) * (precision[1:] + precision[:-1]) / 2))


def _auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    tps, fps = _curve(pos, neg)
    tpr = np.r_[0.0, tps / pos.size]
    fpr = np.r_[0.0, fps / neg.size]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def _corners(tps: np.ndarray, fps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The curve without the interior points of straight runs (scikit-learn's ``roc_curve``
    with its default ``drop_intermediate=True``, as OpenOOD calls it)."""
    if tps.size <= 2:
        return tps, fps
    bend = (np.diff(tps, 2) != 0) | (np.diff(fps, 2) != 0)
    keep = np.r_[True, bend, True]
    return tps[keep], fps[keep]


def _fpr_at_tpr(pos: np.ndarray, neg: np.ndarray, level: float, corners: bool = False) -> float:
    """Fraction of negatives at or above the highest threshold keeping ``level`` of positives
    (``corners``: the first such point among the curve's corners only)."""
    tps, fps = _curve(pos, neg)
    if corners:
        tps, fps = _corners(tps, fps)
    first = int(np.argmax(tps / pos.size >= level))
    return float(fps[first] / neg.size)


def ood_metrics(
    id_scores: np.ndarray | torch.Tensor, ood_scores: np.ndarray | torch.Tensor
) -> dict[str, float]:
    """Every metric of :data:`METRICS`, as fractions.

    Parameters
    ----------
    id_scores : [N_id] scores of in-distribution samples (higher = more ID).
    ood_scores : [N_ood] scores of OOD samples.

    Returns
    -------
    dict with

    * ``auroc``;
    * ``fpr95``: ID positive; the fraction of OOD samples scored at or above the highest
      threshold that keeps 95% of ID samples (OOD accepted at 95% ID recall);
    * ``fpr95_openood``: OOD positive (OpenOOD v1.5); the fraction of ID samples scored at or
      below the lowest threshold that rejects 95% of OOD samples (ID rejected at 95% OOD recall).
      As in OpenOOD, the threshold is sought among the ROC curve's corners only: where tied
      groups of equal make-up form a straight run across 95%, the run's end is taken (without
      ties the two readings agree);
    * ``aupr_in`` / ``aupr_out``: step-wise average precision with ID / OOD positive (scores
      negated for OOD);
    * ``aupr_in_trapz`` / ``aupr_out_trapz``: the same curves integrated by trapezoids from
      (recall 0, precision 1), as OpenOOD v1.5 reports AUPR.
    """
    pos = as_scores(id_scores, "id_scores")
    neg = as_scores(ood_scores, "ood_scores")
    return {
        "auroc": _auroc(pos, neg),
        "aupr_in": _average_precision(pos, neg),
        "aupr_out": _average_precision(-neg, -pos),
        "fpr95": _fpr_at_tpr(pos, neg, 0.95),
        "fpr95_openood": _fpr_at_tpr(-neg, -pos, 0.95, corners=True),
        "aupr_in_trapz": _aupr_trapz(pos, neg),
        "aupr_out_trapz": _aupr_trapz(-neg, -pos),
    }

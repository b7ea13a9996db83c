"""The committee rule: flag an OOD image when k of m annotators agree on one ID class."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Committee:
    """Votes of ``m`` annotators on ``N`` images and the committee's decision.

    ``votes`` ``[N, m]`` (each annotator's top ID class), ``confidence`` ``[N, m]`` (its
    probability), ``agreement`` ``[N]`` (annotators confidently voting for the winning class),
    ``label`` ``[N]`` (that class, ``-1`` where the image stays OOD) and ``flagged`` ``[N]``
    (``agreement >= k``: the image is removed as in-distribution contamination).
    """

    votes: np.ndarray
    confidence: np.ndarray
    agreement: np.ndarray
    label: np.ndarray
    flagged: np.ndarray
    k: int
    threshold: float


def committee_filter(probs: np.ndarray | torch.Tensor, k: int, threshold: float) -> Committee:
    """Apply the k-of-m rule.

    Parameters
    ----------
    probs : ``[m, N, C]`` probabilities that ``m`` annotators give the ``C`` ID classes (the
        rest of each row's mass, if any, is "none of the ID classes").
    k : how many annotators must agree on the same class, ``1 <= k <= m``.
    threshold : the confidence (top probability) a vote needs to count, in ``[0, 1]``.
    """
    if isinstance(probs, torch.Tensor):
        probs = probs.detach().cpu().numpy()
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 3 or 0 in probs.shape:
        raise ValueError(f"probs must be a non-empty [m, N, C] array, got shape {probs.shape}")
    if not np.isfinite(probs).all():
        raise ValueError("probs holds NaN or infinite values")
    if probs.min() < 0 or probs.sum(axis=2).max() > 1 + 1e-4:
        raise ValueError("probs must be probabilities: non-negative, summing to at most 1")
    m, n, c = probs.shape
    if not 1 <= k <= m:
        raise ValueError(f"k must lie in [1, m={m}], got {k}")
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
    votes, conf = probs.argmax(axis=2).T, probs.max(axis=2).T
    counted = np.where(conf >= threshold, votes, c)
    cells = (np.arange(n)[:, None] * (c + 1) + counted).ravel()
    tally = np.bincount(cells, minlength=n * (c + 1)).reshape(n, c + 1)[:, :c]
    agreement, winner = tally.max(axis=1), tally.argmax(axis=1)
    flagged = agreement >= k
    return Committee(
        votes=votes,
        confidence=conf,
        agreement=agreement,
        label=np.where(flagged, winner, -1),
        flagged=flagged,
        k=int(k),
        threshold=float(threshold),
    )


def precision_recall(flagged: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Precision and recall of flagged items against the injected contamination (both ``[N]``
    booleans). Precision is NaN when nothing is flagged, recall NaN when nothing was injected."""
    flagged, truth = np.asarray(flagged, dtype=bool), np.asarray(truth, dtype=bool)
    if flagged.shape != truth.shape or flagged.ndim != 1:
        raise ValueError(
            f"flagged {flagged.shape} and truth {truth.shape} must be equal 1-D shapes"
        )
    hits = float(np.sum(flagged & truth))
    return {
        "precision": hits / flagged.sum() if flagged.any() else float("nan"),
        "recall": hits / truth.sum() if truth.any() else float("nan"),
        "n_flagged": float(flagged.sum()),
        "n_injected": float(truth.sum()),
    }


def annotate(
    models: list[torch.nn.Module], images: torch.Tensor, batch_size: int = 1024
) -> np.ndarray:
    """Class probabilities ``[m, N, C]`` of each annotator model on ``images [N, ...]``."""
    out = []
    for model in models:
        device = next(model.parameters()).device
        with torch.no_grad():
            probs = [model(x.to(device)).softmax(dim=1).cpu() for x in images.split(batch_size)]
        out.append(torch.cat(probs).double().numpy())
    return np.stack(out)


def select_committee(
    probs: np.ndarray | torch.Tensor,
    truth: np.ndarray,
    ks: list[int],
    thresholds: list[float],
) -> tuple[int, float, float]:
    """The ``(k, threshold)`` of the grid whose flags best match ``truth`` (F1 of precision and
    recall; ties keep the first grid point, ``ks`` outer), with that F1.

    Parameters
    ----------
    probs : ``[m, N, C]`` annotator probabilities on the *validation* OOD images.
    truth : ``[N]`` booleans, True where an ID image was injected.
    ks, thresholds : the candidate values (non-empty).
    """
    truth = np.asarray(truth, dtype=bool)
    if not ks or not thresholds:
        raise ValueError(f"the committee grid is empty: ks={ks}, thresholds={thresholds}")
    if truth.ndim != 1 or truth.size != np.shape(probs)[1]:
        raise ValueError(f"truth has shape {truth.shape}, probs {np.shape(probs)}: need [N]")
    if not truth.any():
        raise ValueError("the validation OOD sets hold no injected image: nothing to select on")
    best: tuple[int, float, float] | None = None
    for k in ks:
        for threshold in thresholds:
            stats = precision_recall(committee_filter(probs, k, threshold).flagged, truth)
            p, r = stats["precision"], stats["recall"]
            f1 = 0.0 if not (p + r > 0) else 2 * p * r / (p + r)
            if best is None or f1 > best[2]:
                best = (int(k), float(threshold), f1)
    return best

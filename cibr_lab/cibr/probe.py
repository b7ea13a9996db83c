"""How much of a factor an embedding keeps (a linear probe), and the modality gap."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch import Tensor


def linear_probe_accuracy(
    train_emb: Tensor | np.ndarray,
    train_factor: Tensor | np.ndarray,
    test_emb: Tensor | np.ndarray,
    test_factor: Tensor | np.ndarray,
    c: float = 1.0,
    max_iter: int = 500,
) -> dict[str, float]:
    """Held-out accuracy of a logistic-regression probe predicting a discrete factor.

    ``*_emb [N, D]``, ``*_factor [N]`` integer codes. Returns ``{"accuracy", "chance"}``, where
    chance is the test frequency of the most frequent training value: the probe keeps the
    factor only as far as ``accuracy`` exceeds ``chance``.
    """
    xtr, xte = (np.asarray(torch.as_tensor(x).float().cpu()) for x in (train_emb, test_emb))
    ytr, yte = (
        np.asarray(torch.as_tensor(y).cpu()).astype(np.int64) for y in (train_factor, test_factor)
    )
    if xtr.ndim != 2 or xte.ndim != 2 or xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"embeddings must be [N, D] with one D, got {xtr.shape} and {xte.shape}")
    if ytr.shape != (len(xtr),) or yte.shape != (len(xte),):
        raise ValueError("each factor needs one value per embedding row")
    values, counts = np.unique(ytr, return_counts=True)
    if values.size < 2:
        raise ValueError("the training factor takes a single value: nothing to probe")
    probe = LogisticRegression(C=c, max_iter=max_iter).fit(xtr, ytr)
    return {
        "accuracy": float((probe.predict(xte) == yte).mean()),
        "chance": float((yte == values[counts.argmax()]).mean()),
    }


def modality_gap(image_emb: Tensor, text_emb: Tensor) -> float:
    """``||mean(image_emb) - mean(text_emb)||``: distance between the centroids of the two
    (normalised) embedding clouds [Liang et al. 2022]. ``[N_img, D]``, ``[N_txt, D]``."""
    if image_emb.ndim != 2 or text_emb.ndim != 2 or image_emb.shape[1] != text_emb.shape[1]:
        raise ValueError(
            f"embeddings must be [N, D] with one D, got {tuple(image_emb.shape)} and "
            f"{tuple(text_emb.shape)}"
        )
    return float((image_emb.float().mean(0) - text_emb.float().mean(0)).norm())

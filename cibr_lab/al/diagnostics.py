"""Per-round diagnostics of an active-learning curve: does the trajectory carry information,
and is the selection biased?

Pure functions of predictions and weights (tested on constructed cases), plus
:func:`round_diagnostics`, which the loop calls once per round. Every value is a float;
trajectory measures are NaN for a learner with fewer than two snapshots.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import Tensor, nn

from cibr_lab.al import scores
from cibr_lab.al.learner import Learner, dropout_layers
from cibr_lab.info import mmd2

#: MC-dropout passes for the snapshot-BALD vs MC-dropout-BALD comparison.
MC_SAMPLES = 8
#: Unlabelled points (a fixed random subset) entering the labelled-vs-unlabelled MMD.
MMD_POINTS = 400

DIAGNOSTICS = (
    "query_class_entropy",
    "mmd_lu",
    "overlap_entropy_swa",
    "disagreement",
    "weight_distance",
    "bald_snapshots",
    "bald_mc",
)


def disagreement_rate(samples: Tensor) -> float:
    """Mean over snapshot pairs of the fraction of points whose argmax class differs.

    ``samples [K, N, C]`` (K >= 2); 0 when every snapshot predicts the same classes.
    """
    if samples.ndim != 3 or samples.shape[0] < 2:
        raise ValueError(f"samples must be [K >= 2, N, C], got shape {tuple(samples.shape)}")
    top = samples.argmax(-1)
    pairs = itertools.combinations(range(top.shape[0]), 2)
    return float(np.mean([(top[i] != top[j]).float().mean().item() for i, j in pairs]))


def weight_distance(models: list[nn.Module]) -> float:
    """Mean pairwise L2 distance between the models' parameter vectors, relative to their mean
    norm (0 for identical weights; about sqrt(2) for independent vectors of equal norm)."""
    if len(models) < 2:
        raise ValueError(f"weight_distance needs at least 2 models, got {len(models)}")
    flat = [torch.cat([p.detach().flatten().cpu() for p in m.parameters()]) for m in models]
    scale = float(np.mean([v.norm().item() for v in flat]))
    pairs = itertools.combinations(flat, 2)
    return float(np.mean([(a - b).norm().item() for a, b in pairs])) / scale


def top_overlap(picks: np.ndarray, candidates: np.ndarray, utilities: Tensor | np.ndarray) -> float:
    """Fraction of ``picks [q]`` among the top-q ``candidates [M]`` by ``utilities [M]``
    (1 when a strategy picks exactly what the utility ranks highest)."""
    utilities = torch.as_tensor(utilities)
    if utilities.shape != (len(candidates),):
        raise ValueError(
            f"utilities must be [M] = [{len(candidates)}], got shape {tuple(utilities.shape)}"
        )
    q = len(picks)
    if not 1 <= q <= len(candidates):
        raise ValueError(f"need 1 <= q <= {len(candidates)} picks, got {q}")
    top = set(np.asarray(candidates)[utilities.topk(q).indices.numpy()].tolist())
    return len(top & set(np.asarray(picks).tolist())) / q


def class_histogram_entropy(labels: np.ndarray, n_classes: int) -> float:
    """Entropy of the class histogram of ``labels [q]``, divided by ``log(n_classes)``:
    1 for a batch spread evenly over the classes, 0 for a batch of one class."""
    counts = np.bincount(np.asarray(labels), minlength=n_classes).astype(float)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum() / math.log(n_classes))


def labeled_unlabeled_mmd(
    x_pool: Tensor, labeled: np.ndarray, unlabeled: np.ndarray, generator: torch.Generator
) -> float:
    """MMD^2 (``cibr_lab.info.mmd2``) between the flattened inputs of the labelled points and
    of at most :data:`MMD_POINTS` random unlabelled points (input space, so the value does not
    depend on any model and compares strategies on one scale)."""
    pick = torch.randperm(len(unlabeled), generator=generator)[:MMD_POINTS].numpy()
    xl = x_pool[torch.as_tensor(labeled)].flatten(1)
    xu = x_pool[torch.as_tensor(np.asarray(unlabeled)[pick])].flatten(1)
    return float(mmd2(xl.float(), xu.float()))


def trajectory_diversity(learner: Learner, x: Tensor) -> dict[str, float]:
    """Disagreement rate, relative weight distance and mean snapshot BALD over ``x [N, ...]``,
    plus the mean MC-dropout BALD of the reported model (NaN without dropout); all NaN with
    fewer than two snapshots."""
    nan = float("nan")
    out = dict.fromkeys(("disagreement", "weight_distance", "bald_snapshots", "bald_mc"), nan)
    if len(learner.snapshots) < 2:
        return out
    samples = learner.snapshot_proba(x)
    out["disagreement"] = disagreement_rate(samples)
    out["weight_distance"] = weight_distance(learner.snapshots)
    out["bald_snapshots"] = float(scores.bald(samples).mean())
    if dropout_layers(learner.model):
        out["bald_mc"] = float(scores.bald(learner.mc_proba(x, MC_SAMPLES)).mean())
    return out


def round_diagnostics(
    learner: Learner,
    x_pool: Tensor,
    y_pool: Tensor,
    labeled: np.ndarray,
    unlabeled: np.ndarray,
    picks: np.ndarray | None,
    n_classes: int,
    generator: torch.Generator,
) -> dict[str, float]:
    """Every :data:`DIAGNOSTICS` value of one round.

    ``labeled`` / ``unlabeled``: the pool split the round trained on; ``picks``: the query's
    indices (None in the last round: query measures are NaN). ``overlap_entropy_swa`` is the
    overlap of the picks with the top-q entropy of the reported (SWA) model on the same learner.
    """
    nan = float("nan")
    x_unl = x_pool[torch.as_tensor(unlabeled)]
    out = {
        "mmd_lu": labeled_unlabeled_mmd(x_pool, labeled, unlabeled, generator),
        "query_class_entropy": nan,
        "overlap_entropy_swa": nan,
        **trajectory_diversity(learner, x_unl),
    }
    if picks is not None:
        out["query_class_entropy"] = class_histogram_entropy(
            y_pool[torch.as_tensor(picks)].numpy(), n_classes
        )
        entropy = scores.entropy(learner.predict_proba(x_unl))
        out["overlap_entropy_swa"] = top_overlap(picks, unlabeled, entropy)
    return out

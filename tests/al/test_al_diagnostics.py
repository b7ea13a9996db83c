"""Per-round diagnostics on constructed cases: snapshot disagreement, weight distance, pick
overlap, class-histogram entropy, labelled-vs-unlabelled MMD."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from cibr_lab.al.diagnostics import (
    MMD_POINTS,
    class_histogram_entropy,
    disagreement_rate,
    labeled_unlabeled_mmd,
    round_diagnostics,
    top_overlap,
    trajectory_diversity,
    weight_distance,
)
from cibr_lab.al.learner import Learner
from cibr_lab.al.nets import get_net
from cibr_lab.al.pool import Pool
from cibr_lab.al.strategies import get_strategy
from cibr_lab.info import mmd2

CPU = torch.device("cpu")


def _onehot(classes, n_classes=3):
    return nn.functional.one_hot(torch.tensor(classes), n_classes).float()


def test_disagreement_rate_is_the_mean_pairwise_argmax_mismatch():
    samples = torch.stack(
        [_onehot([0, 0, 1, 1]), _onehot([0, 1, 1, 1]), _onehot([0, 0, 1, 0])]
    )  # pairs differ on 1/4, 1/4 and 2/4 of the points
    assert disagreement_rate(samples) == pytest.approx(1 / 3)
    assert disagreement_rate(samples[[0, 0]]) == 0.0
    with pytest.raises(
        ValueError, match=r"samples must be \[K >= 2, N, C\], got shape \(1, 4, 3\)"
    ):
        disagreement_rate(samples[:1])


def test_weight_distance_is_relative_to_the_mean_norm():
    a, b = nn.Linear(1, 1), nn.Linear(1, 1)
    with torch.no_grad():
        a.weight.fill_(3.0), a.bias.fill_(4.0), b.weight.fill_(-3.0), b.bias.fill_(-4.0)
    assert weight_distance([a, b]) == pytest.approx(10 / 5)
    assert weight_distance([a, a]) == 0.0
    with pytest.raises(ValueError, match="needs at least 2 models, got 1"):
        weight_distance([a])


def test_top_overlap_counts_picks_among_the_top_q():
    candidates = np.array([10, 11, 12, 13])
    utilities = torch.tensor([0.1, 0.9, 0.5, 0.7])  # top-2: 11 and 13
    assert top_overlap(np.array([11, 12]), candidates, utilities) == 0.5
    assert top_overlap(np.array([13, 11]), candidates, utilities) == 1.0
    assert top_overlap(np.array([10]), candidates, utilities) == 0.0
    with pytest.raises(ValueError, match=r"utilities must be \[M\] = \[4\], got shape \(3,\)"):
        top_overlap(np.array([10]), candidates, utilities[:3])


def test_class_histogram_entropy_closed_forms():
    assert class_histogram_entropy(np.zeros(5, dtype=int), 10) == 0.0
    assert class_histogram_entropy(np.arange(10), 10) == pytest.approx(1.0)
    assert class_histogram_entropy(np.array([0, 0, 1, 1]), 4) == pytest.approx(
        math.log(2) / math.log(4)
    )


def test_identical_snapshots_have_no_diversity_and_one_snapshot_none_at_all():
    torch.manual_seed(0)
    net = get_net("mlp", (4,), 3, hidden=8, dropout=0.3).eval()
    x = torch.randn(20, 4)
    same = trajectory_diversity(Learner(net, CPU, [net, net]), x)
    assert same["disagreement"] == 0.0 and same["weight_distance"] == 0.0
    assert same["bald_snapshots"] == pytest.approx(0.0, abs=1e-6)
    assert same["bald_mc"] > 0  # MC dropout on a net with p = 0.3 does disagree
    one = trajectory_diversity(Learner(net, CPU, [net]), x)
    assert all(math.isnan(v) for v in one.values())


def test_entropy_picks_overlap_fully_and_mmd_uses_the_subsample():
    torch.manual_seed(0)
    net = get_net("mlp", (4,), 3, hidden=8).eval()
    learner = Learner(net, CPU)
    x, y = torch.randn(MMD_POINTS + 50, 4), torch.arange(MMD_POINTS + 50) % 3
    pool = Pool(x.shape[0], list(range(10)))
    picks = get_strategy("entropy").query(learner, x, pool, 5, torch.Generator()).indices
    out = round_diagnostics(learner, x, y, pool.labeled, pool.unlabeled, picks, 3,
                            torch.Generator().manual_seed(1))  # fmt: skip
    assert out["overlap_entropy_swa"] == 1.0  # entropy of the reported model is that ranking
    sub = torch.randperm(pool.n_unlabeled, generator=torch.Generator().manual_seed(1))
    ref = mmd2(x[:10], x[torch.as_tensor(pool.unlabeled)[sub[:MMD_POINTS]]])
    assert out["mmd_lu"] == pytest.approx(float(ref))
    assert math.isnan(out["disagreement"])  # no snapshots
    last = round_diagnostics(learner, x, y, pool.labeled, pool.unlabeled, None, 3,
                             torch.Generator().manual_seed(1))  # fmt: skip
    assert math.isnan(last["query_class_entropy"]) and math.isnan(last["overlap_entropy_swa"])
    assert labeled_unlabeled_mmd(x, pool.labeled, pool.unlabeled,
                                 torch.Generator().manual_seed(1)) == out["mmd_lu"]  # fmt: skip

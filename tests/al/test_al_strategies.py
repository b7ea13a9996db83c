"""Scores against closed forms; strategies through the registry on a tiny trained model."""

import math

import numpy as np
import pytest
import torch

from cibr_lab.al import scores
from cibr_lab.al.learner import Learner, MissingCapability
from cibr_lab.al.nets import ALNet, get_net
from cibr_lab.al.pool import Pool
from cibr_lab.al.strategies import STRATEGIES, get_strategy


def test_scores_closed_forms():
    p = torch.tensor([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.3, 0.2]])
    torch.testing.assert_close(scores.entropy(p)[:2], torch.tensor([0.0, math.log(3)]))
    torch.testing.assert_close(scores.least_confidence(p), torch.tensor([0.0, 2 / 3, 0.5]))
    torch.testing.assert_close(scores.margin(p), torch.tensor([-1.0, 0.0, -0.2]))


def test_bald_closed_forms():
    # samples that agree: zero mutual information; two confident, opposite samples: log 2
    agree = torch.tensor([[[0.7, 0.3]], [[0.7, 0.3]]])
    opposite = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])
    torch.testing.assert_close(scores.bald(agree), torch.tensor([0.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(scores.bald(opposite), torch.tensor([math.log(2)]))
    torch.testing.assert_close(scores.mean_entropy(opposite), torch.tensor([math.log(2)]))


def _learner(dropout=0.3, snapshots=0):
    torch.manual_seed(0)
    make = lambda: get_net("mlp", (4,), 3, hidden=8, dropout=dropout)
    snaps = []
    for _ in range(snapshots):
        snaps.append(make().eval())
    return Learner(make().eval(), torch.device("cpu"), snaps, batch_size=7)


@pytest.fixture
def setup():
    x = torch.randn(40, 4, generator=torch.Generator().manual_seed(0))
    pool = Pool(40, initial=[0, 1, 2, 3])
    return x, pool


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_returns_new_unique_indices(name, setup):
    x, pool = setup
    q = get_strategy(name).query(
        _learner(snapshots=3), x, pool, 5, torch.Generator().manual_seed(0)
    )
    assert q.indices.shape == (5,) and len(set(q.indices.tolist())) == 5
    assert not pool.labeled_mask[q.indices].any()
    assert np.array_equal(q.candidates, pool.unlabeled)
    if q.utilities is not None:
        assert q.utilities.shape == q.candidates.shape
        # the picks are the top utilities
        assert q.utilities[np.isin(q.candidates, q.indices)].min() >= np.sort(q.utilities)[-5]


def test_entropy_utilities_match_scores(setup):
    x, pool = setup
    learner = _learner()
    q = get_strategy("entropy").query(learner, x, pool, 3, torch.Generator())
    expected = scores.entropy(learner.predict_proba(x[pool.unlabeled]))
    np.testing.assert_allclose(q.utilities, expected.numpy(), rtol=1e-6)


def test_mpts_uses_snapshots(setup):
    x, pool = setup
    learner = _learner(snapshots=3)
    q = get_strategy("mpts", score="bald").query(learner, x, pool, 3, torch.Generator())
    expected = scores.bald(learner.snapshot_proba(x[pool.unlabeled]))
    np.testing.assert_allclose(q.utilities, expected.numpy(), rtol=1e-6)


def test_errors(setup):
    x, pool = setup
    with pytest.raises(KeyError, match="valid strategies: badge, bald, coreset"):
        get_strategy("vaal")
    with pytest.raises(KeyError, match="valid scores: bald, entropy"):
        get_strategy("mpts", score="variance")
    with pytest.raises(MissingCapability, match="trajectory snapshots"):
        get_strategy("mpts").query(_learner(), x, pool, 3, torch.Generator())
    with pytest.raises(MissingCapability, match="needs a model with dropout"):
        get_strategy("bald").query(_learner(dropout=0.0), x, pool, 3, torch.Generator())
    no_features = Learner(torch.nn.Linear(4, 3), torch.device("cpu"))
    with pytest.raises(MissingCapability, match="penultimate features"):
        get_strategy("coreset").query(no_features, x, pool, 3, torch.Generator())
    with pytest.raises(ValueError, match="x_pool has 39 rows but the pool has 40"):
        get_strategy("entropy").query(_learner(), x[:39], pool, 3, torch.Generator())
    with pytest.raises(ValueError, match="exceeds the 36 unlabelled"):
        get_strategy("random").query(_learner(), x, pool, 37, torch.Generator())
    with pytest.raises(ValueError, match="NaN"):
        get_strategy("coreset").query(_learner(), x * float("nan"), pool, 3, torch.Generator())
    with pytest.raises(KeyError, match="valid nets: cnn28, mlp, resnet18"):
        get_net("vit", (4,), 3)
    assert isinstance(get_net("cnn28", (1, 28, 28), 10), ALNet)

"""k-center greedy and BADGE seeding against naive full-distance-matrix references."""

import numpy as np
import pytest
import torch

from cibr_lab.al import badge_kmeanspp, gradient_embedding, kcenter_greedy
from cibr_lab.al.reference import naive_badge_kmeanspp, naive_kcenter_greedy


def _pool(n=300, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("n_labeled", [0, 1, 25])
def test_kcenter_matches_naive(n_labeled):
    x = _pool()
    mask = torch.zeros(300, dtype=torch.bool)
    mask[torch.randperm(300, generator=torch.Generator().manual_seed(1))[:n_labeled]] = True
    fast = kcenter_greedy(x, mask, 40, chunk_size=7)
    ref = naive_kcenter_greedy(x, mask, 40)
    assert torch.equal(fast, ref)
    assert not mask[fast].any()
    assert len(set(fast.tolist())) == 40


def test_kcenter_is_farthest_first():
    # 1-d points: with 0 labelled at the start, picks alternate to the extremes.
    x = torch.tensor([[0.0], [1.0], [2.0], [10.0]], dtype=torch.float64)
    mask = torch.tensor([True, False, False, False])
    assert kcenter_greedy(x, mask, 3).tolist() == [3, 2, 1]


def test_kcenter_accepts_numpy_and_float32():
    x = _pool().float().numpy()
    mask = np.zeros(300, dtype=bool)
    mask[:5] = True
    out = kcenter_greedy(x, mask, 10)
    assert out.dtype == torch.long and out.shape == (10,)


def test_kcenter_bad_input():
    x = _pool(20)
    mask = torch.zeros(20, dtype=torch.bool)
    with pytest.raises(ValueError, match="NaN"):
        kcenter_greedy(x.masked_fill(torch.eye(20, 8, dtype=torch.bool), float("nan")), mask, 2)
    with pytest.raises(ValueError, match="pool has 20 points"):
        kcenter_greedy(x, torch.zeros(19, dtype=torch.bool), 2)
    with pytest.raises(ValueError, match="exceeds the 20 unlabelled"):
        kcenter_greedy(x, mask, 21)
    with pytest.raises(ValueError, match="empty"):
        kcenter_greedy(torch.zeros(0, 8), torch.zeros(0, dtype=torch.bool), 1)
    with pytest.raises(ValueError, match="positive int"):
        kcenter_greedy(x, mask, 0)


def _probs_feats(n=200, c=5, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(torch.randn(n, c, generator=g, dtype=torch.float64) * 2, 1)
    return probs, torch.randn(n, d, generator=g, dtype=torch.float64)


def test_gradient_embedding_is_autograd_gradient():
    probs, h = _probs_feats(4, 3, 5)
    w = torch.zeros(3, 5, dtype=torch.float64, requires_grad=True)
    logits = torch.log(probs)
    for i in range(4):
        loss = torch.nn.functional.cross_entropy(
            (logits[i] + h[i] @ w.T)[None], probs[i].argmax()[None]
        )
        (grad,) = torch.autograd.grad(loss, w)
        torch.testing.assert_close(gradient_embedding(probs, h)[i], grad.reshape(-1))


def test_badge_matches_naive():
    probs, h = _probs_feats()
    fast = badge_kmeanspp(probs, h, 30, torch.Generator().manual_seed(3))
    ref = naive_badge_kmeanspp(probs, h, 30, torch.Generator().manual_seed(3))
    assert torch.equal(fast, ref)
    assert len(set(fast.tolist())) == 30
    g = gradient_embedding(probs, h)
    assert int(fast[0]) == int(g.norm(dim=1).argmax())


def test_badge_handles_duplicates():
    probs, h = _probs_feats(3)
    probs, h = probs[[0, 0, 0, 0]], h[[0, 0, 0, 0]]
    out = badge_kmeanspp(probs, h, 4, torch.Generator().manual_seed(0))
    assert sorted(out.tolist()) == [0, 1, 2, 3]


def test_badge_bad_input():
    probs, h = _probs_feats(10)
    with pytest.raises(ValueError, match="probs has 10 rows but features has 9"):
        badge_kmeanspp(probs, h[:9], 2)
    with pytest.raises(ValueError, match="NaN"):
        badge_kmeanspp(probs, h * float("nan"), 2)

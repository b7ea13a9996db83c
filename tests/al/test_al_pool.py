"""Pool bookkeeping and its errors."""

import numpy as np
import pytest

from cibr_lab.al.pool import Pool


def test_label_tracks_order_and_partition():
    pool = Pool(10, initial=[3, 1])
    pool.label(np.array([7, 0]))
    assert pool.labeled_order.tolist() == [3, 1, 7, 0]
    assert pool.labeled.tolist() == [0, 1, 3, 7]
    assert pool.unlabeled.tolist() == [2, 4, 5, 6, 8, 9]
    assert pool.n_labeled + pool.n_unlabeled == 10
    assert pool.labeled_mask.sum() == 4


def test_random_initial_is_reproducible():
    a = Pool.random_initial(50, 5, np.random.default_rng(0))
    b = Pool.random_initial(50, 5, np.random.default_rng(0))
    assert a.labeled_order.tolist() == b.labeled_order.tolist()
    assert a.n_labeled == 5


def test_errors():
    pool = Pool(5, initial=[2])
    with pytest.raises(ValueError, match="index 2 is already labelled"):
        pool.label([4, 2])
    assert pool.n_labeled == 1  # all or nothing
    with pytest.raises(ValueError, match="appears twice"):
        pool.label([0, 0])
    with pytest.raises(ValueError, match="outside the pool of 5"):
        pool.label([5])
    with pytest.raises(ValueError, match="exceeds the 4 unlabelled"):
        pool.check_budget(5)
    with pytest.raises(ValueError, match="pool is empty"):
        Pool(0)
    with pytest.raises(ValueError, match="exceeds the 3 unlabelled"):
        Pool.random_initial(3, 4, np.random.default_rng(0))

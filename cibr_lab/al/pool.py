"""The pool: which points are labelled, in what order they were labelled."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cibr_lab.al.validation import check_budget


class Pool:
    """Labelled / unlabelled bookkeeping over ``size`` pool points (indices ``0..size-1``).

    The labelling order is kept (``labeled_order``) so a run can be replayed or resumed.
    Labelling an index twice, an out-of-range index, a query budget larger than the unlabelled
    remainder, or an empty pool are ``ValueError``s naming the problem.
    """

    def __init__(self, size: int, initial: Sequence[int] | np.ndarray = ()) -> None:
        if not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"the pool is empty: size must be a positive int, got {size!r}")
        self.size = int(size)
        self._mask = np.zeros(self.size, dtype=bool)
        self._order: list[int] = []
        if len(initial):
            self.label(initial)

    @classmethod
    def random_initial(cls, size: int, n_initial: int, rng: np.random.Generator) -> Pool:
        """A pool with ``n_initial`` points labelled uniformly at random."""
        pool = cls(size)
        pool.check_budget(n_initial)
        pool.label(rng.choice(size, size=n_initial, replace=False))
        return pool

    @property
    def labeled_mask(self) -> np.ndarray:
        """``[size]`` bool, True where labelled (a copy)."""
        return self._mask.copy()

    @property
    def labeled_order(self) -> np.ndarray:
        """Labelled indices in the order they were labelled, ``[n_labeled]`` int64."""
        return np.asarray(self._order, dtype=np.int64)

    @property
    def labeled(self) -> np.ndarray:
        """Sorted labelled indices."""
        return np.flatnonzero(self._mask)

    @property
    def unlabeled(self) -> np.ndarray:
        """Sorted unlabelled indices."""
        return np.flatnonzero(~self._mask)

    @property
    def n_labeled(self) -> int:
        return len(self._order)

    @property
    def n_unlabeled(self) -> int:
        return self.size - self.n_labeled

    def check_budget(self, budget: int) -> None:
        """Raise unless ``1 <= budget <= n_unlabeled``."""
        check_budget(budget, self.n_unlabeled)

    def label(self, indices: Sequence[int] | np.ndarray) -> None:
        """Mark pool ``indices`` as labelled (all or nothing)."""
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(f"indices must be a 1-d array of ints, got {idx.dtype} {idx.shape}")
        idx = idx.astype(np.int64)
        bad = idx[(idx < 0) | (idx >= self.size)]
        if bad.size:
            raise ValueError(f"index {int(bad[0])} is outside the pool of {self.size} points")
        uniq, counts = np.unique(idx, return_counts=True)
        if np.any(counts > 1):
            raise ValueError(f"index {int(uniq[counts > 1][0])} appears twice in one labelling")
        already = idx[self._mask[idx]]
        if already.size:
            raise ValueError(f"index {int(already[0])} is already labelled")
        self._mask[idx] = True
        self._order.extend(idx.tolist())

"""Active-learning data: a pool (inputs and hidden labels) and a held-out test set.

Sources are a registry of loaders returning ``Split`` arrays; embedded sources ship in PyPI
packages, full-profile sources are read from the on-disk formats of their usual downloaders
(``cibr_lab.al.full_data``). Inputs are standardised with the pool's statistics (per channel
for images, per feature for tables).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from cibr_lab.al import full_data
from cibr_lab.al.split import Split
from cibr_lab.data.embedded import load_animals, load_mnist5k
from cibr_lab.errors import ConfigError


@dataclass(frozen=True)
class ALData:
    """``x_pool [N, ...]`` float32, ``y_pool [N]`` int64 (revealed on labelling), test alike."""

    name: str
    x_pool: Tensor
    y_pool: Tensor
    x_test: Tensor
    y_test: Tensor
    n_classes: int

    @property
    def in_shape(self) -> tuple[int, ...]:
        return tuple(self.x_pool.shape[1:])


def _digits() -> Split:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return Split(x.astype(np.float32), y.astype(np.int64))


def _image_set(loader: Callable) -> Callable[[], Split]:
    def load() -> Split:
        images = loader()
        return Split(images.images, images.labels)

    return load


SOURCES: dict[str, Callable[[], Split]] = {
    "mnist5k": _image_set(load_mnist5k),
    "animals": _image_set(load_animals),
    "digits": _digits,
    "cifar10": full_data.cifar10,
    "svhn": full_data.svhn,
    "openml6": lambda: full_data.openml(6),
    "openml155": lambda: full_data.openml(155),
}


def _stratified_take(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices spread over classes in proportion (a shuffled, class-interleaved order)."""
    order = rng.permutation(y.size)
    ranks = np.empty(y.size, dtype=float)
    for c in np.unique(y):
        members = order[y[order] == c]
        ranks[members] = (np.arange(members.size) + rng.random()) / members.size
    return np.argsort(ranks, kind="stable")[:n]


def _standardise(pool: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    axes = (0, *range(2, pool.ndim)) if pool.ndim > 2 else (0,)
    mean = pool.mean(axis=axes, keepdims=True)
    std = pool.std(axis=axes, keepdims=True) + 1e-6
    return [((a - mean) / std).astype(np.float32) for a in (pool, *others)]


def load_al_data(
    source: str, pool_size: int | None, test_size: int | None, split_seed: int = 0
) -> ALData:
    """A pool and a test set from ``source`` (a key of :data:`SOURCES`).

    Without an official test split, ``test_size`` points are held out first (class-stratified);
    the pool is a stratified subsample of ``pool_size`` of the rest (None = all). The split
    depends on ``split_seed`` only, so every seed and strategy sees the same pool.
    """
    if source not in SOURCES:
        raise ConfigError(f"unknown AL data source {source!r}; valid sources: {', '.join(SOURCES)}")
    raw = SOURCES[source]()
    rng = np.random.default_rng(split_seed)
    x, y, x_test, y_test = raw.x, raw.y, raw.x_test, raw.y_test
    if x_test is None:
        if test_size is None or not 0 < test_size < y.size:
            raise ValueError(f"{source} has no test split: test_size must be in (0, {y.size})")
        held = _stratified_take(y, test_size, rng)
        rest = np.setdiff1d(np.arange(y.size), held)
        x_test, y_test, x, y = x[held], y[held], x[rest], y[rest]
    elif test_size is not None and test_size < y_test.size:
        keep = _stratified_take(y_test, test_size, rng)
        x_test, y_test = x_test[keep], y_test[keep]
    if pool_size is not None:
        if pool_size > y.size:
            raise ValueError(f"pool_size {pool_size} exceeds the {y.size} points of {source}")
        keep = _stratified_take(y, pool_size, rng)
        x, y = x[keep], y[keep]
    x, x_test = _standardise(x, x_test)
    n_classes = int(max(y.max(), y_test.max()) + 1)
    return ALData(
        source,
        torch.from_numpy(x),
        torch.from_numpy(y.astype(np.int64)),
        torch.from_numpy(x_test),
        torch.from_numpy(y_test.astype(np.int64)),
        n_classes,
    )


def validation_split(data: ALData, test_size: int, split_seed: int = 0) -> ALData:
    """A validation task carved out of ``data``'s pool: ``test_size`` pool points
    (class-stratified) become the validation test set, the rest the validation pool.

    The test set of ``data`` is never touched, so choices made on the validation task do not
    see the points the reported numbers are measured on.
    """
    n = data.y_pool.shape[0]
    if not 0 < test_size < n:
        raise ConfigError(
            f"validation_test_size must be in (0, {n}) for {data.name}, got {test_size}"
        )
    y = data.y_pool.numpy()
    held = _stratified_take(y, test_size, np.random.default_rng(split_seed))
    rest = torch.from_numpy(np.setdiff1d(np.arange(n), held))
    held = torch.from_numpy(np.sort(held))
    return ALData(
        f"{data.name}-validation",
        data.x_pool[rest],
        data.y_pool[rest],
        data.x_pool[held],
        data.y_pool[held],
        data.n_classes,
    )

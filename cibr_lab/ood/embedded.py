"""The embedded OOD benchmark: real 28x28 data, near/far OOD sets and injected ID contamination.

ID: chosen MNIST-5k digit classes. OOD sources (a registry, chosen by the profile), each with
its OpenOOD group: ``digits_heldout`` (the other MNIST classes: near), ``animals`` (animal
silhouettes, another dataset: far), ``textures`` (patches of skimage pictures with the ID
images' mean and standard deviation: far), ``noise`` (uniform: far).

Contamination, as in the ImageNet OOD sets the paper cleans: real ID-class MNIST digits held
out of every ID split (never train, validation or test images, never degraded) replace a known
fraction of each OOD set. The validation OOD split (its own contaminated sets, from images
disjoint from every test set) is where every committee and shaping parameter is chosen.

The OOD-R annotators stand in for the paper's human annotators (or CLIP in the full profile),
who know what a texture or an animal is: they learn the ID classes (from the ID training
images and shifted views of them) plus one "none of them" label from an auxiliary part of every
OOD source that enters neither a test nor a validation set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from cibr_lab.data.embedded import load_animals, load_mnist5k
from cibr_lab.errors import ConfigError

#: the parts of every OOD source's pool: test sets, validation OOD split, annotators' data
PARTS = ("test", "val", "aux")


@dataclass(frozen=True)
class OODSet:
    """OOD images ``[N, 1, 28, 28]``, ``injected [N]`` (True = real ID-class contamination),
    ``item`` ids ``[N]`` (source and index) for the review outputs and the OpenOOD ``group``
    (``near`` or ``far``); ``injected`` is None where no ground truth exists (full profile)."""

    name: str
    images: torch.Tensor
    injected: np.ndarray | None
    items: list[str]
    group: str


@dataclass(frozen=True)
class Benchmark:
    """ID splits (images, labels), the contaminated test and validation OOD sets, and the
    annotators' training data (ID classes plus label ``len(classes)`` = none of them)."""

    classes: tuple[str, ...]
    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    ood: dict[str, OODSet]
    annotator_train: tuple[torch.Tensor, torch.Tensor]
    val_ood: dict[str, OODSet]


def _part(size: int, part: str) -> np.ndarray:
    """One fixed part of a pool's indices (half for the tests, a quarter each for validation
    and the annotators): the three never meet."""
    order = np.random.default_rng(12345).permutation(size)
    bounds = {
        "test": (0, size // 2),
        "val": (size // 2, 3 * size // 4),
        "aux": (3 * size // 4, size),
    }
    lo, hi = bounds[part]
    return order[lo:hi]


@cache
def _id_stats(id_classes: tuple[int, ...]) -> tuple[float, float]:
    """Mean and standard deviation of the ID classes' pixels (MNIST-5k)."""
    data = load_mnist5k()
    images = data.images[np.isin(data.labels, id_classes)]
    return float(images.mean()), float(images.std())


def _digits_heldout(
    n: int, id_classes: list[int], rng: np.random.Generator, part: str
) -> np.ndarray:
    data = load_mnist5k()
    pool = np.flatnonzero(~np.isin(data.labels, id_classes))
    pool = pool[_part(pool.size, part)]
    return data.images[rng.choice(pool, size=min(n, pool.size), replace=False)]


def _animals(n: int, id_classes: list[int], rng: np.random.Generator, part: str) -> np.ndarray:
    data = load_animals()
    pool = _part(len(data.images), part)
    return data.images[rng.choice(pool, size=min(n, pool.size), replace=False)]


_TEXTURE_IMAGES = {
    "test": ("brick", "grass", "gravel"),
    "val": ("camera", "coins"),
    "aux": ("moon", "page"),
}


def _textures(n: int, id_classes: list[int], rng: np.random.Generator, part: str) -> np.ndarray:
    """Random crops resized to 28x28, each standardised to the ID pixels' mean and std (clipped
    to [0, 1]): brightness and contrast alone tell nothing."""
    from skimage import data

    sources = [getattr(data, name)() for name in _TEXTURE_IMAGES[part]]
    out = np.empty((n, 1, 28, 28), np.float32)
    for i in range(n):
        img = sources[i % len(sources)]
        size = int(rng.integers(28, min(112, *img.shape)))
        r, c = rng.integers(0, img.shape[0] - size), rng.integers(0, img.shape[1] - size)
        out[i, 0] = _resize(img[r : r + size, c : c + size].astype(np.float32), 28)
    mean, std = _id_stats(tuple(id_classes))
    mu, sd = out.mean(axis=(1, 2, 3), keepdims=True), out.std(axis=(1, 2, 3), keepdims=True)
    return np.clip(mean + std * (out - mu) / np.maximum(sd, 1e-6), 0, 1).astype(np.float32)


def _noise(n: int, id_classes: list[int], rng: np.random.Generator, part: str) -> np.ndarray:
    if part != "aux":
        return rng.random((n, 1, 28, 28), dtype=np.float32)
    smooth = torch.nn.functional.avg_pool2d(torch.from_numpy(rng.random((n, 1, 28, 28))), 3, 1, 1)
    return smooth.float().numpy()


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(img))[None, None]
    return torch.nn.functional.interpolate(t, size=(size, size), mode="area")[0, 0].numpy()


@dataclass(frozen=True)
class Source:
    """An OOD source: ``draw(n, id_classes, rng, part) -> images [n, 1, 28, 28]`` in [0, 1]
    (``part`` one of :data:`PARTS`, disjoint images) and its OpenOOD ``group``."""

    draw: Callable[[int, list[int], np.random.Generator, str], np.ndarray]
    group: str


#: OOD sources by name
OOD_SOURCES: dict[str, Source] = {
    "digits_heldout": Source(_digits_heldout, "near"),
    "animals": Source(_animals, "far"),
    "textures": Source(_textures, "far"),
    "noise": Source(_noise, "far"),
}


def shifted_views(images: torch.Tensor, shift: int = 2) -> torch.Tensor:
    """``images [N, 1, H, W]`` shifted by ``shift`` pixels down-right, then up-left (zeros
    fill): ``[2N, 1, H, W]``, the annotators' extra views of the ID training images."""
    pad = torch.nn.functional.pad(images, (shift,) * 4)
    h, w = images.shape[-2:]
    return torch.cat([pad[..., :h, :w], pad[..., 2 * shift :, 2 * shift :]])


def _id_splits(
    cfg: dict, rng: np.random.Generator
) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], np.ndarray]:
    """Train, val and test ``(images, labels)`` per class, and the held-out rest of the ID
    classes' images (MNIST-5k indices, shuffled): the contamination pool."""
    mnist = load_mnist5k()
    sizes = [cfg["n_train_per_class"], cfg["n_val_per_class"], cfg["n_test_per_class"]]
    splits: list[list[np.ndarray]] = [[], [], []]
    rest = []
    for label, cls in enumerate(cfg["id_classes"]):
        pool = rng.permutation(np.flatnonzero(mnist.labels == cls))
        if pool.size < sum(sizes):
            raise ValueError(f"class {cls} has {pool.size} images, the splits need {sum(sizes)}")
        parts = np.split(pool[: sum(sizes)], np.cumsum(sizes)[:-1])
        for split, part in zip(splits, parts, strict=True):
            split.append(np.column_stack([part, np.full(part.size, label)]))
        rest.append(pool[sum(sizes) :])
    out = []
    for split in splits:
        idx = np.concatenate(split)
        out.append((torch.from_numpy(mnist.images[idx[:, 0]]), torch.from_numpy(idx[:, 1])))
    return out, rng.permutation(np.concatenate(rest))


def _contaminated(
    name: str, n: int, rate: float, pool: np.ndarray, rng: np.random.Generator, part: str, cfg: dict
) -> tuple[OODSet, np.ndarray]:
    """One OOD set of ``n`` images of which ``round(n * rate)`` are ID-class digits taken from
    the front of ``pool``; returns the set and the unused rest of the pool."""
    n_inject = int(round(n * rate))
    if n_inject > len(pool):
        raise ValueError(
            f"not enough held-out ID images for the contamination: {name} ({part}) needs "
            f"{n_inject}, {len(pool)} left; lower n_*_per_class, n_ood or contamination"
        )
    source = OOD_SOURCES[name]
    clean = source.draw(n - n_inject, list(cfg["id_classes"]), rng, part)
    dirty = load_mnist5k().images[pool[:n_inject]]
    order = rng.permutation(len(clean) + n_inject)
    images = np.concatenate([clean, dirty])[order]
    injected = np.r_[np.zeros(len(clean), bool), np.ones(n_inject, bool)][order]
    labels = [f"{name}:{i}" for i in range(len(clean))]
    labels += [f"mnist_id:{j}" for j in pool[:n_inject]]
    items = [labels[i] for i in order]
    images = torch.from_numpy(np.ascontiguousarray(images))
    return OODSet(name, images, injected, items, source.group), pool[n_inject:]


def build_benchmark(cfg: dict, seed: int = 0) -> Benchmark:
    """Build the benchmark from a profile's ``ood`` section; ``seed`` fixes splits and sets.

    Keys used: ``id_classes``, ``n_train_per_class``, ``n_val_per_class``,
    ``n_test_per_class``, ``ood_sets``, ``n_ood`` (images per test OOD set), ``n_val_ood``
    (per validation OOD set), ``contamination`` (fraction of each OOD set, test and
    validation, replaced by held-out ID-class digits), ``n_annotator_other`` (images per
    source for the annotators' "none of the ID classes" label).
    """
    unknown = sorted(set(cfg["ood_sets"]) - set(OOD_SOURCES))
    if unknown:
        raise ConfigError(f"unknown OOD source {unknown[0]!r}; valid: {', '.join(OOD_SOURCES)}")
    if not 0 <= cfg["contamination"] < 1:
        raise ValueError(f"contamination must lie in [0, 1), got {cfg['contamination']}")
    rng = np.random.default_rng(seed)
    id_classes = list(cfg["id_classes"])
    (train, val, test), pool = _id_splits(cfg, rng)
    ood, val_ood = {}, {}
    for name in cfg["ood_sets"]:
        ood[name], pool = _contaminated(
            name, cfg["n_ood"], cfg["contamination"], pool, rng, "test", cfg
        )
    for name in cfg["ood_sets"]:
        val_ood[name], pool = _contaminated(
            name, cfg["n_val_ood"], cfg["contamination"], pool, rng, "val", cfg
        )
    other = np.concatenate(
        [s.draw(cfg["n_annotator_other"], id_classes, rng, "aux") for s in OOD_SOURCES.values()]
    )
    x, y = train
    annotator_train = (
        torch.cat([x, shifted_views(x), torch.from_numpy(other)]),
        torch.cat([y, y.repeat(2), torch.full((len(other),), len(id_classes))]),
    )
    classes = tuple(load_mnist5k().classes[c] for c in id_classes)
    return Benchmark(classes, train, val, test, ood, annotator_train, val_ood)

"""The embedded OOD benchmark: real 28x28 data, near/far OOD sets and injected ID contamination.

ID: chosen MNIST-5k digit classes. OOD sources (a registry, chosen by the profile):
``digits_heldout`` (the other MNIST classes: near), ``animals`` (animal silhouettes: another
source), ``textures`` (patches of skimage's brick, grass and gravel: far), ``noise`` (uniform:
far). Contamination: real ID-class digits from another source (scikit-learn's 8x8 digits,
upsampled to MNIST's 20x20 box) replace a known fraction of each OOD set.

The OOD-R annotators stand in for the paper's human annotators (or CLIP in the full profile),
who know what a texture or an animal is: they learn the ID classes plus one "none of them"
label from images of every OOD source that never enter a test set (other halves of the MNIST
and animal pools, other skimage images, smoothed noise), and see the ID digits also at low
resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from cibr_lab.data.embedded import load_animals, load_mnist5k
from cibr_lab.errors import ConfigError


@dataclass(frozen=True)
class OODSet:
    """OOD images ``[N, 1, 28, 28]``, ``injected [N]`` (True = real ID-class contamination)
    and ``item`` ids ``[N]`` (source and index) for the review outputs; ``injected`` is None
    where no ground truth exists (the full profile)."""

    name: str
    images: torch.Tensor
    injected: np.ndarray | None
    items: list[str]


@dataclass(frozen=True)
class Benchmark:
    """ID splits (images, labels) and the contaminated OOD sets."""

    classes: tuple[str, ...]
    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    ood: dict[str, OODSet]
    annotator_train: tuple[torch.Tensor, torch.Tensor]
    val_ood: torch.Tensor


def _half(size: int, part: str) -> np.ndarray:
    """One fixed half of a pool's indices: the test sets and the annotators' data never meet."""
    order = np.random.default_rng(12345).permutation(size)
    return order[: size // 2] if part == "test" else order[size // 2 :]


def _digits_heldout(
    n: int, id_classes: list[int], rng: np.random.Generator, part: str
) -> np.ndarray:
    data = load_mnist5k()
    pool = np.flatnonzero(~np.isin(data.labels, id_classes))
    pool = pool[_half(pool.size, part)]
    return data.images[rng.choice(pool, size=min(n, pool.size), replace=False)]


def _animals(n: int, id_classes: list[int], rng: np.random.Generator, part: str) -> np.ndarray:
    data = load_animals()
    pool = _half(len(data.images), part)
    return data.images[rng.choice(pool, size=min(n, pool.size), replace=False)]


def _textures(n: int, id_classes: list[int], rng: np.random.Generator, part: str) -> np.ndarray:
    from skimage import data

    names = ("brick", "grass", "gravel") if part == "test" else ("camera", "coins", "moon", "page")
    sources = [getattr(data, name)() for name in names]
    out = np.empty((n, 1, 28, 28), np.float32)
    for i in range(n):
        img = sources[i % len(sources)]
        size = int(rng.integers(28, min(112, *img.shape)))
        r, c = rng.integers(0, img.shape[0] - size), rng.integers(0, img.shape[1] - size)
        out[i, 0] = _resize(img[r : r + size, c : c + size].astype(np.float32), 28)
    lo, hi = out.min(axis=(1, 2, 3), keepdims=True), out.max(axis=(1, 2, 3), keepdims=True)
    return (out - lo) / np.maximum(hi - lo, 1e-6)


def _noise(n: int, id_classes: list[int], rng: np.random.Generator, part: str) -> np.ndarray:
    if part == "test":
        return rng.random((n, 1, 28, 28), dtype=np.float32)
    smooth = torch.nn.functional.avg_pool2d(torch.from_numpy(rng.random((n, 1, 28, 28))), 3, 1, 1)
    return smooth.float().numpy()


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(img))[None, None]
    return torch.nn.functional.interpolate(t, size=(size, size), mode="area")[0, 0].numpy()


#: OOD sources by name: ``fn(n, id_classes, rng, part) -> images [n, 1, 28, 28]`` in [0, 1];
#: ``part="test"`` draws the test sets, ``part="aux"`` disjoint images for the annotators.
OOD_SOURCES: dict[str, Callable[[int, list[int], np.random.Generator, str], np.ndarray]] = {
    "digits_heldout": _digits_heldout,
    "animals": _animals,
    "textures": _textures,
    "noise": _noise,
}


def id_digits_other_source(id_classes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's real 8x8 digits of the ID classes, upsampled into MNIST's 20x20 box and
    padded to 28x28, in [0, 1]: ``(images [M, 1, 28, 28], labels [M])``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    keep = np.isin(digits.target, id_classes)
    small = torch.from_numpy(digits.images[keep] / 16.0).float()[:, None]
    big = torch.nn.functional.interpolate(small, size=(20, 20), mode="bilinear")
    images = torch.nn.functional.pad(big, (4, 4, 4, 4)).clamp(0, 1).numpy()
    return images, digits.target[keep].astype(np.int64)


def low_resolution(images: torch.Tensor, size: int = 8) -> torch.Tensor:
    """``images [N, 1, 28, 28]`` through a ``size x size`` bottleneck (area down, bilinear up):
    the annotators learn to read low-resolution digits, as a human annotator can."""
    small = torch.nn.functional.interpolate(images, size=(size, size), mode="area")
    return torch.nn.functional.interpolate(small, size=images.shape[-2:], mode="bilinear")


def build_benchmark(cfg: dict, seed: int = 0) -> Benchmark:
    """Build the benchmark from a profile's ``ood`` section; ``seed`` fixes splits and sets.

    Keys used: ``id_classes``, ``n_train_per_class``, ``n_val_per_class``,
    ``n_test_per_class``, ``ood_sets``, ``n_ood``, ``contamination`` (fraction of each OOD
    set replaced by ID-class digits from the other source), ``n_annotator_other`` (images per
    source for the annotators' extra "none of the ID classes" label, disjoint from the tests),
    ``n_val_ood`` (images per source of the validation OOD split used for tuning, drawn from
    the same held-apart halves: never from a test set).
    """
    unknown = sorted(set(cfg["ood_sets"]) - set(OOD_SOURCES))
    if unknown:
        raise ConfigError(f"unknown OOD source {unknown[0]!r}; valid: {', '.join(OOD_SOURCES)}")
    if not 0 <= cfg["contamination"] < 1:
        raise ValueError(f"contamination must lie in [0, 1), got {cfg['contamination']}")
    rng = np.random.default_rng(seed)
    id_classes = list(cfg["id_classes"])
    mnist = load_mnist5k()
    sizes = [cfg["n_train_per_class"], cfg["n_val_per_class"], cfg["n_test_per_class"]]
    splits: list[list[np.ndarray]] = [[], [], []]
    for label, cls in enumerate(id_classes):
        pool = rng.permutation(np.flatnonzero(mnist.labels == cls))
        if pool.size < sum(sizes):
            raise ValueError(f"class {cls} has {pool.size} images, the splits need {sum(sizes)}")
        for split, part in zip(
            splits, np.split(pool[: sum(sizes)], np.cumsum(sizes)[:-1]), strict=True
        ):
            split.append(np.column_stack([part, np.full(part.size, label)]))
    id_sets = []
    for split in splits:
        idx = np.concatenate(split)
        id_sets.append((torch.from_numpy(mnist.images[idx[:, 0]]), torch.from_numpy(idx[:, 1])))
    extra, _ = id_digits_other_source(id_classes)
    extra = extra[rng.permutation(len(extra))]
    n_inject = int(round(cfg["n_ood"] * cfg["contamination"]))
    if n_inject * len(cfg["ood_sets"]) > len(extra):
        raise ValueError(f"not enough contamination images ({len(extra)}) for the OOD sets")
    ood = {}
    for j, name in enumerate(cfg["ood_sets"]):
        clean = OOD_SOURCES[name](cfg["n_ood"] - n_inject, id_classes, rng, "test")
        dirty = extra[j * n_inject : (j + 1) * n_inject]
        order = rng.permutation(len(clean) + n_inject)
        images = np.concatenate([clean, dirty])[order]
        injected = np.r_[np.zeros(len(clean), bool), np.ones(n_inject, bool)][order]
        n_clean = len(clean)
        items = [f"{name}:{i}" if i < n_clean else f"sklearn_digits:{i - n_clean}" for i in order]
        ood[name] = OODSet(name, torch.from_numpy(np.ascontiguousarray(images)), injected, items)
    other = np.concatenate(
        [
            OOD_SOURCES[name](cfg["n_annotator_other"], id_classes, rng, "aux")
            for name in OOD_SOURCES
        ]
    )
    x, y = id_sets[0]
    annotator_train = (
        torch.cat([x, low_resolution(x), torch.from_numpy(other)]),
        torch.cat([y, y, torch.full((len(other),), len(id_classes))]),
    )
    classes = tuple(mnist.classes[c] for c in id_classes)
    val_ood = np.concatenate(
        [OOD_SOURCES[name](cfg["n_val_ood"], id_classes, rng, "aux") for name in OOD_SOURCES]
    )
    return Benchmark(
        classes,
        *id_sets,
        ood=ood,
        annotator_train=annotator_train,
        val_ood=torch.from_numpy(val_ood),
    )

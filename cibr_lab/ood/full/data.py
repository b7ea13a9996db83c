"""Full-profile data: the OpenOOD protocols' splits as loaders, and CIFAR-10's pickle batches.

Nothing is downloaded: every file is read under :func:`~cibr_lab.runtime.data_dir` and a missing
one is a ``FileNotFoundError`` naming the expected path and the command that fetches it.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from cibr_lab.errors import ConfigError, MissingDataError
from cibr_lab.ood.embedded import OODSet
from cibr_lab.ood.openood import openood_sets, protocols
from cibr_lab.runtime import data_dir

#: DataLoader worker processes (JPEG decoding is the bottleneck of the ImageNet protocol).
NUM_WORKERS = min(16, os.cpu_count() or 1)

CIFAR_FETCH = (
    "fetch it with `python -c \"import torchvision; torchvision.datasets.CIFAR10('{root}', "
    'download=True)"` (or set CIBR_LAB_DATA)'
)
CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]


def _imagenet_classes() -> list[str]:
    import torchvision

    return list(torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


#: Class-name tables a protocol may name instead of listing its classes.
CLASS_TABLES: dict[str, Callable[[], list[str]]] = {"imagenet1k": _imagenet_classes}


def class_names(protocol: str) -> tuple[str, ...]:
    """The ID class names of an OpenOOD protocol, in label order."""
    classes = protocols()[protocol]["classes"]
    if isinstance(classes, str):
        if classes not in CLASS_TABLES:
            raise ConfigError(f"unknown class table {classes!r}; valid: {', '.join(CLASS_TABLES)}")
        classes = CLASS_TABLES[classes]()
    return tuple(classes)


def read_cifar_batches(folder: str | Path, train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 from torchvision's on-disk ``cifar-10-batches-py`` pickles (no md5 check, no
    download): ``(images uint8 [N, 3, 32, 32], labels int64 [N])``."""
    folder = Path(folder)
    images, labels = [], []
    for name in CIFAR_TRAIN if train else ["test_batch"]:
        path = folder / name
        if not path.exists():
            root = folder.parent
            raise MissingDataError(
                f"CIFAR-10 not found: expected {path}; {CIFAR_FETCH.format(root=root)}"
            )
        with path.open("rb") as fh:
            batch = pickle.load(fh, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise ValueError(f"{path}: expected data of shape [N, 3072], got {data.shape}")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


def labels_of(dataset: Dataset) -> torch.Tensor:
    """Labels ``[N]`` of an image-list dataset (or a ``Subset`` of one) without reading images."""
    if isinstance(dataset, Subset):
        return labels_of(dataset.dataset)[torch.as_tensor(dataset.indices)]
    return torch.tensor([label for _, label in dataset.items], dtype=torch.long)


def items_of(dataset: Dataset) -> list[str]:
    """The relative image paths of an image-list or folder dataset (or a ``Subset``)."""
    if isinstance(dataset, Subset):
        names = items_of(dataset.dataset)
        return [names[i] for i in dataset.indices]
    return [name for name, _ in dataset.items]


def per_class(dataset: Dataset, n: int, rng: np.random.Generator) -> Dataset:
    """At most ``n`` items per label, drawn with ``rng`` and kept in file order; ``n = 0``: all."""
    if n == 0:
        return dataset
    labels = labels_of(dataset).numpy()
    keep = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[:n] for c in np.unique(labels)]
    )
    return Subset(dataset, np.sort(keep).tolist())


def capped(dataset: Dataset, n: int, rng: np.random.Generator) -> Dataset:
    """At most ``n`` items drawn with ``rng`` (in file order); ``n = 0``: all."""
    if n == 0 or n >= len(dataset):
        return dataset
    return Subset(dataset, np.sort(rng.choice(len(dataset), n, replace=False)).tolist())


def loader(dataset: Dataset, batch_size: int) -> DataLoader:
    """A re-iterable, unshuffled loader of ``(images, labels)`` batches."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=NUM_WORKERS,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=False,
    )


@dataclass(frozen=True)
class FullBenchmark:
    """An OpenOOD protocol as the experiment reads it: ID splits as ``(loader, labels [N])``,
    OOD sets as :class:`OODSet` whose ``images`` is a loader (no injected ground truth:
    ``injected`` is ``None``), the validation OOD loader, and the protocol's settings."""

    classes: tuple[str, ...]
    train: tuple[DataLoader, torch.Tensor]
    val: tuple[DataLoader, torch.Tensor]
    test: tuple[DataLoader, torch.Tensor]
    ood: dict[str, OODSet]
    val_ood: DataLoader
    protocol: dict


def _check_cfg(cfg: dict, valid_sets: list[str]) -> None:
    if cfg["id_classes"] != "all":
        raise ValueError("the OpenOOD protocols use every ID class: id_classes must be 'all'")
    if cfg["contamination"] != 0 or cfg["n_annotator_other"] != 0:
        raise ValueError(
            "contamination and n_annotator_other must be 0 on the OpenOOD protocols: their "
            "OOD sets are used as published and the committee is pretrained"
        )
    unknown = sorted(set(cfg["ood_sets"]) - set(valid_sets))
    if unknown:
        raise ConfigError(f"unknown OOD set {unknown[0]!r}; valid: {', '.join(valid_sets)}")


def build_full_benchmark(cfg: dict, root: str | Path | None = None) -> FullBenchmark:
    """The benchmark of a full-profile ``ood`` section (``benchmark`` names the protocol).

    ``root`` defaults to ``data_dir()``; the OpenOOD layout lies under ``root / "openood"``.
    Sizes: ``n_train_per_class``, ``n_val_per_class``, ``n_test_per_class`` (per class),
    ``n_ood`` (per OOD set) and ``n_val_ood``, each ``0`` for all; draws use ``data_seed``.
    """
    protocol = cfg["benchmark"]
    root = Path(root) if root is not None else data_dir()
    sets = openood_sets(protocol, root / "openood")
    ood_sets = {**sets["near"], **sets["far"]}
    _check_cfg(cfg, list(ood_sets))
    rng = np.random.default_rng(cfg["data_seed"])
    bs = cfg["batch_size"]
    splits = {}
    for split, n in (("train", "n_train_per_class"), ("val", "n_val_per_class")):
        subset = per_class(sets["id"][split], cfg[n], rng)
        splits[split] = (loader(subset, bs), labels_of(subset))
    test = per_class(sets["id"]["test"], cfg["n_test_per_class"], rng)
    ood = {}
    for name in cfg["ood_sets"]:
        subset = capped(ood_sets[name], cfg["n_ood"], rng)
        group = "near" if name in sets["near"] else "far"
        items = [f"{name}:{i}" for i in items_of(subset)]
        ood[name] = OODSet(name, loader(subset, bs), None, items, group)
    (val_ood,) = sets["val_ood"].values()
    return FullBenchmark(
        classes=class_names(protocol),
        train=splits["train"],
        val=splits["val"],
        test=(loader(test, bs), labels_of(test)),
        ood=ood,
        val_ood=loader(capped(val_ood, cfg["n_val_ood"], rng), bs),
        protocol=protocols()[protocol],
    )

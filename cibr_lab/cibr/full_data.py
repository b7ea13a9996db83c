"""Full-profile data: Karpathy caption splits (COCO, Flickr30K) and seven zero-shot sets.

Nothing here downloads. Datasets live under ``cibr_lab.runtime.data_dir()`` (``$CIBR_LAB_DATA``):

- ``coco/dataset_coco.json`` and the images at ``coco/<filepath>/<filename>`` (``train2014/``,
  ``val2014/``); ``flickr30k/dataset_flickr30k.json`` and ``flickr30k/flickr30k-images/``. The
  JSON files are Karpathy's ``caption_datasets.zip``.
- the zero-shot sets in torchvision's layout under ``zeroshot/``, with CLIP_benchmark's class
  names and templates (``assets/clip_benchmark.json``).

A missing file raises ``FileNotFoundError`` naming the expected path and how to fetch it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from cibr_lab.cibr.assets import load_asset
from cibr_lab.errors import ConfigError, MissingDataError
from cibr_lab.runtime import data_dir

KARPATHY = {
    "coco": ("dataset_coco.json", "", "COCO 2014 train/val images from https://cocodataset.org"),
    "flickr30k": (
        "dataset_flickr30k.json",
        "flickr30k-images",
        "Flickr30K images from https://shannon.cs.illinois.edu/DenotationGraph/ (form)",
    ),
}
KARPATHY_URL = "https://cs.stanford.edu/people/karpathy/deepimagesent/caption_datasets.zip"
#: Karpathy split names; COCO's training set is conventionally train + restval.
SPLITS = {"train": ("train", "restval"), "val": ("val",), "test": ("test",)}


class KarpathyCaptions(Dataset):
    """One Karpathy split: ``dataset[i] -> (image, i)``; ``captions`` and ``text_to_image``
    describe every caption (``text_to_image[j]`` is the image index of caption ``j``)."""

    def __init__(
        self,
        dataset: str,
        split: str = "test",
        root: str | Path | None = None,
        transform: Callable[[Image.Image], Any] | None = None,
    ) -> None:
        if dataset not in KARPATHY:
            raise ConfigError(f"unknown caption dataset {dataset!r}; valid: {', '.join(KARPATHY)}")
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
        json_name, image_folder, fetch_images = KARPATHY[dataset]
        base = Path(root) if root is not None else data_dir() / dataset
        annotation = base / json_name
        if not annotation.is_file():
            raise MissingDataError(
                f"missing {annotation}: download {KARPATHY_URL}, unzip it and put {json_name} "
                f"in {base} (and the {fetch_images})"
            )
        entries = [
            e for e in json.loads(annotation.read_text())["images"] if e["split"] in SPLITS[split]
        ]
        if not entries:
            raise ValueError(f"{annotation} has no image in split {split!r}")
        self.paths = [base / e.get("filepath", image_folder) / e["filename"] for e in entries]
        self.captions = [s["raw"].strip() for e in entries for s in e["sentences"]]
        self.text_to_image = torch.tensor(
            [i for i, e in enumerate(entries) for _ in e["sentences"]], dtype=torch.long
        )
        self.transform = transform
        missing = next((p for p in self.paths if not p.is_file()), None)
        if missing is not None:
            raise MissingDataError(f"missing image {missing}: fetch the {fetch_images}")

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = Image.open(self.paths[index]).convert("RGB")
        return (self.transform(image) if self.transform else image), index

    @property
    def images(self) -> DiskImages:
        """The images as a lazily loaded, tensor-indexable sequence (needs a tensor transform)."""
        return DiskImages(self)


class DiskImages:
    """``images[idx]`` for a dataset on disk: loads, transforms and stacks the requested items
    (``idx`` a LongTensor or a slice) with a pool of threads; ``len`` is the dataset's."""

    def __init__(self, dataset: Dataset, threads: int = 8) -> None:
        self.dataset, self.threads = dataset, threads

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: Tensor | slice) -> Tensor:
        index = range(len(self))[key] if isinstance(key, slice) else torch.as_tensor(key).tolist()
        with ThreadPoolExecutor(self.threads) as pool:
            return torch.stack([item[0] for item in pool.map(self.dataset.__getitem__, index)])


#: The seven zero-shot sets, by CLIP_benchmark's names: (torchvision class, its keyword arguments).
#: Six have ViT-B-32 reference numbers in open_clip's results; EuroSAT adds a non-photographic
#: domain.
ZEROSHOT_SETS: dict[str, tuple[str, dict[str, Any]]] = {
    "cifar10": ("CIFAR10", {"train": False}),
    "cifar100": ("CIFAR100", {"train": False}),
    "food101": ("Food101", {"split": "test"}),
    "pets": ("OxfordIIITPet", {"split": "test"}),
    "dtd": ("DTD", {"split": "test"}),
    "sun397": ("SUN397", {}),
    "eurosat": ("EuroSAT", {}),
}


def benchmark_prompts(name: str, dataset_classes: Sequence[str]) -> tuple[list[str], list[str]]:
    """CLIP_benchmark's ``(class names, templates)`` of a zero-shot set (``clip_benchmark.json``).

    Class names are CLIP_benchmark's list where it has one (positional: ``dataset_classes``
    must have as many entries), else the dataset's own names with its character replacements.
    """
    prompts = load_asset("clip_benchmark")
    if name not in prompts["templates"]:
        raise KeyError(f"no CLIP_benchmark prompts for {name!r}; valid: {', '.join(ZEROSHOT_SETS)}")
    if name in prompts["classnames"]:
        names = list(prompts["classnames"][name])
        if len(names) != len(dataset_classes):
            raise ValueError(
                f"{name} has {len(dataset_classes)} classes but CLIP_benchmark names "
                f"{len(names)}; its class names are positional and need the complete dataset"
            )
    else:
        replaced = prompts["dataset_classnames"][name]
        names = [str(c).translate({ord(ch): " " for ch in replaced}) for c in dataset_classes]
    return names, list(prompts["templates"][name])


def zeroshot_dataset(
    name: str, root: str | Path | None = None, transform: Callable | None = None
) -> tuple[Dataset, list[str], list[str]]:
    """``(dataset, class names, templates)`` of a zero-shot set, CLIP_benchmark's prompts,
    never downloading."""
    if name not in ZEROSHOT_SETS:
        raise ConfigError(f"unknown zero-shot set {name!r}; valid sets: {', '.join(ZEROSHOT_SETS)}")
    import torchvision.datasets as tvd

    cls_name, kwargs = ZEROSHOT_SETS[name]
    base = Path(root) if root is not None else data_dir() / "zeroshot"
    try:
        dataset = getattr(tvd, cls_name)(str(base), transform=transform, download=False, **kwargs)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted ..."
        raise MissingDataError(
            f"zero-shot set {name!r} not found under {base} ({err}); fetch it once with "
            f"python -c \"import torchvision; torchvision.datasets.{cls_name}('{base}', "
            f'download=True)" (add the split argument {kwargs} if any)'
        ) from None
    classes = getattr(dataset, "classes", None)
    if not classes:
        raise ValueError(f"{type(dataset).__name__} exposes no class names")
    return (dataset, *benchmark_prompts(name, classes))


#: open_clip_train's csv columns for our caption files (``--csv-img-key``, ``--csv-caption-key``).
CSV_COLUMNS = ("filepath", "title")


def write_openclip_csv(data: KarpathyCaptions, path: str | Path) -> Path:
    """Write a caption split as open_clip_train's csv (tab-separated, one row per caption,
    absolute image paths; whitespace in captions collapsed) atomically; return the path."""
    import pandas as pd

    from cibr_lab.results.atomic import atomic_write_text

    frame = pd.DataFrame(
        {
            CSV_COLUMNS[0]: [str(data.paths[i].resolve()) for i in data.text_to_image.tolist()],
            CSV_COLUMNS[1]: [" ".join(c.split()) for c in data.captions],
        }
    )
    return atomic_write_text(path, frame.to_csv(sep="\t", index=False))

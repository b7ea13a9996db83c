"""Full-profile data: Karpathy caption splits (COCO, Flickr30K) and seven zero-shot sets.

Nothing here downloads. Datasets live under ``cibr_lab.runtime.data_dir()`` (``$CIBR_LAB_DATA``):

- ``coco/dataset_coco.json`` and the images at ``coco/<filepath>/<filename>`` (``train2014/``,
  ``val2014/``); ``flickr30k/dataset_flickr30k.json`` and ``flickr30k/flickr30k-images/``. The
  JSON files are Karpathy's ``caption_datasets.zip``.
- the zero-shot sets in torchvision's layout under ``zeroshot/``.

A missing file raises ``FileNotFoundError`` naming the expected path and how to fetch it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

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


#: The seven zero-shot sets: (torchvision class, its keyword arguments, template key in
#: prompts.json). Six have ViT-B-32 reference numbers in open_clip's results; EuroSAT adds a
#: non-photographic domain.
ZEROSHOT_SETS: dict[str, tuple[str, dict[str, Any], str]] = {
    "cifar10": ("CIFAR10", {"train": False}, "generic"),
    "cifar100": ("CIFAR100", {"train": False}, "generic"),
    "food101": ("Food101", {"split": "test"}, "food"),
    "pets": ("OxfordIIITPet", {"split": "test"}, "pets"),
    "dtd": ("DTD", {"split": "test"}, "textures"),
    "sun397": ("SUN397", {}, "scenes"),
    "eurosat": ("EuroSAT", {}, "satellite"),
}


def class_names(dataset: Dataset) -> list[str]:
    """Readable class names from a torchvision dataset's ``classes`` (underscores to spaces)."""
    names = [str(c).replace("_", " ").strip() for c in getattr(dataset, "classes", [])]
    if not names:
        raise ValueError(f"{type(dataset).__name__} exposes no class names")
    return names


def zeroshot_dataset(
    name: str, root: str | Path | None = None, transform: Callable | None = None
) -> tuple[Dataset, list[str], str]:
    """``(dataset, class names, template key)`` of a zero-shot set, never downloading."""
    if name not in ZEROSHOT_SETS:
        raise ConfigError(f"unknown zero-shot set {name!r}; valid sets: {', '.join(ZEROSHOT_SETS)}")
    import torchvision.datasets as tvd

    cls_name, kwargs, templates = ZEROSHOT_SETS[name]
    base = Path(root) if root is not None else data_dir() / "zeroshot"
    try:
        dataset = getattr(tvd, cls_name)(str(base), transform=transform, download=False, **kwargs)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted ..."
        raise MissingDataError(
            f"zero-shot set {name!r} not found under {base} ({err}); fetch it once with "
            f"python -c \"import torchvision; torchvision.datasets.{cls_name}('{base}', "
            f'download=True)" (add the split argument {kwargs} if any)'
        ) from None
    return dataset, class_names(dataset), templates

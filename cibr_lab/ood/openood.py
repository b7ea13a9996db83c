"""Full-profile loaders for the OpenOOD v1.5 layouts (CIFAR-10 and ImageNet-1K protocols).

The layouts are data (``openood.yaml``): per protocol the image folder, the image-list folder
and, per split and OOD set, either an OpenOOD image-list file or ``{folder, fetch}``: a folder
of images (searched recursively, as the MOS subsets, ImageNet-O and NINCO ship) with the command
that fetches it. A missing file is a ``FileNotFoundError`` naming the expected path and the
command that fetches it; there is no fallback.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import yaml
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms

from cibr_lab.errors import ConfigError, MissingDataError
from cibr_lab.runtime import data_dir

FETCH = (
    "fetch the OpenOOD v1.5 benchmark with OpenOOD's downloader, e.g. `python "
    "scripts/download/download.py --contents datasets --datasets ood_v1.5 --save_dir {root}` "
    "in a clone of https://github.com/Jingkang50/OpenOOD (or set CIBR_LAB_DATA)"
)


@cache
def protocols() -> dict[str, dict[str, Any]]:
    """The protocols of ``openood.yaml`` by name."""
    text = resources.files("cibr_lab.ood").joinpath("openood.yaml").read_text()
    return yaml.safe_load(text)


def _missing(path: Path, root: Path) -> MissingDataError:
    return MissingDataError(f"OpenOOD data not found: expected {path}; {FETCH.format(root=root)}")


def read_imglist(path: Path) -> list[tuple[str, int]]:
    """``(relative image path, label)`` per non-empty line of an OpenOOD image list."""
    items = []
    for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        name, _, extra = line.strip().partition(" ")
        try:
            label = int(extra.strip())
        except ValueError:
            msg = f"{path}:{n}: expected '<image path> <int label>', got {line!r}"
            raise ValueError(msg) from None
        items.append((name, label))
    if not items:
        raise ValueError(f"image list {path} is empty")
    return items


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def _load_rgb(path: Path, transform: Any) -> torch.Tensor:
    with Image.open(path) as img:
        return transform(img.convert("RGB"))


class ImageFolderDataset(Dataset):
    """Every image file under ``folder`` (recursively, sorted; an OOD set, so label ``-1``)."""

    def __init__(self, folder: Path, transform: Any, fetch: str) -> None:
        if not folder.is_dir():
            raise MissingDataError(f"OOD image folder not found: expected {folder}; {fetch}")
        self.paths = sorted(
            p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
        )
        if not self.paths:
            raise MissingDataError(f"no images under {folder}; {fetch}")
        self.items = [(str(p.relative_to(folder)), -1) for p in self.paths]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return _load_rgb(self.paths[index], self.transform), -1


class ImageListDataset(Dataset):
    """Images named by an OpenOOD image list: ``(image [3, H, W], label)`` per item."""

    def __init__(self, image_root: Path, imglist: Path, transform: Any, root: Path) -> None:
        for path in (imglist, image_root):
            if not path.exists():
                raise _missing(path, root)
        self.image_root = image_root
        self.items = read_imglist(imglist)
        self.transform = transform
        first = image_root / self.items[0][0]
        if not first.exists():
            raise _missing(first, root)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        name, label = self.items[index]
        return _load_rgb(self.image_root / name, self.transform), label


def _transform(cfg: dict[str, Any]) -> transforms.Compose:
    return transforms.Compose(
        [
            transforms.Resize(cfg["resize"]),
            transforms.CenterCrop(cfg["image_size"]),
            transforms.ToTensor(),
            transforms.Normalize(cfg["mean"], cfg["std"]),
        ]
    )


def openood_sets(protocol: str, root: str | Path | None = None) -> dict[str, dict[str, Dataset]]:
    """The datasets of one protocol: ``{"id": {train, val, test}, "val_ood": {...},
    "near": {...}, "far": {...}}`` read from ``root`` (default ``data_dir() / "openood"``)."""
    table = protocols()
    if protocol not in table:
        raise ConfigError(f"unknown OpenOOD protocol {protocol!r}; valid: {', '.join(table)}")
    cfg = table[protocol]
    root = Path(root) if root is not None else data_dir() / "openood"
    lists = root / "benchmark_imglist" / cfg["list_dir"]
    images = root / cfg["image_dir"]
    tf = _transform(cfg)

    def dataset(entry: str | dict[str, str]) -> Dataset:
        if isinstance(entry, dict):
            return ImageFolderDataset(images / entry["folder"], tf, entry["fetch"])
        return ImageListDataset(images, lists / entry, tf, root)

    return {
        group: {name: dataset(entry) for name, entry in cfg[group].items()}
        for group in ("id", "val_ood", "near", "far")
    }

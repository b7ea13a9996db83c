"""Captioned image sets: the container, and captions for real labelled images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from cibr_lab.cibr.assets import load_asset
from cibr_lab.errors import ConfigError

#: Text-only nuisance factors every caption carries (their words come from ``scenes.json``).
TEXT_NUISANCE = ("filler", "synonym", "style")


@dataclass(frozen=True)
class CaptionedSet:
    """Images with captions and the factors that generated them.

    ``images [N, 3, H, W]`` float32 in [0, 1]; ``captions`` M strings; ``text_to_image [M]`` the
    image of each caption; ``labels [N]`` class indices into ``classes``; ``image_factors``
    name -> ``[N]`` codes (shared and image-only factors); ``text_factors`` name -> ``[M]`` codes.
    """

    name: str
    images: Tensor
    captions: list[str]
    text_to_image: Tensor
    labels: Tensor
    classes: tuple[str, ...]
    image_factors: Mapping[str, Tensor] = field(default_factory=dict)
    text_factors: Mapping[str, Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.images.shape[0]


def text_nuisance(m: int, gen: torch.Generator) -> dict[str, Tensor]:
    """Text-only nuisance codes ``[m]`` of ``m`` captions: independent uniform draws."""
    words = load_asset("scenes")
    return {
        "filler": torch.randint(len(words["filler"]), (m,), generator=gen),
        "synonym": torch.randint(2, (m,), generator=gen),
        "style": torch.randint(len(words["style"]), (m,), generator=gen),
    }


def join_caption(style: str, filler: str, body: str) -> str:
    """``"<style> <filler> <body>."`` with single spaces."""
    return " ".join(w for w in (style, filler, body) if w) + "."


def to_rgb32(images: np.ndarray | Tensor, size: int = 32) -> Tensor:
    """Grey ``[N, 1, h, w]`` images in [0, 1] -> ``[N, 3, size, size]`` (zero-padded, centred)."""
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"expected grey images [N, 1, h, w], got {tuple(x.shape)}")
    ph, pw = size - x.shape[2], size - x.shape[3]
    if ph < 0 or pw < 0:
        raise ValueError(f"images of {tuple(x.shape[2:])} do not fit in {size}x{size}")
    x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
    return x.expand(-1, 3, -1, -1).contiguous()


def caption_labelled_images(
    name: str,
    images: np.ndarray | Tensor,
    labels: np.ndarray | Tensor,
    classes: Sequence[str],
    family: str,
    seed: int,
    captions_per_image: int = 1,
) -> CaptionedSet:
    """Caption real labelled images: ``"<style> <filler> <phrase with the class name>."``.

    ``family`` names an entry of ``captions.json`` (``"digits"``, ``"animals"``): two phrase
    variants and two names per class, both picked by the caption's ``synonym`` code.
    """
    spec = load_asset("captions")
    if family not in spec:
        raise ConfigError(f"unknown caption family {family!r}; valid families: {', '.join(spec)}")
    words = load_asset("scenes")
    labels = torch.as_tensor(np.asarray(labels)).long()
    if len(classes) != len(spec[family]["names"]):
        raise ValueError(
            f"{family} captions know {len(spec[family]['names'])} classes, got {len(classes)}"
        )
    gen = torch.Generator().manual_seed(seed)
    n = labels.shape[0]
    t2i = torch.arange(n).repeat_interleave(captions_per_image)
    tf = text_nuisance(t2i.numel(), gen)
    phrases, names = spec[family]["phrases"], spec[family]["names"]
    captions = [
        join_caption(words["style"][st], words["filler"][fi], phrases[sy].format(names[y][sy]))
        for y, st, fi, sy in zip(
            labels[t2i].tolist(),
            tf["style"].tolist(),
            tf["filler"].tolist(),
            tf["synonym"].tolist(),
            strict=True,
        )
    ]
    return CaptionedSet(name, to_rgb32(images), captions, t2i, labels, tuple(classes), {}, tf)


def concat_sets(name: str, sets: Sequence[CaptionedSet]) -> CaptionedSet:
    """One set from several (for training): labels and factors are dropped, captions re-indexed."""
    if not sets:
        raise ValueError("concat_sets needs at least one set")
    offsets = np.cumsum([0] + [len(s) for s in sets[:-1]])
    return CaptionedSet(
        name,
        torch.cat([s.images for s in sets]),
        [c for s in sets for c in s.captions],
        torch.cat([s.text_to_image + int(o) for s, o in zip(sets, offsets, strict=True)]),
        torch.full((sum(len(s) for s in sets),), -1, dtype=torch.long),
        (),
    )


def head(data: CaptionedSet, n: int) -> CaptionedSet:
    """The first ``n`` images of a set with their captions and factors."""
    keep = data.text_to_image < n
    return replace(
        data,
        images=data.images[:n],
        captions=[c for c, k in zip(data.captions, keep.tolist(), strict=True) if k],
        text_to_image=data.text_to_image[keep],
        labels=data.labels[:n],
        image_factors={k: v[:n] for k, v in data.image_factors.items()},
        text_factors={k: v[keep] for k, v in data.text_factors.items()},
    )

"""Procedural captioned scenes with shared factors and modality-specific nuisance.

Each scene shows one shape. Shared factors (in the image *and* the caption): shape, colour, size,
position (quadrant). Image-only nuisance: background texture, pixel-noise level, a corner mark.
Text-only nuisance: filler words, a synonym set, a style token. The class is the shape. With
``spurious = p``, the background texture and the style token equal the shape's index with
probability ``p`` (else uniform): a nuisance spuriously correlated with the class. A training
split uses ``p > 0``, the shifted test split ``p = 0``. Everything is drawn from one seeded
generator and rendered in batches (no per-pixel or per-sample loops; only the caption strings
are assembled per caption).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from cibr_lab.cibr.assets import load_asset
from cibr_lab.cibr.captioned import CaptionedSet, join_caption, text_nuisance

SHARED = ("shape", "colour", "size", "position")
IMAGE_NUISANCE = ("texture", "noise", "mark")
_CHUNK = 2048
_RADIUS = (0.11, 0.19)
_CENTRES = ((0.3, 0.3), (0.7, 0.3), (0.3, 0.7), (0.7, 0.7))  # (x, y) of the four quadrants


def _shape_masks(dx: Tensor, dy: Tensor, r: Tensor) -> Tensor:
    """``[B, 4, H, W]`` masks of circle, square, triangle, cross centred at ``(dx, dy) = 0``."""
    ax, ay = dx.abs(), dy.abs()
    circle = dx**2 + dy**2 <= r**2
    square = torch.maximum(ax, ay) <= 0.85 * r
    triangle = (ay <= r) & (ax <= (dy + r) / 2)
    cross = ((ax <= r / 3) & (ay <= r)) | ((ay <= r / 3) & (ax <= r))
    return torch.stack([circle, square, triangle, cross], 1).float()


def _textures(xs: Tensor, ys: Tensor, phase: Tensor) -> Tensor:
    """``[B, 4, H, W]`` grey backgrounds: plain, stripes, checker, dots (random phases)."""
    sx, sy = torch.sin(2 * math.pi * (4 * xs + phase)), torch.sin(2 * math.pi * (4 * ys + phase))
    plain = torch.full_like(sx * sy, 0.5)
    stripes = 0.5 + 0.2 * torch.sign(torch.sin(2 * math.pi * (6 * ys + phase)))
    stripes = stripes.expand_as(plain)
    checker = 0.5 + 0.2 * torch.sign(sx * sy)
    dots = 0.4 + 0.35 * (sx * sy > 0.6).float()
    return torch.stack([plain, stripes, checker, dots], 1)


def render_scenes(factors: dict[str, Tensor], gen: torch.Generator, size: int = 32) -> Tensor:
    """Images ``[N, 3, size, size]`` in [0, 1] for the given factor codes (``[N]`` each)."""
    words = load_asset("scenes")
    n = factors["shape"].shape[0]
    grid = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    ys, xs = grid.view(1, size, 1), grid.view(1, 1, size)
    centres = torch.tensor(_CENTRES)[factors["position"]]
    centres = centres + 0.06 * (2 * torch.rand(n, 2, generator=gen) - 1)
    radius = torch.tensor(_RADIUS)[factors["size"]] * (
        1 + 0.1 * (2 * torch.rand(n, generator=gen) - 1)
    )
    phase = torch.rand(n, 1, 1, generator=gen)
    noise_std = torch.tensor(words["noise"])[factors["noise"]].view(n, 1, 1, 1)
    rgb = torch.tensor(list(words["colour_rgb"].values()))[factors["colour"]].view(n, 3, 1, 1)
    dx, dy = xs - centres[:, 0, None, None], ys - centres[:, 1, None, None]
    pick = lambda stack, idx: stack.gather(1, idx.view(n, 1, 1, 1).expand(-1, 1, size, size))
    mask = pick(_shape_masks(dx, dy, radius.view(n, 1, 1)), factors["shape"])
    background = pick(_textures(xs, ys, phase), factors["texture"])
    images = background * (1 - mask) + rgb * mask
    images = images + noise_std * torch.randn(n, 3, size, size, generator=gen)
    images[:, :, :3, :3] = torch.where(
        factors["mark"].view(n, 1, 1, 1).bool(), 1.0, images[:, :, :3, :3]
    )
    return images.clamp_(0.0, 1.0)


def _draw_factors(n: int, spurious: float, gen: torch.Generator) -> dict[str, Tensor]:
    words = load_asset("scenes")
    levels = {k: len(words[k]) for k in ("shape", "colour", "size", "position", "texture", "noise")}
    factors = {k: torch.randint(v, (n,), generator=gen) for k, v in levels.items()}
    factors["mark"] = torch.randint(2, (n,), generator=gen)
    tied = torch.rand(n, generator=gen) < spurious
    factors["texture"] = torch.where(tied, factors["shape"], factors["texture"])
    return factors


def make_scenes(
    n: int,
    seed: int,
    spurious: float = 0.0,
    captions_per_image: int = 1,
    size: int = 32,
    name: str = "scenes",
) -> CaptionedSet:
    """``n`` captioned scenes, deterministic in ``seed``; labels are the shape.

    ``spurious`` in [0, 1]: probability that the texture (per image) and the style token (per
    caption) equal the shape index. ``captions_per_image`` captions per image differ in their
    text nuisance only. Rendering runs ``_CHUNK`` images at a time (a fixed constant, since the
    random stream depends on it).
    """
    words = load_asset("scenes")
    if not 0.0 <= spurious <= 1.0:
        raise ValueError(f"spurious must lie in [0, 1], got {spurious}")
    if n < 1 or captions_per_image < 1:
        raise ValueError("n and captions_per_image must be positive")
    if not len(words["shape"]) == len(words["texture"]) == len(words["style"]):
        raise ValueError("scenes.json needs as many textures and styles as shapes")
    gen = torch.Generator().manual_seed(seed)
    factors = _draw_factors(n, spurious, gen)
    images = torch.cat(
        [
            render_scenes({k: v[s : s + _CHUNK] for k, v in factors.items()}, gen, size)
            for s in range(0, n, _CHUNK)
        ]
    )
    t2i = torch.arange(n).repeat_interleave(captions_per_image)
    m = t2i.numel()
    tied = torch.rand(m, generator=gen) < spurious
    style = torch.where(
        tied, factors["shape"][t2i], torch.randint(len(words["style"]), (m,), generator=gen)
    )
    tf = text_nuisance(m, gen, style=style)
    vocab = {k: list(words[k].values()) for k in SHARED}
    codes = {k: factors[k][t2i].tolist() for k in SHARED}
    captions = []
    for j, (sy, st, fi) in enumerate(
        zip(tf["synonym"].tolist(), tf["style"].tolist(), tf["filler"].tolist(), strict=True)
    ):
        shape, colour, size_w, pos = (vocab[k][codes[k][j]][sy] for k in SHARED)
        body = f"a {size_w} {colour} {shape} {pos}"
        captions.append(join_caption(words["style"][st], words["filler"][fi], body))
    return CaptionedSet(
        name=name,
        images=images,
        captions=captions,
        text_to_image=t2i,
        labels=factors["shape"].clone(),
        classes=tuple(words["shape"]),
        image_factors=factors,
        text_factors=tf,
    )

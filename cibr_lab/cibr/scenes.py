"""Procedural captioned scenes: shared factors in both modalities, nuisance in one only.

Each scene shows one shape. Shared factors (in the image *and* the caption): shape, colour,
size, position (a 3 x 3 grid). Image-only nuisance: background colour, background texture,
pixel-noise level, the corner of a small white mark. Text-only nuisance: filler words, a
synonym set, a style token. The class is the shape.

Independence is by construction: every nuisance code is drawn from its own uniform stream,
never from the class or the other shared factors, so no nuisance of one modality can be
predicted from the other modality. The shared factors of consecutive blocks of
``n_combinations()`` scenes are a random permutation of all combinations, so in a set of at
most that many scenes no two images share a caption's content (retrieval is not capped by
caption-mates). ``shift=True`` paints the backgrounds from a second palette never seen in
training (a shift of image-only nuisance). Everything is drawn from one seeded generator and
rendered in batches; only the caption strings are assembled per caption.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from cibr_lab.cibr.assets import load_asset
from cibr_lab.cibr.captioned import CaptionedSet, join_caption, text_nuisance

SHARED = ("shape", "colour", "size", "position")
IMAGE_NUISANCE = ("background", "texture", "noise", "mark")
_CHUNK = 2048
_RADIUS = (0.11, 0.17)
_GRID = (0.25, 0.5, 0.75)
_MARK = 3


def levels() -> dict[str, int]:
    """Number of values of every shared and image-only factor (from ``scenes.json``)."""
    words = load_asset("scenes")
    return {k: len(words[k]) for k in SHARED + IMAGE_NUISANCE}


def n_combinations() -> int:
    """Number of distinct shared-factor combinations (distinct caption contents)."""
    return math.prod(levels()[k] for k in SHARED)


def _shape_masks(dx: Tensor, dy: Tensor, r: Tensor) -> Tensor:
    """``[B, 4, H, W]`` masks of circle, square, triangle, cross centred at ``(dx, dy) = 0``."""
    ax, ay = dx.abs(), dy.abs()
    circle = dx**2 + dy**2 <= r**2
    square = torch.maximum(ax, ay) <= 0.85 * r
    triangle = (ay <= r) & (ax <= (dy + r) / 2)
    cross = ((ax <= r / 3) & (ay <= r)) | ((ay <= r / 3) & (ax <= r))
    return torch.stack([circle, square, triangle, cross], 1).float()


def _textures(xs: Tensor, ys: Tensor, phase: Tensor) -> Tensor:
    """``[B, 4, H, W]`` brightness offsets: plain, stripes, checker, dots (random phases)."""
    sx, sy = torch.sin(2 * math.pi * (4 * xs + phase)), torch.sin(2 * math.pi * (4 * ys + phase))
    plain = torch.zeros_like(sx * sy)
    stripes = (0.15 * torch.sign(torch.sin(2 * math.pi * (6 * ys + phase)))).expand_as(plain)
    checker = 0.15 * torch.sign(sx * sy)
    dots = 0.3 * (sx * sy > 0.6).float()
    return torch.stack([plain, stripes, checker, dots], 1)


def render_scenes(
    factors: dict[str, Tensor], gen: torch.Generator, size: int = 32, shift: bool = False
) -> Tensor:
    """Images ``[N, 3, size, size]`` in [0, 1] for the given factor codes (``[N]`` each).

    ``shift`` takes the background colours from ``background_shift`` instead of ``background``.
    """
    words = load_asset("scenes")
    n = factors["shape"].shape[0]
    grid = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    ys, xs = grid.view(1, size, 1), grid.view(1, 1, size)
    cells = torch.tensor(_GRID)
    pos = factors["position"]
    centres = torch.stack([cells[pos % 3], cells[pos // 3]], 1)
    centres = centres + 0.03 * (2 * torch.rand(n, 2, generator=gen) - 1)
    radius = torch.tensor(_RADIUS)[factors["size"]] * (
        1 + 0.1 * (2 * torch.rand(n, generator=gen) - 1)
    )
    phase = torch.rand(n, 1, 1, generator=gen)
    noise_std = torch.tensor(words["noise"])[factors["noise"]].view(n, 1, 1, 1)
    rgb = torch.tensor(list(words["colour_rgb"].values()))[factors["colour"]].view(n, 3, 1, 1)
    palette = torch.tensor(words["background_shift" if shift else "background"])
    tint = palette[factors["background"]].view(n, 3, 1, 1)
    dx, dy = xs - centres[:, 0, None, None], ys - centres[:, 1, None, None]
    pick = lambda stack, idx: stack.gather(1, idx.view(n, 1, 1, 1).expand(-1, 1, size, size))
    mask = pick(_shape_masks(dx, dy, radius.view(n, 1, 1)), factors["shape"])
    background = tint + pick(_textures(xs, ys, phase), factors["texture"])
    images = background * (1 - mask) + rgb * mask
    images = images + noise_std * torch.randn(n, 3, size, size, generator=gen)
    top, left = factors["mark"] // 2 == 0, factors["mark"] % 2 == 0
    rows = torch.arange(size).view(1, size, 1)
    cols = torch.arange(size).view(1, 1, size)
    in_rows = torch.where(top.view(n, 1, 1), rows < _MARK, rows >= size - _MARK)
    in_cols = torch.where(left.view(n, 1, 1), cols < _MARK, cols >= size - _MARK)
    images = torch.where((in_rows & in_cols).unsqueeze(1), 1.0, images)
    return images.clamp_(0.0, 1.0)


def draw_factors(n: int, gen: torch.Generator) -> dict[str, Tensor]:
    """Codes ``[n]`` of every shared and image-only factor.

    Shared factors: consecutive blocks of :func:`n_combinations` scenes run through a random
    permutation of all combinations. Image-only nuisance: independent uniform draws.
    """
    counts = levels()
    total = n_combinations()
    blocks = -(-n // total)
    combo = torch.cat([torch.randperm(total, generator=gen) for _ in range(blocks)])[:n]
    factors = {}
    for k in SHARED:
        factors[k] = combo % counts[k]
        combo = combo // counts[k]
    for k in IMAGE_NUISANCE:
        factors[k] = torch.randint(counts[k], (n,), generator=gen)
    return factors


def make_scenes(
    n: int,
    seed: int,
    captions_per_image: int = 1,
    size: int = 32,
    shift: bool = False,
    name: str = "scenes",
) -> CaptionedSet:
    """``n`` captioned scenes, deterministic in ``seed``; labels are the shape.

    ``captions_per_image`` captions per image differ in their text nuisance only. ``shift``
    paints the backgrounds from the held-out palette. Rendering runs ``_CHUNK`` images at a
    time (a fixed constant, since the random stream depends on it).
    """
    if n < 1 or captions_per_image < 1:
        raise ValueError(
            f"n and captions_per_image must be positive, got n={n}, "
            f"captions_per_image={captions_per_image}"
        )
    words = load_asset("scenes")
    gen = torch.Generator().manual_seed(seed)
    factors = draw_factors(n, gen)
    images = torch.cat(
        [
            render_scenes({k: v[s : s + _CHUNK] for k, v in factors.items()}, gen, size, shift)
            for s in range(0, n, _CHUNK)
        ]
    )
    t2i = torch.arange(n).repeat_interleave(captions_per_image)
    tf = text_nuisance(t2i.numel(), gen)
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

"""Batched image augmentation (full profiles): random crop with zero padding, horizontal flip."""

from __future__ import annotations

import torch
from torch import Tensor


def random_crop_flip(x: Tensor, generator: torch.Generator, pad: int = 4) -> Tensor:
    """Randomly translate each image of ``x [N, C, H, W]`` by up to ``pad`` pixels (zero fill)
    and flip it horizontally with probability 1/2; one gather, no per-sample loop.

    ``generator`` draws the shifts and flips on its own device (CPU or the GPU), so a seeded
    run is reproducible; the draws then move to ``x``'s device.
    """
    if x.ndim != 4:
        raise ValueError(f"random_crop_flip needs images [N, C, H, W], got {tuple(x.shape)}")
    n, _, h, w = x.shape
    draw = {"generator": generator, "device": generator.device}
    shift = torch.randint(0, 2 * pad + 1, (n, 2), **draw).to(x.device, non_blocking=True)
    flip = (torch.rand(n, **draw) < 0.5).to(x.device, non_blocking=True)
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    cols = torch.arange(w, device=x.device)[None, :] + shift[:, 1:2]
    cols = torch.where(flip[:, None], w - 1 + 2 * pad - cols, cols)  # flip, then crop
    rows = torch.arange(h, device=x.device)[None, :] + shift[:, 0:1]
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()

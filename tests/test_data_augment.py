"""Batched crop-and-flip augmentation against a per-image reference."""

import pytest
import torch

from cibr_lab.data.augment import random_crop_flip


def test_matches_per_image_reference():
    x = torch.randn(6, 3, 8, 10, generator=torch.Generator().manual_seed(0))
    out = random_crop_flip(x, torch.Generator().manual_seed(1), pad=2)
    g = torch.Generator().manual_seed(1)
    shift = torch.randint(0, 5, (6, 2), generator=g)
    flip = torch.rand(6, generator=g) < 0.5
    for i in range(6):
        dy, dx = shift[i].tolist()
        img = x[i].flip(-1) if flip[i] else x[i]
        ref = torch.nn.functional.pad(img, (2, 2, 2, 2))[:, dy : dy + 8, dx : dx + 10]
        torch.testing.assert_close(out[i], ref)
    assert out.shape == x.shape


def test_rejects_non_images():
    with pytest.raises(ValueError, match=r"images \[N, C, H, W\]"):
        random_crop_flip(torch.zeros(4, 64), torch.Generator())

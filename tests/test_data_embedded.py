"""The embedded image sources: real data shipped in PyPI packages, in one format."""

from __future__ import annotations

import numpy as np
import pytest

from cibr_lab.data.embedded import ANIMAL_CLASSES, DIGIT_CLASSES, load_animals, load_mnist5k


@pytest.mark.parametrize(
    "loader,n,classes", [(load_mnist5k, 5000, DIGIT_CLASSES), (load_animals, 10000, ANIMAL_CLASSES)]
)
def test_format_and_balance(loader, n, classes):
    data = loader()
    assert data.images.shape == (n, 1, 28, 28) and data.images.dtype == np.float32
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0 and data.images.max() > 0.5
    assert data.labels.dtype == np.int64
    counts = np.bincount(data.labels, minlength=len(classes))
    assert len(counts) == len(classes) and counts.min() == counts.max() == n // len(classes)
    assert len({a.tobytes() for a in data.images[:200]}) > 190  # real, distinct images

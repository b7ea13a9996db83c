import numpy as np
import pytest
import torch

from cibr_lab.ood.embedded import (
    OOD_SOURCES,
    _half,
    build_benchmark,
    id_digits_other_source,
    low_resolution,
)

CFG = {
    "id_classes": [0, 1, 2],
    "n_train_per_class": 10,
    "n_val_per_class": 2,
    "n_test_per_class": 5,
    "ood_sets": ["digits_heldout", "textures", "noise"],
    "n_ood": 20,
    "contamination": 0.25,
    "n_annotator_other": 4,
    "n_val_ood": 3,
}


def test_splits_sizes_and_injected_contamination() -> None:
    bench = build_benchmark(CFG, seed=0)
    assert bench.classes == ("0", "1", "2")
    assert (
        bench.train[0].shape == (30, 1, 28, 28) and bench.train[1].bincount().tolist() == [10] * 3
    )
    assert len(bench.val[0]) == 6 and len(bench.test[0]) == 15
    extra, labels = id_digits_other_source([0, 1, 2])
    assert set(labels.tolist()) == {0, 1, 2}
    for ood in bench.ood.values():
        assert ood.images.shape == (20, 1, 28, 28) and ood.injected.sum() == 5
        assert 0 <= ood.images.min() and ood.images.max() <= 1
        injected = ood.images[torch.from_numpy(ood.injected)].numpy()
        # every injected image is one of the other source's ID-class digits
        dist = ((injected[:, None] - extra[None]) ** 2).sum(axis=(2, 3, 4))
        assert np.all(dist.min(axis=1) < 1e-10)
        assert all(i.startswith("sklearn_digits:") == j for i, j in zip(ood.items, ood.injected))
    n_other = 4 * len(OOD_SOURCES)
    assert bench.annotator_train[1].tolist().count(3) == n_other
    assert len(bench.annotator_train[0]) == 2 * 30 + n_other
    assert bench.val_ood.shape == (3 * len(OOD_SOURCES), 1, 28, 28)


def test_same_seed_same_benchmark() -> None:
    a, b = build_benchmark(CFG, seed=1), build_benchmark(CFG, seed=1)
    assert torch.equal(a.ood["textures"].images, b.ood["textures"].images)


def test_test_and_annotator_halves_are_disjoint() -> None:
    test, aux = _half(101, "test"), _half(101, "aux")
    assert not set(test) & set(aux) and len(test) + len(aux) == 101


def test_low_resolution_blurs_but_keeps_range() -> None:
    x = torch.rand(4, 1, 28, 28)
    y = low_resolution(x)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert y.diff(dim=-1).abs().mean() < x.diff(dim=-1).abs().mean()


def test_bad_configs() -> None:
    with pytest.raises(KeyError, match="unknown OOD source 'svhn'; valid: digits_heldout"):
        build_benchmark({**CFG, "ood_sets": ["svhn"]})
    with pytest.raises(ValueError, match="contamination must lie"):
        build_benchmark({**CFG, "contamination": 1.0})
    with pytest.raises(ValueError, match="has 500 images, the splits need 1007"):
        build_benchmark({**CFG, "n_train_per_class": 1000})

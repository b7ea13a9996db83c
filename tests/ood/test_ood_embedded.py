import numpy as np
import pytest
import torch

from cibr_lab.data.embedded import load_mnist5k
from cibr_lab.ood.embedded import OOD_SOURCES, PARTS, _part, build_benchmark, shifted_views

CFG = {
    "id_classes": [0, 1, 2],
    "n_train_per_class": 10,
    "n_val_per_class": 2,
    "n_test_per_class": 5,
    "ood_sets": ["digits_heldout", "animals", "textures", "noise"],
    "n_ood": 20,
    "contamination": 0.25,
    "n_annotator_other": 4,
    "n_val_ood": 8,
}


def _rows(images: torch.Tensor) -> set[bytes]:
    return {x.numpy().tobytes() for x in images}


def test_splits_sizes_groups_and_injected_contamination() -> None:
    bench = build_benchmark(CFG, seed=0)
    assert bench.classes == ("0", "1", "2")
    assert bench.train[0].shape == (30, 1, 28, 28)
    assert bench.train[1].bincount().tolist() == [10] * 3
    assert len(bench.val[0]) == 6 and len(bench.test[0]) == 15
    assert {n: s.group for n, s in bench.ood.items()} == {
        "digits_heldout": "near",
        "animals": "far",
        "textures": "far",
        "noise": "far",
    }
    mnist = load_mnist5k()
    for sets, n, n_inject in ((bench.ood, 20, 5), (bench.val_ood, 8, 2)):
        assert list(sets) == CFG["ood_sets"]
        for ood in sets.values():
            assert ood.images.shape == (n, 1, 28, 28) and ood.injected.sum() == n_inject
            assert 0 <= ood.images.min() and ood.images.max() <= 1
            for image, item, injected in zip(ood.images, ood.items, ood.injected, strict=True):
                assert item.startswith("mnist_id:") == injected
                if injected:  # a real ID-class MNIST digit, pixel for pixel, never degraded
                    index = int(item.split(":")[1])
                    assert mnist.labels[index] in CFG["id_classes"]
                    assert torch.equal(image, torch.from_numpy(mnist.images[index]))


def test_contaminants_are_held_out_id_images_never_reused() -> None:
    bench = build_benchmark(CFG, seed=3)
    id_images = _rows(torch.cat([bench.train[0], bench.val[0], bench.test[0]]))
    injected = [
        item for sets in (bench.ood, bench.val_ood) for s in sets.values() for item in s.items
    ]
    injected = [i for i in injected if i.startswith("mnist_id:")]
    assert len(injected) == len(set(injected)) == 4 * 5 + 4 * 2  # test and val never share
    for sets in (bench.ood, bench.val_ood):
        for s in sets.values():
            assert not _rows(s.images[torch.from_numpy(s.injected)]) & id_images


def test_annotators_never_train_on_test_or_validation_ood_images() -> None:
    bench = build_benchmark(CFG, seed=0)
    x, y = bench.annotator_train
    none = len(bench.classes)
    assert y.tolist().count(none) == 4 * len(OOD_SOURCES)
    # the ID-class part is the ID training images and their shifted views only
    assert torch.equal(x[: 3 * 30], torch.cat([bench.train[0], shifted_views(bench.train[0])]))
    seen = _rows(x)
    for sets in (bench.ood, bench.val_ood):
        for s in sets.values():
            assert not _rows(s.images) & seen


def test_shifted_views_move_the_digit() -> None:
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 10, 12] = 1.0
    views = shifted_views(x, shift=2)
    assert views.shape == (2, 1, 28, 28)
    assert views[0, 0, 12, 14] == 1 and views[1, 0, 8, 10] == 1 and views.sum() == 2


def test_pool_parts_are_disjoint_and_cover() -> None:
    parts = [set(_part(101, p)) for p in PARTS]
    assert sum(len(p) for p in parts) == 101 and len(set().union(*parts)) == 101


def test_textures_match_the_id_pixel_statistics() -> None:
    rng = np.random.default_rng(0)
    tex = OOD_SOURCES["textures"].draw(30, [0, 1, 2], rng, "test")
    mnist = load_mnist5k()
    id_pixels = mnist.images[np.isin(mnist.labels, [0, 1, 2])]
    assert abs(tex.mean() - id_pixels.mean()) < 0.1  # clipping at 0 raises it a little
    assert abs(tex.std() - id_pixels.std()) < 0.08


def test_same_seed_same_benchmark() -> None:
    a, b = build_benchmark(CFG, seed=1), build_benchmark(CFG, seed=1)
    assert torch.equal(a.ood["textures"].images, b.ood["textures"].images)


def test_bad_configs() -> None:
    with pytest.raises(KeyError, match="unknown OOD source 'svhn'; valid: digits_heldout"):
        build_benchmark({**CFG, "ood_sets": ["svhn"]})
    with pytest.raises(ValueError, match="contamination must lie"):
        build_benchmark({**CFG, "contamination": 1.0})
    with pytest.raises(ValueError, match="has 500 images, the splits need 1007"):
        build_benchmark({**CFG, "n_train_per_class": 1000})
    with pytest.raises(
        ValueError, match=r"contamination: digits_heldout \(test\) needs 200, 129 left"
    ):
        build_benchmark({**CFG, "n_train_per_class": 450, "n_ood": 400, "contamination": 0.5})

"""Full-profile loaders on files in their real formats: CIFAR-10 pickle batches, OpenOOD image
lists, ImageNet-style image folders; missing files name their path and the fetch command."""

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from cibr_lab.data.augment import random_crop_flip
from cibr_lab.ood.full import data as full_data
from cibr_lab.ood.full.data import (
    build_full_benchmark,
    capped,
    class_names,
    labels_of,
    per_class,
    read_cifar_batches,
)
from cibr_lab.ood.openood import openood_sets
from cibr_lab.runtime import get_profile

FIXTURE = Path(__file__).parents[1] / "fixtures" / "ood" / "openood"


def _write_batches(folder: Path, n: int, rng: np.random.Generator) -> dict[str, dict]:
    folder.mkdir(parents=True)
    written = {}
    for name in [*full_data.CIFAR_TRAIN, "test_batch"]:
        batch = {
            b"batch_label": name.encode(),
            b"labels": rng.integers(0, 10, n).tolist(),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"{i}.png".encode() for i in range(n)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        written[name] = batch
    return written


def test_cifar_pickles_read_as_torchvision_lays_them_out(tmp_path: Path) -> None:
    written = _write_batches(tmp_path / "cifar-10-batches-py", 7, np.random.default_rng(0))
    images, labels = read_cifar_batches(tmp_path / "cifar-10-batches-py", train=True)
    assert images.shape == (35, 3, 32, 32) and images.dtype == torch.uint8
    first = written["data_batch_1"]
    # row layout: 1024 red, then green, then blue values, each row-major
    assert images[0, 1, 2, 5] == first[b"data"][0, 1024 + 2 * 32 + 5]
    assert labels[:7].tolist() == first[b"labels"]
    assert labels[28:].tolist() == written["data_batch_5"][b"labels"]
    test_images, test_labels = read_cifar_batches(tmp_path / "cifar-10-batches-py", train=False)
    assert test_images.shape == (7, 3, 32, 32)
    assert test_labels.tolist() == written["test_batch"][b"labels"]


def test_missing_or_malformed_cifar_batches(tmp_path: Path) -> None:
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    with pytest.raises(FileNotFoundError) as err:
        read_cifar_batches(folder)
    assert str(folder / "data_batch_1") in str(err.value)
    assert "torchvision.datasets.CIFAR10" in str(err.value) and "download=True" in str(err.value)
    _write_batches(folder, 3, np.random.default_rng(0))
    bad = {b"data": np.zeros((3, 100), np.uint8), b"labels": [0, 1, 2]}
    (folder / "data_batch_3").write_bytes(pickle.dumps(bad))
    with pytest.raises(ValueError, match=r"data_batch_3: expected data of shape \[N, 3072\]"):
        read_cifar_batches(folder)


def test_imagenet_folder_sets_are_read_recursively_as_ood(tmp_path: Path) -> None:
    sets = openood_sets("openood_imagenet", FIXTURE)
    assert set(sets["far"]) >= {"sun", "places", "inaturalist", "textures"}
    assert set(sets["near"]) >= {"imagenet_o", "ninco"}
    imagenet_o = sets["near"]["imagenet_o"]
    assert len(imagenet_o) == 2  # one image in each of two class folders
    assert [name for name, _ in imagenet_o.items] == ["n01443537/0000.png", "n01704323/0000.png"]
    image, label = sets["far"]["sun"][1]  # a JPEG
    assert image.shape == (3, 224, 224) and label == -1
    root = tmp_path / "openood"
    shutil.copytree(FIXTURE, root)
    shutil.rmtree(root / "images_largescale" / "sun")
    with pytest.raises(FileNotFoundError) as err:
        openood_sets("openood_imagenet", root)
    assert str(root / "images_largescale" / "sun") in str(err.value)
    assert "SUN.tar.gz" in str(err.value) and "large_scale_ood" in str(err.value)
    for path in (root / "images_largescale" / "places").iterdir():
        path.unlink()
    (root / "images_largescale" / "sun").mkdir()
    (root / "images_largescale" / "sun" / "0.jpg").write_bytes(
        (FIXTURE / "images_largescale" / "sun" / "0000.jpg").read_bytes()
    )
    with pytest.raises(FileNotFoundError, match="no images under .*places"):
        openood_sets("openood_imagenet", root)


def test_subsampling_keeps_labels_aligned_and_counts() -> None:
    dataset = openood_sets("openood_cifar10", FIXTURE)["id"]["test"]
    rng = np.random.default_rng(0)
    one = per_class(dataset, 1, rng)
    assert sorted(labels_of(one).tolist()) == sorted(set(labels_of(dataset).tolist()))
    assert [one[i][1] for i in range(len(one))] == labels_of(one).tolist()
    assert per_class(dataset, 0, rng) is dataset
    assert len(capped(dataset, 1, rng)) == 1 and capped(dataset, 0, rng) is dataset


def test_full_benchmark_from_the_fixture_and_bad_settings(monkeypatch) -> None:
    monkeypatch.setenv("CIBR_LAB_DATA", str(FIXTURE.parent))
    monkeypatch.setattr(full_data, "NUM_WORKERS", 0)
    cfg = get_profile("full").section("ood")
    bench = build_full_benchmark(cfg)
    assert bench.classes[:3] == ("airplane", "automobile", "bird") and len(bench.classes) == 10
    assert set(bench.ood) == set(cfg["ood_sets"])
    mnist = bench.ood["mnist"]
    assert mnist.injected is None and mnist.items == [
        "mnist:mnist/test/0000.png",
        "mnist:mnist/test/0001.png",
    ]
    x, y = next(iter(bench.test[0]))
    assert x.shape == (2, 3, 32, 32) and torch.equal(y, bench.test[1])
    assert len(class_names("openood_imagenet")) == 1000
    with pytest.raises(KeyError, match="unknown OOD set 'ssb_hard'; valid: cifar100, tin"):
        build_full_benchmark({**cfg, "ood_sets": ["ssb_hard"]})
    with pytest.raises(ValueError, match="id_classes must be 'all'"):
        build_full_benchmark({**cfg, "id_classes": [0, 1]})
    with pytest.raises(ValueError, match="contamination and n_annotator_other must be 0"):
        build_full_benchmark({**cfg, "contamination": 0.1})


def test_augment_crops_and_flips_each_image_independently() -> None:
    x = torch.arange(4 * 2 * 5 * 5, dtype=torch.float32).reshape(4, 2, 5, 5) + 1
    gen = torch.Generator().manual_seed(0)
    out = random_crop_flip(x, gen, pad=2)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for b in range(4):  # each output is one crop of its own padded image, maybe mirrored
        crops = [
            c
            for i in range(5)
            for j in range(5)
            for c in (
                padded[b, :, i : i + 5, j : j + 5],
                padded[b, :, i : i + 5, j : j + 5].flip(-1),
            )
        ]
        assert any(torch.equal(out[b], c) for c in crops)
    many = random_crop_flip(x.repeat(64, 1, 1, 1), torch.Generator().manual_seed(1), pad=2)
    assert len({tuple(m.flatten().tolist()) for m in many[:, :1]}) > 10  # draws differ per image

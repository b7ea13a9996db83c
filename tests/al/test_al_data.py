"""AL data: embedded pool/test splits and the full-profile readers on real-format fixtures."""

import pickle
from pathlib import Path

import numpy as np
import pytest
from scipy.io import loadmat

from cibr_lab.al import full_data
from cibr_lab.al.datasets import _stratified_take, load_al_data

FIXTURES = Path(__file__).parents[1] / "fixtures" / "al"


def test_digits_split_is_stratified_disjoint_and_standardised():
    data = load_al_data("digits", 300, 200, split_seed=0)
    assert data.x_pool.shape == (300, 64) and data.x_test.shape == (200, 64)
    assert data.n_classes == 10 and data.in_shape == (64,)
    counts = np.bincount(data.y_pool.numpy(), minlength=10)
    assert counts.max() - counts.min() <= 2
    std = data.x_pool.std(0)
    live = std > 0.1  # constant pixels stay (about) zero
    np.testing.assert_allclose(data.x_pool.mean(0).numpy(), 0, atol=1e-4)
    np.testing.assert_allclose(std[live].numpy(), 1, atol=1e-2)
    again = load_al_data("digits", 300, 200, split_seed=0)
    assert (again.x_pool == data.x_pool).all()
    other = load_al_data("digits", 300, 200, split_seed=1)
    assert not (other.y_pool == data.y_pool).all()


def test_mnist_pool_is_images_and_not_sorted():
    data = load_al_data("mnist5k", 100, 100)
    assert data.in_shape == (1, 28, 28)
    assert len(set(data.y_pool[:20].tolist())) >= 8  # interleaved classes, not sorted blocks


def test_stratified_take_proportions():
    y = np.repeat([0, 1], [300, 100])
    picked = _stratified_take(y, 40, np.random.default_rng(0))
    assert abs((y[picked] == 1).sum() - 10) <= 1
    assert len(set(picked.tolist())) == 40


def test_data_errors():
    with pytest.raises(KeyError, match="valid sources: mnist5k, animals, digits"):
        load_al_data("imagenet", 10, 10)
    with pytest.raises(ValueError, match="pool_size 5000 exceeds"):
        load_al_data("digits", 5000, 100)
    with pytest.raises(ValueError, match="test_size must be in"):
        load_al_data("digits", 100, None)


def test_cifar10_reader_matches_the_pickles():
    split = full_data.cifar10(FIXTURES)
    assert split.x.shape == (20, 3, 32, 32) and split.x_test.shape == (4, 3, 32, 32)
    with open(FIXTURES / "cifar-10-batches-py" / "data_batch_2", "rb") as fh:
        raw = pickle.load(fh, encoding="latin1")
    np.testing.assert_allclose(split.x[4:8].reshape(4, -1) * 255, raw["data"], atol=1e-3)
    assert split.y[4:8].tolist() == raw["labels"]


def test_svhn_reader_transposes_and_maps_ten_to_zero():
    split = full_data.svhn(FIXTURES)
    raw = loadmat(FIXTURES / "svhn" / "train_32x32.mat")
    assert split.x.shape == (6, 3, 32, 32)
    np.testing.assert_allclose(split.x[2, 1] * 255, raw["X"][:, :, 1, 2], atol=1e-3)
    assert raw["y"].reshape(-1).tolist() == [10, 1, 2, 3, 4, 5]
    assert split.y.tolist() == [0, 1, 2, 3, 4, 5]  # label 10 is the digit 0
    assert split.y_test.tolist() == [0, 1, 2, 3]


def test_openml_arff_and_csv():
    letter = full_data.openml(6, FIXTURES)
    assert letter.x.shape == (12, 16) and letter.y.tolist() == [0, 1, 2] * 4
    poker = full_data.openml(155, FIXTURES)
    assert poker.x.shape == (10, 10) and set(poker.y.tolist()) == {0, 1}


def test_full_sources_through_load_al_data(monkeypatch):
    monkeypatch.setenv("CIBR_LAB_DATA", str(FIXTURES))
    data = load_al_data("cifar10", None, None)
    assert data.x_pool.shape == (20, 3, 32, 32) and data.n_classes == 10
    letter = load_al_data("openml6", None, 3)
    assert letter.x_test.shape == (3, 16)


def test_missing_full_data_names_path_and_fetch(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"(?s)cifar-10-batches-py/data_batch_1.*CIFAR10"):
        full_data.cifar10(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"(?s)svhn/train_32x32.mat.*split='train'"):
        full_data.svhn(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"(?s)openml/155/dataset.csv.*get_dataset\(155\)"):
        full_data.openml(155, tmp_path)

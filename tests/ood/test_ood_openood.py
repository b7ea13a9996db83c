import shutil
from pathlib import Path

import pytest
import torch

from cibr_lab.ood.openood import openood_sets, protocols, read_imglist

FIXTURE = Path(__file__).parents[1] / "fixtures" / "ood" / "openood"


@pytest.mark.parametrize(("protocol", "size"), [("openood_cifar10", 32), ("openood_imagenet", 224)])
def test_loads_every_split_of_the_fixture_layout(protocol: str, size: int) -> None:
    sets = openood_sets(protocol, FIXTURE)
    cfg = protocols()[protocol]
    for group in ("id", "val_ood", "near", "far"):
        assert list(sets[group]) == list(cfg[group])
    image, label = sets["id"]["test"][1]
    assert image.shape == (3, size, size) and image.dtype == torch.float32 and label == 1
    far = next(iter(sets["far"].values()))
    assert len(far) == 2 and far[0][1] == -1
    if protocol == "openood_cifar10":  # grayscale MNIST files become 3-channel inputs
        assert sets["far"]["mnist"][0][0].shape == (3, 32, 32)
    mean = torch.tensor(cfg["mean"])[:, None, None]
    std = torch.tensor(cfg["std"])[:, None, None]
    raw = image * std + mean  # normalisation undone: pixel values back in [0, 1]
    assert raw.min() >= -1e-5 and raw.max() <= 1 + 1e-5


def test_missing_dataset_names_path_and_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as err:
        openood_sets("openood_cifar10", tmp_path)
    message = str(err.value)
    assert str(tmp_path / "benchmark_imglist" / "cifar10" / "train_cifar10.txt") in message
    assert "download.py" in message and "ood_v1.5" in message


def test_missing_image_file_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "openood"
    shutil.copytree(FIXTURE, root)
    (root / "images_classic" / "cifar10" / "train" / "0000.png").unlink()
    with pytest.raises(FileNotFoundError, match="cifar10/train/0000.png"):
        openood_sets("openood_cifar10", root)


def test_imglist_parsing_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("a.png 0\nb.png notalabel\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: expected '<image path> <int label>'"):
        read_imglist(bad)
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        read_imglist(tmp_path / "empty.txt")
    with pytest.raises(KeyError, match="valid: openood_cifar10, openood_imagenet"):
        openood_sets("cifar11", tmp_path)

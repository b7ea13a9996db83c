"""Full-profile loaders on tiny fixtures in the real formats; missing data names its path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision.transforms as T

from cibr_lab.cibr.full_data import KarpathyCaptions, zeroshot_dataset
from cibr_lab.cibr.retrieval import retrieval_recall

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cibr"


def stack_images(dataset, batch_size=256):
    """All images of a small dataset as one tensor."""
    return torch.cat([x for x, _ in torch.utils.data.DataLoader(dataset, batch_size=batch_size)])


def test_coco_karpathy_test_split():
    data = KarpathyCaptions("coco", "test", FIXTURES / "coco", T.ToTensor())
    assert len(data) == 2
    assert data.paths[0].name == "COCO_val2014_000000391895.jpg"
    assert data.text_to_image.tolist() == [0] * 5 + [1] * 6
    assert data.captions[5] == "A picture number 1 caption 0 ."
    image, index = data[1]
    assert image.shape == (3, 8, 8) and index == 1
    assert image[1].mean() > image[0].mean()  # the green fixture
    images = stack_images(data)
    emb = images.flatten(1)
    recall = retrieval_recall(emb, emb[data.text_to_image], data.text_to_image, ks=(1,))
    assert recall["image_retrieval_recall@1"] == 1.0


def test_coco_train_is_train_plus_restval_and_flickr_has_no_filepath():
    train = KarpathyCaptions("coco", "train", FIXTURES / "coco")
    assert [p.parent.name for p in train.paths] == ["train2014", "val2014"]
    flickr = KarpathyCaptions("flickr30k", "test", FIXTURES / "flickr30k")
    assert [p.name for p in flickr.paths] == ["1000092795.jpg", "10002456.jpg"]
    assert flickr.paths[0].parent.name == "flickr30k-images"
    assert len(flickr.captions) == 10


def test_missing_caption_data_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"dataset_coco\.json.*caption_datasets\.zip"):
        KarpathyCaptions("coco", "test", tmp_path)
    (tmp_path / "dataset_flickr30k.json").write_text(
        (FIXTURES / "flickr30k" / "dataset_flickr30k.json").read_text()
    )
    with pytest.raises(FileNotFoundError, match=r"missing image .*1000092795\.jpg"):
        KarpathyCaptions("flickr30k", "test", tmp_path)
    with pytest.raises(KeyError, match="valid: coco, flickr30k"):
        KarpathyCaptions("mscoco", "test", tmp_path)
    with pytest.raises(KeyError, match="valid splits"):
        KarpathyCaptions("coco", "restval", tmp_path)


def test_eurosat_fixture_gets_clip_benchmark_names_and_templates():
    dataset, names, templates = zeroshot_dataset("eurosat", FIXTURES / "zeroshot", T.ToTensor())
    assert dataset.classes[:2] == ["AnnualCrop", "Forest"]
    assert names[:2] == ["annual crop land", "forest"] and names[-1] == "lake or sea"
    assert templates[0] == "a centered satellite photo of {c}." and len(templates) == 3
    assert len(dataset) == 13
    image, label = dataset[2]
    assert image.shape == (3, 8, 8) and label == 1


@pytest.mark.parametrize(
    "name,classes,n_templates",
    [
        ("dtd", ["banded", "zigzagged"], 8),
        ("food101", ["apple pie", "ramen"], 1),
        ("sun397", ["abbey", "beach"], 2),
    ],
)
def test_zeroshot_fixtures_in_torchvision_layouts(name, classes, n_templates):
    dataset, names, templates = zeroshot_dataset(name, FIXTURES / "zeroshot", T.ToTensor())
    assert names == classes and len(dataset) == 4 and len(templates) == n_templates
    labels = sorted(int(dataset[i][1]) for i in range(4))
    assert labels == [0, 0, 1, 1] and dataset[0][0].shape == (3, 8, 8)


def test_positional_clip_benchmark_names_need_the_complete_dataset():
    with pytest.raises(ValueError, match="pets has 2 classes but CLIP_benchmark names 37"):
        zeroshot_dataset("pets", FIXTURES / "zeroshot", T.ToTensor())


@pytest.mark.parametrize("name", ["cifar10", "dtd", "food101"])
def test_missing_zeroshot_set_names_path_and_fetch_command(tmp_path, name):
    with pytest.raises(FileNotFoundError, match=rf"{name}.*{tmp_path}.*download=True"):
        zeroshot_dataset(name, tmp_path)
    with pytest.raises(KeyError, match="valid sets: cifar10"):
        zeroshot_dataset("imagenet", tmp_path)

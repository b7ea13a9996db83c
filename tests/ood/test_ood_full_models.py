"""Full-profile models: OpenOOD and torchvision checkpoints from local files, the training
recipe, the classifier's load-else-train rule, and the committee's annotators."""

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from cibr_lab.ood.full.annotators import Adapted, build_annotators
from cibr_lab.ood.full.data import CIFAR_TRAIN
from cibr_lab.ood.full.driver import weights_digest
from cibr_lab.ood.full.train import classifier, train_sgd
from cibr_lab.ood.models import build_model, split_last_linear
from cibr_lab.ood.openood import protocols


class _Block(nn.Module):  # the public OpenOOD ResNet18_32x32 layout, written independently
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class OpenOODResNet18(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        cin, layers = 64, []
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers.append(nn.Sequential(_Block(cin, cout, stride), _Block(cout, cout, 1)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.fc(self.avgpool(out).flatten(1))


def _randomise_bn(model: nn.Module) -> None:
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=gen))
            m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=gen))


@pytest.mark.parametrize("prefix", ["", "module."])
def test_openood_checkpoint_loads_into_the_split_model(tmp_path: Path, prefix: str) -> None:
    torch.manual_seed(0)
    ref = OpenOODResNet18().eval()
    _randomise_bn(ref)
    path = tmp_path / "s0" / "best.ckpt"
    path.parent.mkdir()
    torch.save({prefix + k: v for k, v in ref.state_dict().items()}, path)
    model = build_model({"arch": "resnet18_32x32", "checkpoint": str(path)}, 10).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), ref(x), atol=1e-5)
        assert model.features(x).shape == (3, 512) and (model.features(x) >= 0).all()
    assert torch.equal(model.head.weight, ref.fc.weight)


def test_missing_checkpoint_and_weights_name_path_and_fetch(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CIBR_LAB_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        build_model({"arch": "resnet18_32x32", "checkpoint": "openood/c/s0/best.ckpt"}, 10)
    assert str(tmp_path / "openood" / "c" / "s0" / "best.ckpt") in str(err.value)
    assert "--checkpoints ood_v1.5" in str(err.value)
    with pytest.raises(FileNotFoundError) as err:
        build_model({"arch": "torchvision", "name": "resnet50", "weights": "tv/r50.pth"}, 1000)
    assert str(tmp_path / "tv" / "r50.pth") in str(err.value)
    assert "get_model('resnet50', weights='IMAGENET1K_V1')" in str(err.value)
    with pytest.raises(KeyError, match="unknown torchvision model 'resnet51'; valid: .*resnet50"):
        build_model({"arch": "torchvision", "name": "resnet51"}, 10)
    with pytest.raises(KeyError, match="unknown architecture 'resnet'; valid: .*resnet18_32x32"):
        build_model({"arch": "resnet"}, 10)


def test_torchvision_weights_load_from_a_local_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CIBR_LAB_DATA", str(tmp_path))
    torch.manual_seed(0)
    ref = torchvision.models.resnet18(num_classes=7).eval()
    torch.save(ref.state_dict(), tmp_path / "r18.pth")
    model = build_model({"arch": "torchvision", "name": "resnet18", "weights": "r18.pth"}, 7)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model.eval()(x), ref(x), atol=1e-5)
        assert model.features(x).shape == (2, 512)
    assert isinstance(model.head, nn.Linear) and model.head.out_features == 7


def test_split_last_linear_on_a_nested_classifier() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Sequential(nn.Flatten(), nn.Linear(4, 5))
    ).eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        expected = net(x)
        split = split_last_linear(net)
        assert torch.allclose(split(x), expected) and split.features(x).shape == (2, 4)
    with pytest.raises(TypeError, match="has no nn.Linear layer"):
        split_last_linear(nn.Sequential(nn.ReLU()))


def _pickles(root: Path, rng: np.random.Generator) -> None:
    """Two-class CIFAR batches: class 1 images are bright, class 0 dark."""
    folder = root / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in CIFAR_TRAIN:
        labels = rng.integers(0, 2, 12)
        data = rng.integers(0, 100, (12, 3072)) + 150 * labels[:, None]
        batch = {b"data": data.astype(np.uint8), b"labels": labels.tolist()}
        (folder / name).write_bytes(pickle.dumps(batch))


RECIPE = {
    "epochs": 6,
    "lr": 0.1,
    "batch_size": 10,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "nesterov": True,
}


def test_sgd_recipe_learns_and_is_seeded(tmp_path: Path) -> None:
    _pickles(tmp_path, np.random.default_rng(0))
    from cibr_lab.ood.full.data import read_cifar_batches

    images, labels = read_cifar_batches(tmp_path / "cifar10" / "cifar-10-batches-py")
    mean, std = [0.5] * 3, [0.25] * 3
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build_model({"arch": "resnet18_32x32", "width": 4}, 2)
        train_sgd(model, images, labels, mean, std, seed=3, **RECIPE)
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    x = (images.float() / 255 - 0.5) / 0.25
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == labels).float().mean()
    assert accuracy > 0.9


def test_classifier_loads_else_trains_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CIBR_LAB_DATA", str(tmp_path))
    _pickles(tmp_path, np.random.default_rng(0))
    protocol = protocols()["openood_cifar10"]
    spec = {"arch": "resnet18_32x32", "width": 4, "checkpoint": "ck/s{seed}/best.ckpt"}
    torch.manual_seed(5)
    released = build_model({"arch": "resnet18_32x32", "width": 4}, 10)
    (tmp_path / "ck" / "s0").mkdir(parents=True)
    state = {
        k.replace("head.", "fc.").removeprefix("body."): v for k, v in released.state_dict().items()
    }
    torch.save(state, tmp_path / "ck" / "s0" / "best.ckpt")
    cache = tmp_path / "cache.pt"
    cpu = torch.device("cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = classifier(spec, 10, protocol, RECIPE, 0, cpu, cache)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in released.state_dict().items())
    with pytest.warns(UserWarning, match=r"no checkpoint at .*ck/s1/best.ckpt"):
        trained = classifier(spec, 10, protocol, RECIPE, 1, cpu, cache)
    assert cache.exists() and not trained.training
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = classifier(spec, 10, protocol, RECIPE, 1, cpu, cache)
    assert all(torch.equal(again.state_dict()[k], v) for k, v in trained.state_dict().items())
    with pytest.raises(FileNotFoundError, match="not found and the protocol has no train data"):
        classifier(spec, 1000, protocols()["openood_imagenet"], RECIPE, 1, cpu, cache)


def test_adapted_annotator_converts_the_preprocessing() -> None:
    torch.manual_seed(0)
    inner = build_model({"arch": "resnet18_32x32", "width": 2}, 3).eval()
    source = ([0.5, 0.4, 0.3], [0.2, 0.25, 0.3])
    target = ([0.1, 0.2, 0.3], [0.5, 0.5, 0.5])
    adapted = Adapted(inner, source, target, size=16).eval()
    raw = torch.rand(2, 3, 32, 32)
    s_mean, s_std = (torch.tensor(v)[:, None, None] for v in source)
    t_mean, t_std = (torch.tensor(v)[:, None, None] for v in target)
    small = nn.functional.interpolate(raw, size=(16, 16), mode="bilinear", antialias=True)
    with torch.no_grad():
        got = adapted((raw - s_mean) / s_std)
        want = inner((small - t_mean) / t_std)
    assert torch.allclose(got, want, atol=1e-5)
    assert adapted.head is inner.head


def test_annotators_without_weights_are_skipped_with_the_path(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CIBR_LAB_DATA", str(tmp_path))
    protocol = protocols()["openood_cifar10"]
    specs = [
        {"arch": "resnet18_32x32", "width": 2},
        {"arch": "open_clip", "model": "ViT-B-32-quickgelu", "weights": "oc/vit.safetensors"},
        {
            "arch": "torchvision",
            "name": "resnet18",
            "weights": "tv/r18.pth",
            "input": {"size": 64, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        },
    ]
    classes = protocol["classes"]
    with pytest.warns(UserWarning, match="skipped") as caught:
        built = build_annotators(specs, classes, protocol, torch.device("cpu"))
    messages = " ".join(str(w.message) for w in caught)
    assert str(tmp_path / "oc" / "vit.safetensors") in messages
    assert str(tmp_path / "tv" / "r18.pth") in messages
    assert [spec for spec, _ in built] == specs[:1]
    torch.save(torchvision.models.resnet18(num_classes=10).state_dict(), tmp_path / "r18.pth")
    specs[2]["weights"] = "r18.pth"
    built = build_annotators(specs[2:], classes, protocol, torch.device("cpu"))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert built[0][1](x).shape == (2, 10)
    assert isinstance(built[0][1], Adapted)


def test_clip_annotator_is_zero_shot_open_clip(tmp_path: Path, monkeypatch) -> None:
    """A tiny open_clip config with weights saved here: the annotator's logits equal
    ``logit_scale * cos(image, "a photo of a {class}.")`` computed through open_clip's API."""
    import json

    import open_clip

    name = "cibr-test-tiny-clip"
    config = {
        "embed_dim": 16,
        "vision_cfg": {
            "image_size": 32,
            "layers": 1,
            "width": 32,
            "head_width": 16,
            "patch_size": 16,
        },
        "text_cfg": {
            "context_length": 77,
            "vocab_size": 49408,
            "width": 32,
            "heads": 2,
            "layers": 1,
        },
    }
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / f"{name}.json").write_text(json.dumps(config))
    open_clip.add_model_config(tmp_path / "cfg")
    torch.manual_seed(0)
    reference = open_clip.create_model(name).eval()
    torch.save(reference.state_dict(), tmp_path / "clip.pt")
    monkeypatch.setenv("CIBR_LAB_DATA", str(tmp_path))
    protocol = protocols()["openood_cifar10"]
    classes = protocol["classes"]
    spec = {"arch": "open_clip", "model": name, "weights": "clip.pt"}
    ((_, annotator),) = build_annotators([spec], classes, protocol, torch.device("cpu"))
    raw = torch.rand(3, 3, 32, 32)
    mean, std = (torch.tensor(v)[:, None, None] for v in (protocol["mean"], protocol["std"]))
    clip_mean, clip_std = (
        torch.tensor(v)[:, None, None]
        for v in (reference.visual.image_mean, reference.visual.image_std)
    )
    with torch.no_grad():
        image = nn.functional.normalize(
            reference.encode_image((raw - clip_mean) / clip_std), dim=-1
        )
        tokens = open_clip.get_tokenizer(name)([f"a photo of a {c}." for c in classes])
        text = nn.functional.normalize(reference.encode_text(tokens), dim=-1)
        want = reference.logit_scale.exp() * image @ text.T
        got = annotator((raw - mean) / std)
    assert torch.allclose(got, want, atol=1e-4)


def test_weights_digest_tracks_every_parameter_and_buffer() -> None:
    torch.manual_seed(0)
    a = build_model({"arch": "resnet18_32x32", "width": 2}, 3)
    torch.manual_seed(0)
    b = build_model({"arch": "resnet18_32x32", "width": 2}, 3)
    assert weights_digest(a) == weights_digest(b)
    b.body.bn1.num_batches_tracked += 1  # a 0-dim integer buffer counts too
    assert weights_digest(a) != weights_digest(b)
    b.body.bn1.num_batches_tracked -= 1
    with torch.no_grad():
        b.head.bias[0] += 1e-6
    assert weights_digest(a) != weights_digest(b)

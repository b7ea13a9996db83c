"""Models with the package's interface: ``features(x) -> [N, D]`` and ``head`` (``nn.Linear``)."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn

from cibr_lab.errors import ConfigError, MissingDataError
from cibr_lab.runtime import data_dir


class SplitModel(nn.Module):
    """A backbone ``body`` (inputs -> penultimate features ``[N, D]``) and a linear ``head``."""

    def __init__(self, body: nn.Module, head: nn.Linear) -> None:
        super().__init__()
        self.body = body
        self.head = head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``[N, D]`` (after the last non-linearity and pooling)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, C]``."""
        return self.head(self.body(x))


#: global pooling of the CNN's last feature map, by name
POOLS = {"avg": nn.AdaptiveAvgPool2d, "max": nn.AdaptiveMaxPool2d}


def small_cnn(
    num_classes: int = 10, width: int = 32, feature_dim: int = 128, pool: str = "avg"
) -> SplitModel:
    """A small CNN for 1x28x28 images; features are non-negative (post-ReLU, pooled).

    ``pool``: ``avg`` (mean over the 7x7 map: inputs with edges everywhere, such as noise,
    add up to large features) or ``max`` (each feature is its strongest local response)."""
    if pool not in POOLS:
        raise ConfigError(f"unknown pool {pool!r}; valid: {', '.join(POOLS)}")
    body = nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.BatchNorm2d(2 * width),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(2 * width, feature_dim, 3, padding=1),
        nn.BatchNorm2d(feature_dim),
        nn.ReLU(),
        POOLS[pool](1),
        nn.Flatten(),
    )
    return SplitModel(body, nn.Linear(feature_dim, num_classes))


def small_mlp(num_classes: int = 10, hidden: int = 128) -> SplitModel:
    """A one-hidden-layer MLP for 1x28x28 images (a different architecture for the committee)."""
    body = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, hidden), nn.ReLU())
    return SplitModel(body, nn.Linear(hidden, num_classes))


class _BasicBlock(nn.Module):
    """OpenOOD's ResNet basic block (its parameter names, so its checkpoints load as they are)."""

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(nn.functional.relu(self.bn1(self.conv1(x)))))
        return nn.functional.relu(out + self.shortcut(x))


class ResNet18Body32(nn.Module):
    """OpenOOD's ``ResNet18_32x32`` without ``fc``: 3x3 stem, no max-pool, four stages of two
    basic blocks (widths ``w, 2w, 4w, 8w``), global average pool -> features ``[N, 8w]``."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        widths, cin = [width, 2 * width, 4 * width, 8 * width], width
        for i, cout in enumerate(widths, start=1):
            stride = 1 if i == 1 else 2
            layer = nn.Sequential(_BasicBlock(cin, cout, stride), _BasicBlock(cout, cout, 1))
            self.add_module(f"layer{i}", layer)
            cin = cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = nn.functional.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return out.mean(dim=(2, 3))


def resolve(path: str | Path) -> Path:
    """A weights path as given, or relative to :func:`~cibr_lab.runtime.data_dir` if relative."""
    path = Path(path)
    return path if path.is_absolute() else data_dir() / path


def openood_state_dict(stored: dict) -> dict[str, torch.Tensor]:
    """An OpenOOD checkpoint (a plain ``state_dict`` of ``ResNet18_32x32``, optionally saved
    from ``nn.DataParallel`` with ``module.`` prefixes, or wrapped as ``{"state_dict": ...}``)
    renamed for :class:`SplitModel`: ``fc.*`` -> ``head.*``, everything else -> ``body.*``."""
    state = stored.get("state_dict", stored)
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        out[f"head.{key[3:]}" if key.startswith("fc.") else f"body.{key}"] = value
    return out


def _missing_weights(path: Path, how: str) -> MissingDataError:
    return MissingDataError(f"model weights not found: expected {path}; {how}")


def resnet18_32x32(
    num_classes: int = 10, width: int = 64, checkpoint: str | None = None
) -> SplitModel:
    """OpenOOD's CIFAR ResNet-18 (32x32 inputs) as a :class:`SplitModel`; ``checkpoint``: an
    OpenOOD v1.5 checkpoint file (e.g. ``.../s0/best.ckpt``) to load, relative to ``data_dir()``."""
    model = SplitModel(ResNet18Body32(width), nn.Linear(8 * width, num_classes))
    if checkpoint is not None:
        path = resolve(checkpoint)
        if not path.exists():
            how = (
                "fetch OpenOOD's v1.5 checkpoints with `python scripts/download/download.py "
                "--contents checkpoints --checkpoints ood_v1.5` in a clone of "
                "https://github.com/Jingkang50/OpenOOD"
            )
            raise _missing_weights(path, how)
        stored = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(openood_state_dict(stored))
    return model


def split_last_linear(model: nn.Module) -> SplitModel:
    """Split any classifier at its last ``nn.Linear`` (ResNet ``fc``, ViT ``heads.head``,
    ConvNeXt ``classifier[-1]``): that layer becomes the head and an identity in the body."""
    linears = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise TypeError(f"{type(model).__name__} has no nn.Linear layer to use as the head")
    parent_name, _, child = linears[-1].rpartition(".")
    parent = model.get_submodule(parent_name)
    head = getattr(parent, child)
    setattr(parent, child, nn.Identity())
    return SplitModel(model, head)


def torchvision_model(
    num_classes: int = 1000, name: str = "resnet50", weights: str | None = None
) -> SplitModel:
    """A torchvision classifier ``name`` split at its last linear layer; ``weights``: a local
    file of torchvision's released weights (relative to ``data_dir()``), never downloaded."""
    try:
        model = torchvision.models.get_model(name, weights=None, num_classes=num_classes)
    except ValueError:
        valid = ", ".join(torchvision.models.list_models(torchvision.models))
        raise ConfigError(f"unknown torchvision model {name!r}; valid: {valid}") from None
    if weights is not None:
        path = resolve(weights)
        if not path.exists():
            how = (
                'on a machine with network, run `python -c "import torchvision; torchvision.'
                f"models.get_model('{name}', weights='IMAGENET1K_V1')\"` and copy the file it "
                f"saves under ~/.cache/torch/hub/checkpoints/ to {path}"
            )
            raise _missing_weights(path, how)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return split_last_linear(model)


#: Architectures by name for configs: ``{"arch": "cnn", "width": 16, ...}``.
ARCHITECTURES = {
    "cnn": small_cnn,
    "mlp": small_mlp,
    "resnet18_32x32": resnet18_32x32,
    "torchvision": torchvision_model,
}


def build_model(spec: dict, num_classes: int) -> SplitModel:
    """A model from a config dict ``{"arch": name, **kwargs}``."""
    spec = dict(spec)
    arch = spec.pop("arch")
    if arch not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {arch!r}; valid: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](num_classes=num_classes, **spec)

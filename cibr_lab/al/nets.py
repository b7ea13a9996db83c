"""Classifiers for active learning: a body giving penultimate features, dropout, a linear head.

Every net exposes ``features(x) -> [N, D]`` (the layer MPTS aligns with MMD, coreset clusters
and BADGE differentiates through) and ``forward(x) = head(dropout(features(x)))`` (logits).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torchvision
from torch import Tensor, nn

from cibr_lab.errors import ConfigError


class ALNet(nn.Module):
    """``body`` -> features ``[N, D]`` -> dropout -> ``Linear(D, n_classes)`` logits."""

    def __init__(self, body: nn.Module, feature_dim: int, n_classes: int, dropout: float) -> None:
        super().__init__()
        self.body = body
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(feature_dim, n_classes)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def classify(self, features: Tensor) -> Tensor:
        """Logits ``[N, C]`` from penultimate features ``[N, D]``."""
        return self.head(self.dropout(features))

    def forward(self, x: Tensor) -> Tensor:
        return self.classify(self.features(x))


def cnn28(
    in_shape: tuple[int, ...], n_classes: int, width: int = 16, dropout: float = 0.3
) -> ALNet:
    """Two conv-BN-ReLU-pool blocks and a 128-d feature layer, for ``[1, 28, 28]`` images."""
    c = in_shape[0]
    body = nn.Sequential(
        nn.Conv2d(c, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(2 * width * (in_shape[1] // 4) * (in_shape[2] // 4), 128), nn.ReLU(),
    )  # fmt: skip
    return ALNet(body, 128, n_classes, dropout)


def mlp(
    in_shape: tuple[int, ...], n_classes: int, hidden: int = 256, dropout: float = 0.3
) -> ALNet:
    """One hidden layer of ``hidden`` units (the ALFA-Mix / BADGE tabular net)."""
    body = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(in_shape), hidden), nn.ReLU())
    return ALNet(body, hidden, n_classes, dropout)


def resnet18(in_shape: tuple[int, ...], n_classes: int, dropout: float = 0.0) -> ALNet:
    """torchvision ResNet-18 with the CIFAR stem (3x3 conv, no max-pool); 512-d features."""
    net = torchvision.models.resnet18(num_classes=n_classes)
    net.conv1 = nn.Conv2d(in_shape[0], 64, 3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    net.fc = nn.Identity()
    return ALNet(net, 512, n_classes, dropout)


NETS: dict[str, Callable[..., ALNet]] = {"cnn28": cnn28, "mlp": mlp, "resnet18": resnet18}


def get_net(name: str, in_shape: tuple[int, ...], n_classes: int, **options) -> ALNet:
    """Build a fresh net by name; unknown names are a KeyError listing the valid ones."""
    if name not in NETS:
        raise ConfigError(f"unknown net {name!r}; valid nets: {', '.join(sorted(NETS))}")
    return NETS[name](tuple(in_shape), n_classes, **options)

import pytest
import torch
from torch import nn


class TinyNet(nn.Module):
    """A tiny model with the package's interface: ``features(x)`` and ``head``."""

    def __init__(self, in_dim: int = 12, feat_dim: int = 16, classes: int = 4) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_dim, feat_dim), nn.ReLU())
        self.head = nn.Linear(feat_dim, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@pytest.fixture
def tiny() -> dict:
    torch.manual_seed(0)
    net = TinyNet().eval()
    x = torch.randn(200, 12)
    labels = torch.arange(200) % 4
    with torch.no_grad():
        feats = net.features(x)
    return {"net": net, "x": x, "labels": labels, "features": feats, "head": net.head}

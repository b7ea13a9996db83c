"""A trained model and its optional trajectory snapshots, seen through what strategies ask."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from cibr_lab.runtime import autocast

DROPOUT_TYPES = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)


class MissingCapability(RuntimeError):
    """A strategy asked the learner for something its model or training cannot provide."""


def dropout_layers(model: nn.Module) -> list[nn.Module]:
    """The dropout modules of ``model`` with ``p > 0`` (those MC-dropout passes switch on)."""
    return [m for m in model.modules() if isinstance(m, DROPOUT_TYPES) and m.p > 0]


@dataclass
class Learner:
    """The reported model plus the snapshots a trajectory (SWA) phase kept.

    All outputs are computed in batches of ``batch_size`` on ``device`` and returned on the
    CPU in float32; inputs are CPU or device tensors ``[N, ...]``.
    """

    model: nn.Module
    device: torch.device
    snapshots: list[nn.Module] = field(default_factory=list)
    batch_size: int = 512

    def _map(self, fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
        out = []
        with torch.no_grad(), autocast(self.device):
            for i in range(0, x.shape[0], self.batch_size):
                out.append(
                    fn(x[i : i + self.batch_size].to(self.device, non_blocking=True)).float()
                )
        return torch.cat(out).cpu()

    def predict_proba(self, x: Tensor) -> Tensor:
        """Class probabilities of the reported model, ``[N, C]``."""
        self.model.eval()
        return self._map(lambda b: self.model(b).softmax(-1), x)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features of the reported model, ``[N, D]``."""
        if not callable(getattr(self.model, "features", None)):
            raise MissingCapability(
                f"this strategy needs penultimate features, but {type(self.model).__name__} "
                "has no features(x) method"
            )
        self.model.eval()
        return self._map(self.model.features, x)

    def mc_proba(self, x: Tensor, n_samples: int) -> Tensor:
        """``n_samples`` MC-dropout predictions ``[T, N, C]`` (dropout on, batch norm frozen)."""
        drops = dropout_layers(self.model)
        if not drops:
            raise MissingCapability(
                f"MC dropout needs a model with dropout (p > 0); {type(self.model).__name__} "
                "has none (set the net's dropout option)"
            )
        self.model.eval()
        for m in drops:
            m.train()
        try:
            return torch.stack(
                [self._map(lambda b: self.model(b).softmax(-1), x) for _ in range(n_samples)]
            )
        finally:
            self.model.eval()

    def snapshot_proba(self, x: Tensor) -> Tensor:
        """Predictions of every trajectory snapshot, ``[K, N, C]``."""
        if not self.snapshots:
            raise MissingCapability(
                "this strategy needs trajectory snapshots, but the model was trained without a "
                "trajectory phase (train with swa: true)"
            )
        outs = []
        for snap in self.snapshots:
            snap.eval()
            outs.append(self._map(lambda b, s=snap: s(b).softmax(-1), x))
        return torch.stack(outs)

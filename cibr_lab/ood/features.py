"""Extract penultimate features and logits once per (model, dataset); score every method from it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cibr_lab.results.atomic import atomic_torch_save, torch_load_checked
from cibr_lab.runtime import autocast


@dataclass(frozen=True)
class Extracted:
    """Features ``[N, D]`` and logits ``[N, C]`` (float32, CPU), labels ``[N]`` when known."""

    features: torch.Tensor
    logits: torch.Tensor
    labels: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.features.shape[0]


def _batches(data: torch.Tensor | Iterable, batch_size: int) -> Iterable:
    if isinstance(data, torch.Tensor):
        if data.shape[0] == 0:
            raise ValueError("cannot extract features from an empty set of inputs")
        return data.split(batch_size)
    return data


def extract(model: nn.Module, data: torch.Tensor | Iterable, batch_size: int = 512) -> Extracted:
    """Run ``model`` once over ``data`` in eval mode, on the model's device, bf16 autocast on CUDA.

    Parameters
    ----------
    model : exposes ``features(x) -> [B, D]`` and ``head`` (the final ``nn.Linear``).
    data : an input tensor ``[N, ...]`` (split into chunks of ``batch_size``) or an iterable
        of batches, each a tensor or an ``(inputs, labels)`` pair (e.g. a ``DataLoader``).

    Returns
    -------
    :class:`Extracted`, gathered on the device and moved to the CPU once at the end.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    feats, logits, labels = [], [], []
    with torch.no_grad(), autocast(device):
        for batch in _batches(data, batch_size):
            x, y = batch if isinstance(batch, (tuple, list)) else (batch, None)
            f = model.features(x.to(device, non_blocking=True))
            feats.append(f.float())
            logits.append(model.head(f).float())
            if y is not None:
                labels.append(torch.as_tensor(y))
    model.train(was_training)
    if not feats:
        raise ValueError("cannot extract features from an empty set of inputs")
    out = Extracted(
        torch.cat(feats).cpu(),
        torch.cat(logits).cpu(),
        torch.cat(labels).long() if labels else None,
    )
    if not torch.isfinite(out.features).all():
        raise ValueError("the model produced NaN or infinite features")
    return out


class FeatureCache:
    """Extracted features keyed by ``(model_key, data_key)``: in memory, and on disk when
    ``root`` is given (``root/<model_key>/<data_key>.pt``, loaded if present, else computed)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else None
        self._memory: dict[tuple[str, str], Extracted] = {}
        self.misses = 0

    def get(
        self,
        model_key: str,
        data_key: str,
        model: nn.Module,
        data: torch.Tensor | Iterable,
        batch_size: int = 512,
    ) -> Extracted:
        """The cached extraction, computing it (and counting a miss) when absent."""
        key = (model_key, data_key)
        if key in self._memory:
            return self._memory[key]
        path = self.root / model_key / f"{data_key}.pt" if self.root is not None else None
        if path is not None and path.exists():
            stored = torch_load_checked(path, "feature cache")
            found = Extracted(stored["features"], stored["logits"], stored.get("labels"))
        else:
            self.misses += 1
            found = extract(model, data, batch_size)
            if path is not None:
                stored = {"features": found.features, "logits": found.logits}
                atomic_torch_save({**stored, "labels": found.labels}, path)
        self._memory[key] = found
        return found

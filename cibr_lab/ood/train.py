"""Train the ID classifiers, or load their checkpoint when one with the same config exists."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from cibr_lab.ood.models import SplitModel, build_model
from cibr_lab.results.atomic import atomic_torch_save, torch_load_checked


def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    generator: torch.Generator,
) -> nn.Module:
    """Adam (one-cycle schedule) with cross-entropy on ``images [N, ...]``, ``labels [N]``.

    Returns the model in eval mode.
    """
    device = next(model.parameters()).device
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=epochs * -(-len(images) // batch_size)
    )
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for idx in order.split(batch_size):
            x, y = images[idx].to(device), labels[idx].to(device)
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def load_or_fit(
    path: str | Path, meta: str, model: nn.Module, fit: Callable[[], object]
) -> nn.Module:
    """Load ``path`` into ``model`` if it holds weights saved under the same ``meta`` string;
    else call ``fit()`` (which trains ``model`` in place) and save the weights atomically.
    Returns the model in eval mode."""
    path = Path(path)
    if path.exists():
        device = next(model.parameters()).device
        stored = torch_load_checked(path, "checkpoint", map_location=device)
        if stored.get("meta") == meta:
            model.load_state_dict(stored["state_dict"])
            return model.eval()
    fit()
    atomic_torch_save({"meta": meta, "state_dict": model.state_dict()}, path)
    return model.eval()


def load_or_train(
    path: str | Path,
    spec: dict,
    num_classes: int,
    data: tuple[torch.Tensor, torch.Tensor],
    train_cfg: dict,
    seed: int,
    device: torch.device,
) -> SplitModel:
    """Load ``path`` if it holds a checkpoint of the same spec, training config and seed; else
    train (seeded) and save it. Returns the model in eval mode on ``device``."""
    meta = {"spec": spec, "train": train_cfg, "seed": seed, "n": len(data[0])}
    torch.manual_seed(seed)
    model = build_model(spec, num_classes).to(device)
    gen = torch.Generator().manual_seed(seed)
    fit = lambda: train_classifier(model, *data, generator=gen, **train_cfg)
    return load_or_fit(path, json.dumps(json.loads(json.dumps(meta)), sort_keys=True), model, fit)


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of ``model`` on ``images`` (batched, no grad)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        preds = torch.cat([model(x.to(device)).argmax(1).cpu() for x in images.split(1024)])
    return float((preds == labels).float().mean())

"""The classifier of a full-profile seed: a released checkpoint if present, else trained here.

The recipe is OpenOOD's CIFAR baseline: SGD with Nesterov momentum, cosine schedule per step,
random crop (4-pixel zero padding) and horizontal flip, all done on the device in batches.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

from cibr_lab.data.augment import random_crop_flip
from cibr_lab.errors import MissingDataError
from cibr_lab.ood.full.data import read_cifar_batches
from cibr_lab.ood.models import SplitModel, build_model, resolve
from cibr_lab.ood.train import load_or_fit
from cibr_lab.runtime import autocast


def train_sgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    mean: list[float],
    std: list[float],
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    momentum: float,
    weight_decay: float,
    nesterov: bool,
    seed: int,
) -> nn.Module:
    """Train on ``images uint8 [N, 3, H, W]`` and ``labels [N]`` (moved to the model's device
    once), normalised by ``mean``/``std`` after augmentation; bf16 autocast on CUDA.

    Returns the model in eval mode.
    """
    device = next(model.parameters()).device
    images, labels = images.to(device), labels.to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    mean_t = torch.tensor(mean, device=device)[:, None, None]
    std_t = torch.tensor(std, device=device)[:, None, None]
    opt = torch.optim.SGD(
        model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov
    )
    steps = epochs * -(-len(images) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=gen, device=device)
        for idx in order.split(batch_size):
            x = (random_crop_flip(images[idx].float() / 255, gen) - mean_t) / std_t
            with autocast(device):
                loss = nn.functional.cross_entropy(model(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def classifier(
    spec: dict,
    num_classes: int,
    protocol: dict,
    train_cfg: dict,
    seed: int,
    device: torch.device,
    cache_path: Path,
) -> SplitModel:
    """The seed's classifier on ``device`` in eval mode.

    ``spec["checkpoint"]`` (``{seed}`` filled in) is loaded when the file exists; without one
    (or when it is absent, with a warning) a model is trained with ``train_cfg`` on the
    protocol's ``train_pickle`` batches and cached at ``cache_path`` (reused when its spec,
    recipe and seed match). A spec without ``checkpoint`` (e.g. torchvision weights) is built
    as given.
    """
    spec = dict(spec)
    template = spec.pop("checkpoint", None)
    if template is None:
        return build_model(spec, num_classes).to(device).eval()
    path = resolve(template.format(seed=seed))
    if path.exists():
        return build_model({**spec, "checkpoint": str(path)}, num_classes).to(device).eval()
    if protocol["train_pickle"] is None:
        raise MissingDataError(f"checkpoint {path} not found and the protocol has no train data")
    meta = json.dumps({"spec": spec, "train": train_cfg, "seed": seed}, sort_keys=True)
    torch.manual_seed(seed)
    model = build_model(spec, num_classes).to(device)

    def fit() -> None:
        warnings.warn(
            f"no checkpoint at {path}: training one with the profile's recipe", stacklevel=3
        )
        images, labels = read_cifar_batches(resolve(protocol["train_pickle"]), train=True)
        train_sgd(model, images, labels, protocol["mean"], protocol["std"], seed=seed, **train_cfg)

    return load_or_fit(cache_path, meta, model, fit)

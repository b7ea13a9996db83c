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

from cibr_lab.ood.full.data import read_cifar_batches
from cibr_lab.ood.models import SplitModel, build_model, resolve
from cibr_lab.runtime import autocast


def augment(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop after ``pad`` zero padding and random horizontal flip of ``x [B, C, H, W]``,
    one draw per image, vectorised (``generator`` lives on ``x``'s device)."""
    b, _, h, w = x.shape
    padded = nn.functional.pad(x, (pad, pad, pad, pad))
    off = torch.randint(0, 2 * pad + 1, (2, b), generator=generator, device=x.device)
    rows = (off[0, :, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (off[1, :, None] + torch.arange(w, device=x.device))[:, None, None, :]
    flip = torch.rand(b, generator=generator, device=x.device) < 0.5
    cols = torch.where(flip[:, None, None, None], cols.flip(-1), cols)
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]


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
            x = (augment(images[idx].float() / 255, gen) - mean_t) / std_t
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
        raise FileNotFoundError(f"checkpoint {path} not found and the protocol has no train data")
    meta = json.dumps({"spec": spec, "train": train_cfg, "seed": seed}, sort_keys=True)
    torch.manual_seed(seed)
    model = build_model(spec, num_classes).to(device)
    if cache_path.exists():
        stored = torch.load(cache_path, map_location=device, weights_only=True)
        if stored.get("meta") == meta:
            model.load_state_dict(stored["state_dict"])
            return model.eval()
    warnings.warn(f"no checkpoint at {path}: training one with the profile's recipe", stacklevel=2)
    images, labels = read_cifar_batches(resolve(protocol["train_pickle"]), train=True)
    train_sgd(model, images, labels, protocol["mean"], protocol["std"], seed=seed, **train_cfg)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_path.with_suffix(".tmp")
    torch.save({"meta": meta, "state_dict": model.state_dict()}, tmp)
    tmp.replace(cache_path)
    return model

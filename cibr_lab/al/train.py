"""Training one round's model: cross-entropy, optional MMD alignment, optional SWA trajectory.

Loss per step (labelled batch ``(x_l, y_l)``, unlabelled batch ``x_u`` drawn from the pool)::

    CE(f(x_l), y_l) + mmd_weight * MMD^2(h(x_l), h(x_u))

with ``h`` the penultimate features (one forward pass over the concatenated batches, so batch
norm sees both) and ``cibr_lab.info.mmd2`` (multi-bandwidth Gaussian kernel, unbiased). With
``swa``, the last ``1 - swa_start`` of the epochs form a trajectory phase of ``n_snapshots``
learning-rate cycles (linear decay from ``swa_lr`` to ``swa_lr_min``; equal values give a
constant rate); at the end of each cycle the weights are averaged into the SWA model and kept as
a snapshot. The SWA model, with batch-norm statistics recomputed on the labelled set, is the
reported model. ``augment`` applies random crops and flips to labelled image batches (the
full profile's CIFAR-10 / SVHN recipe).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, update_bn

from cibr_lab.al.learner import Learner
from cibr_lab.al.nets import ALNet
from cibr_lab.data.augment import random_crop_flip
from cibr_lab.errors import ConfigError
from cibr_lab.info import mmd2
from cibr_lab.runtime import autocast

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": lambda params, lr, wd, momentum: torch.optim.Adam(params, lr=lr, weight_decay=wd),
    "sgd": lambda params, lr, wd, momentum: torch.optim.SGD(
        params, lr=lr, weight_decay=wd, momentum=momentum
    ),
}


@dataclass(frozen=True)
class TrainConfig:
    """How each round's model is trained (the same budget for every strategy)."""

    epochs: int = 20
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    mmd_weight: float = 0.0
    unlabeled_batch_size: int = 64
    swa: bool = False
    swa_start: float = 0.5
    swa_lr: float = 1e-3
    swa_lr_min: float = 1e-3
    n_snapshots: int = 5
    augment: bool = False

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"unknown optimizer {self.optimizer!r}; "
                f"valid optimizers: {', '.join(sorted(OPTIMIZERS))}"
            )
        if self.epochs < 1 or self.batch_size < 2 or self.unlabeled_batch_size < 2:
            raise ValueError("epochs must be >= 1 and batch sizes >= 2")
        if self.mmd_weight < 0:
            raise ValueError(f"mmd_weight must be >= 0, got {self.mmd_weight}")
        if self.swa and not 1 <= self.n_snapshots <= self.epochs - self.swa_start_epoch:
            raise ValueError(
                f"n_snapshots={self.n_snapshots} needs 1 <= n_snapshots <= the "
                f"{self.epochs - self.swa_start_epoch} epochs of the trajectory phase"
            )

    @property
    def swa_start_epoch(self) -> int:
        return round(self.epochs * self.swa_start) if self.swa else self.epochs

    def cycle_ends(self) -> list[int]:
        """Epochs (0-based) that close a trajectory cycle; empty without SWA."""
        if not self.swa:
            return []
        start, span = self.swa_start_epoch, self.epochs - self.swa_start_epoch
        return [
            start + round((k + 1) * span / self.n_snapshots) - 1 for k in range(self.n_snapshots)
        ]

    def as_dict(self) -> dict:
        return asdict(self)


def _lr_at(cfg: TrainConfig, epoch: int, step: int, n_batches: int, ends: list[int]) -> float:
    """Learning rate of one step: ``lr`` before the trajectory, a linear cycle within it."""
    if epoch < cfg.swa_start_epoch:
        return cfg.lr
    k = next(i for i, e in enumerate(ends) if epoch <= e)
    start = ends[k - 1] + 1 if k else cfg.swa_start_epoch
    span = (ends[k] - start + 1) * n_batches
    frac = ((epoch - start) * n_batches + step + 1) / span
    return cfg.swa_lr + (cfg.swa_lr_min - cfg.swa_lr) * frac


def _batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    """A shuffled split of ``range(n)`` into ``ceil(n / batch_size)`` near-equal batches."""
    return iter(
        torch.tensor_split(torch.randperm(n, generator=generator), math.ceil(n / batch_size))
    )


def step_loss(model: ALNet, xb: Tensor, yb: Tensor, ub: Tensor | None, weight: float) -> Tensor:
    """One step's loss: ``CE(f(xb), yb) + weight * MMD^2(h(xb), h(ub))``; CE if ``ub`` is None.

    ``xb [B, ...]``, ``yb [B]``, ``ub [U, ...]`` (``B, U >= 2``); features ``h`` of both batches
    come from one forward pass.
    """
    if ub is None:
        return nn.functional.cross_entropy(model(xb), yb)
    feats = model.features(torch.cat([xb, ub]))
    fl, fu = feats[: xb.shape[0]], feats[xb.shape[0] :]
    ce = nn.functional.cross_entropy(model.classify(fl), yb)
    return ce + weight * mmd2(fl.float(), fu.float(), check=False)


def train(
    model: ALNet,
    x_labeled: Tensor,
    y_labeled: Tensor,
    x_unlabeled: Tensor,
    cfg: TrainConfig,
    device: torch.device,
    generator: torch.Generator,
) -> Learner:
    """Train ``model`` (fresh) on the labelled set and return the round's :class:`Learner`.

    ``x_labeled [L, ...]``, ``y_labeled [L]`` int64, ``x_unlabeled [U, ...]`` (used only when
    ``cfg.mmd_weight > 0``; needs ``U >= 2``). ``generator`` (CPU) drives shuffling and the
    unlabelled batches; weight init and dropout follow torch's global seed.
    """
    if x_labeled.shape[0] < 2 or x_labeled.shape[0] != y_labeled.shape[0]:
        raise ValueError(
            f"need >= 2 labelled points with one label each, got {x_labeled.shape[0]} inputs "
            f"and {y_labeled.shape[0]} labels"
        )
    use_mmd = cfg.mmd_weight > 0
    if use_mmd and x_unlabeled.shape[0] < 2:
        raise ValueError("MMD training needs at least 2 unlabelled points")
    model.to(device).train()
    opt = OPTIMIZERS[cfg.optimizer](model.parameters(), cfg.lr, cfg.weight_decay, cfg.momentum)
    n = x_labeled.shape[0]
    n_batches = math.ceil(n / cfg.batch_size)
    ends = cfg.cycle_ends()
    swa_model = AveragedModel(model) if cfg.swa else None
    snapshots: list[nn.Module] = []
    y_labeled = y_labeled.to(device, non_blocking=True)
    for epoch in range(cfg.epochs):
        for step, idx in enumerate(_batches(n, cfg.batch_size, generator)):
            for group in opt.param_groups:
                group["lr"] = _lr_at(cfg, epoch, step, n_batches, ends)
            ub = None
            if use_mmd:
                pick = torch.randint(
                    x_unlabeled.shape[0], (cfg.unlabeled_batch_size,), generator=generator
                )
                ub = x_unlabeled[pick].to(device, non_blocking=True)
            xb = x_labeled[idx].to(device, non_blocking=True)
            if cfg.augment:
                xb = random_crop_flip(xb, generator)
            with autocast(device):
                yb = y_labeled[idx.to(device, non_blocking=True)]
                loss = step_loss(model, xb, yb, ub, cfg.mmd_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if epoch in ends:
            swa_model.update_parameters(model)
            snapshots.append(copy.deepcopy(model).eval())
    if swa_model is None:
        return Learner(model.eval(), device)
    loader = [x_labeled[i : i + cfg.batch_size].to(device) for i in range(0, n, cfg.batch_size)]
    update_bn(loader, swa_model)
    return Learner(swa_model.module.eval(), device, snapshots)


def accuracy(learner: Learner, x: Tensor, y: Tensor) -> float:
    """Top-1 accuracy of the reported model on ``(x [N, ...], y [N])``."""
    return float((learner.predict_proba(x).argmax(1) == y.cpu()).float().mean())

"""Training one round's model: cross-entropy, optional MMD alignment, optional SWA trajectory.

Loss per step (labelled batch ``(x_l, y_l)``, unlabelled batch ``x_u`` drawn from the pool)::

    CE(f(x_l), y_l) + mmd_weight * MMD^2(h(x_l), h(x_u))

with ``h`` the penultimate features (one forward pass over the concatenated batches, so batch
norm sees both) and ``cibr_lab.info.mmd2`` (multi-bandwidth Gaussian kernel, unbiased).

The recipe is counted in optimizer steps, not epochs, so every labelled-set size gets the same
number of updates: ``steps`` base steps with a learning rate decaying linearly from ``lr`` to
``lr_min``, then (with ``swa``) a trajectory phase of ``n_snapshots`` cycles of
``cycle_steps`` steps, each restarting at ``swa_lr`` (above the base ``lr``) and decaying
linearly to ``swa_lr_min`` (:func:`lr_schedule`). At the end of each cycle the weights are
averaged into the SWA model (``torch.optim.swa_utils.AveragedModel``) and kept as a snapshot;
the SWA model, with batch-norm statistics recomputed on the labelled set (``update_bn``), is
the reported model. ``augment`` applies random crops and flips to labelled image batches.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, update_bn

from cibr_lab.al.learner import Learner
from cibr_lab.al.nets import ALNet
from cibr_lab.data.augment import random_crop_flip
from cibr_lab.errors import ConfigError
from cibr_lab.info import mmd2
from cibr_lab.runtime import autocast, fused_adam

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": lambda params, lr, wd, momentum, device: torch.optim.Adam(
        params, lr=lr, weight_decay=wd, fused=fused_adam(device)
    ),
    "sgd": lambda params, lr, wd, momentum, device: torch.optim.SGD(
        params, lr=lr, weight_decay=wd, momentum=momentum
    ),
}


def _check_int(key: str, value: object, minimum: int, context: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"train {key} must be an int >= {minimum}{context}, got {value!r}")


@dataclass(frozen=True)
class TrainConfig:
    """How each round's model is trained, in optimizer steps (the same for every set size).

    ``lr_min`` None keeps the base rate constant. With ``swa`` the trajectory phase adds
    ``n_snapshots * cycle_steps`` steps whose cycles restart at ``swa_lr``, which must exceed
    ``lr`` (a restart above the base rate moves the weights out of the basin the base phase
    found, so the snapshots differ).
    """

    steps: int = 200
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    lr_min: float | None = None
    weight_decay: float = 0.0
    momentum: float = 0.9
    mmd_weight: float = 0.0
    unlabeled_batch_size: int = 64
    swa: bool = False
    swa_lr: float = 3e-3
    swa_lr_min: float = 1e-3
    n_snapshots: int = 4
    cycle_steps: int = 50
    augment: bool = False

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"unknown optimizer {self.optimizer!r}; "
                f"valid optimizers: {', '.join(sorted(OPTIMIZERS))}"
            )
        for key, minimum in (("steps", 1), ("batch_size", 2), ("unlabeled_batch_size", 2)):
            _check_int(key, getattr(self, key), minimum)
        if not self.lr > 0 or (self.lr_min is not None and not 0 < self.lr_min <= self.lr):
            raise ConfigError(
                f"train lr must be > 0 and lr_min in (0, lr], got lr {self.lr}, "
                f"lr_min {self.lr_min}"
            )
        if self.mmd_weight < 0:
            raise ConfigError(f"train mmd_weight must be >= 0, got {self.mmd_weight}")
        if not self.swa:
            return
        for key in ("n_snapshots", "cycle_steps"):
            _check_int(key, getattr(self, key), 1, " with swa")
        if not self.swa_lr > self.lr:
            raise ConfigError(
                f"train swa_lr ({self.swa_lr:g}) must exceed the base lr ({self.lr:g}): each "
                "trajectory cycle restarts above the base rate"
            )
        if not 0 < self.swa_lr_min <= self.swa_lr:
            raise ConfigError(
                f"train swa_lr_min must be in (0, swa_lr = {self.swa_lr:g}], got {self.swa_lr_min}"
            )

    @property
    def total_steps(self) -> int:
        """Base steps plus the trajectory phase's ``n_snapshots * cycle_steps``."""
        return self.steps + (self.n_snapshots * self.cycle_steps if self.swa else 0)

    def cycle_ends(self) -> list[int]:
        """Steps (0-based) that close a trajectory cycle (one snapshot each); empty without SWA."""
        if not self.swa:
            return []
        return [self.steps + (k + 1) * self.cycle_steps - 1 for k in range(self.n_snapshots)]

    def as_dict(self) -> dict:
        return asdict(self)


def lr_schedule(cfg: TrainConfig) -> np.ndarray:
    """Learning rate of every step, ``[cfg.total_steps]``.

    Base step ``t < steps``: ``lr + (lr_min - lr) * t / steps`` (constant ``lr`` when
    ``lr_min`` is None). Trajectory step ``i`` of a cycle (``0 <= i < cycle_steps``):
    ``swa_lr + (swa_lr_min - swa_lr) * (i + 1) / cycle_steps``, so each cycle restarts just
    below ``swa_lr`` and its last step (the snapshot) is at ``swa_lr_min``.
    """
    end = cfg.lr if cfg.lr_min is None else cfg.lr_min
    base = cfg.lr + (end - cfg.lr) * np.arange(cfg.steps) / cfg.steps
    if not cfg.swa:
        return base
    frac = (np.arange(cfg.cycle_steps) + 1) / cfg.cycle_steps
    cycle = cfg.swa_lr + (cfg.swa_lr_min - cfg.swa_lr) * frac
    return np.concatenate([base, np.tile(cycle, cfg.n_snapshots)])


def _batch_stream(n: int, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    """Endless batches: each pass is a shuffled split of ``range(n)`` into
    ``ceil(n / batch_size)`` near-equal batches."""
    while True:
        perm = torch.randperm(n, generator=generator)
        yield from torch.tensor_split(perm, math.ceil(n / batch_size))


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
    opt = OPTIMIZERS[cfg.optimizer](
        model.parameters(), cfg.lr, cfg.weight_decay, cfg.momentum, device
    )
    n = x_labeled.shape[0]
    ends = set(cfg.cycle_ends())
    swa_model = AveragedModel(model) if cfg.swa else None
    snapshots: list[nn.Module] = []
    y_labeled = y_labeled.to(device, non_blocking=True)
    batches = _batch_stream(n, cfg.batch_size, generator)
    for step, lr in enumerate(lr_schedule(cfg).tolist()):
        for group in opt.param_groups:
            group["lr"] = lr
        idx = next(batches)
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
        if step in ends:
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

"""CIBR inside open_clip's own trainer, ``open_clip_train`` (AMP, accumulation, DDP, resume, csv
and webdataset loading, logging, zero-shot during training).

    python -m cibr_lab.cibr.openclip_train --cibr-lam 0.02 --cibr-estimator ceb \\
        --train-data train.csv --dataset-type csv --model ViT-B-32 --pretrained openai ...
    torchrun --nproc_per_node N -m cibr_lab.cibr.openclip_train --cibr-lam ... --gather-with-grad

The ``--cibr-*`` arguments are ours, every other one goes to ``open_clip_train.main.main``. The
estimator is attached to the model as the sub-module ``cibr_estimator``: open_clip_train's state
dict, DDP, checkpoints and ``--resume`` carry it (drop the ``cibr_estimator.`` keys to load the
weights into a plain open_clip model); the model's forward and zero-shot evaluation never call
it. Its parameters form the optimiser's last parameter group, with peak learning rate
``--cibr-lr`` (default ``--lr``) on open_clip_train's schedule and no weight decay. With
``--cibr-lam 0`` it is frozen and outside the optimiser: the run is plain open_clip_train (the
log gains a ``Cibr_loss`` of 0). Several processes require ``--gather-with-grad``; without it
the penalty's gradient is scaled by the world size (``ceb``) or lost (``mine`` with
``--local-loss``). With ``--accum-freq k`` open_clip_train evaluates the loss k times per step,
so the estimator's gradient (like ``logit_scale``'s) is summed k times.

open_clip_train 3.3.0 has no hook for any of this; :func:`main` replaces, for its duration, a few
names that ``open_clip_train.main`` looks up at run time (see :meth:`CIBRPlugin.patches`).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

import fsspec
import open_clip
import open_clip_train.main as oc_main
import open_clip_train.scheduler as oc_scheduler
import torch
from open_clip_train.distributed import world_info_from_env
from open_clip_train.params import parse_args
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from cibr_lab.cibr.estimators import ESTIMATORS
from cibr_lab.cibr.loss import CIBRLoss, training_loss
from cibr_lab.cibr.model import LOCAL_MODELS, get_tokenizer, register_models

#: Name of the estimator's sub-module in the model (its state-dict prefix).
ESTIMATOR_MODULE = "cibr_estimator"


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``--cibr-*`` arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m cibr_lab.cibr.openclip_train",
        allow_abbrev=False,
        description="open_clip_train with the CIBR penalty; other arguments go to "
        "open_clip_train (python -m open_clip_train.main --help).",
    )
    parser.add_argument("--cibr-lam", type=float, required=True, help="penalty weight (>= 0)")
    parser.add_argument("--cibr-estimator", required=True, choices=sorted(ESTIMATORS))
    parser.add_argument("--cibr-lr", type=float, help="estimator's peak lr (default: --lr)")
    parser.add_argument("--cibr-sigma", type=float, default=0.25, help="embedding noise std")
    return parser


def check_args(cibr: argparse.Namespace, args: argparse.Namespace, world_size: int) -> None:
    """Raise a ``ValueError`` for settings CIBR cannot honour (before any work starts)."""
    if not cibr.cibr_lam >= 0:
        raise ValueError(f"--cibr-lam must be a non-negative number, got {cibr.cibr_lam}")
    if cibr.cibr_lr is not None and not cibr.cibr_lr > 0:
        raise ValueError(f"--cibr-lr must be positive, got {cibr.cibr_lr}")
    if not cibr.cibr_sigma > 0:
        raise ValueError(f"--cibr-sigma must be positive, got {cibr.cibr_sigma}")
    if world_size > 1 and not args.gather_with_grad:
        raise ValueError(
            f"CIBR with {world_size} processes needs --gather-with-grad: without it the "
            "penalty's gradient is scaled by the world size (ceb) or lost (mine with --local-loss)"
        )
    unsupported = {
        "--horovod": args.horovod,
        "--siglip": args.siglip,
        "a CoCa model": "coca" in args.model.lower(),
        "--distill-model": args.distill_model is not None,
        f"--opt {args.opt}": args.opt.lower() != "adamw",
    }
    bad = [name for name, used in unsupported.items() if used]
    if bad:
        raise ValueError(f"CIBR extends open_clip's CLIP loss with AdamW; unsupported: {bad[0]}")


class _CPUFriendlyDDP(DistributedDataParallel):
    """open_clip_train passes ``device_ids=[device]`` also on CPU, which DDP refuses."""

    def __init__(self, module: nn.Module, device_ids: Sequence[Any] | None = None, **kwargs):
        if device_ids and all(torch.device(d).type == "cpu" for d in device_ids):
            device_ids = None
        super().__init__(module, device_ids=device_ids, **kwargs)


def _assign_learning_rate(optimizer: torch.optim.Optimizer, new_lr: float) -> None:
    """open_clip_train's ``assign_learning_rate``, honouring a group's ``lr_scale``."""
    for group in optimizer.param_groups:
        group["lr"] = new_lr * group.get("lr_scale", 1.0)


def _safe_pt_load(file_path: str, map_location: Any = None) -> Any:
    """open_clip_train's ``pt_load`` with ``weights_only=True``: a checkpoint runs no code."""
    with fsspec.open(file_path, "rb") as f:
        return torch.load(f, map_location=map_location, weights_only=True)


def _tokenizer(model_name: str, **kwargs: Any):
    """Our compact tokenizer for our own models (open_clip's BPE ids exceed their vocabulary)."""
    if model_name in LOCAL_MODELS:
        return get_tokenizer(model_name, on_overflow="truncate")
    return open_clip.get_tokenizer(model_name, **kwargs)


class CIBRPlugin:
    """Builds the CIBR loss with the model and hands its pieces to open_clip_train.

    Parameters
    ----------
    cibr : the parsed ``--cibr-*`` arguments.
    args : open_clip_train's parsed arguments (``lr``, ``local_loss``).
    rank, world_size : this process's place, as open_clip_train will find it.
    """

    def __init__(
        self, cibr: argparse.Namespace, args: argparse.Namespace, rank: int, world_size: int
    ) -> None:
        self.cibr, self.rank, self.world_size = cibr, rank, world_size
        self.base_lr, self.local_loss = args.lr, args.local_loss
        self.lr = args.lr if cibr.cibr_lr is None else cibr.cibr_lr
        self.loss: CIBRLoss | None = None

    def create_model_and_transforms(self, *args: Any, **kwargs: Any):
        """open_clip's factory, then the loss built for the model and its estimator attached."""
        if self.loss is not None:
            raise RuntimeError("CIBR supports one model per run (no distillation)")
        model, preprocess_train, preprocess_val = open_clip.create_model_and_transforms(
            *args, **kwargs
        )
        loss = training_loss(
            model,
            self.cibr.cibr_estimator,
            self.cibr.cibr_lam,
            self.cibr.cibr_sigma,
            self.rank,
            self.world_size,
            local_loss=self.local_loss,
        )
        loss.to(kwargs.get("device", "cpu"))
        loss.requires_grad_(self.cibr.cibr_lam > 0)
        model.add_module(ESTIMATOR_MODULE, loss.estimator)
        self.loss = loss
        return model, preprocess_train, preprocess_val

    def create_loss(self, args: argparse.Namespace) -> CIBRLoss:
        """The loss built with the model (for open_clip_train's ``create_loss(args)``)."""
        if self.loss is None:
            raise RuntimeError("the CIBR loss is built with the model, which does not exist yet")
        if (args.rank, args.world_size) != (self.rank, self.world_size):
            raise RuntimeError(
                f"open_clip_train runs as rank {args.rank} of {args.world_size}, the CIBR loss "
                f"was built for rank {self.rank} of {self.world_size}"
            )
        return self.loss

    def adamw(self, param_groups: list[dict[str, Any]], **kwargs: Any) -> torch.optim.AdamW:
        """AdamW on open_clip_train's groups minus the estimator, plus the estimator's group."""
        if self.loss is None:
            raise RuntimeError("the optimiser is built before the model")
        own = list(self.loss.estimator.parameters())
        ids = {id(p) for p in own}
        groups = [
            {**g, "params": [p for p in g["params"] if id(p) not in ids]} for g in param_groups
        ]
        trainable = [p for p in own if p.requires_grad]
        if trainable:
            groups.append(
                {
                    "params": trainable,
                    "lr": self.lr,
                    "lr_scale": self.lr / self.base_lr,
                    "weight_decay": 0.0,
                }
            )
        return torch.optim.AdamW(groups, **kwargs)

    def patches(self) -> list[tuple[Any, str, Any]]:
        """``(owner, attribute, replacement)``: the names open_clip_train looks up at run time.

        ``create_model_and_transforms``, ``create_loss`` and ``optim.AdamW`` plug the estimator
        in; ``scheduler.assign_learning_rate`` keeps its group's learning-rate ratio;
        ``pt_load`` reads ``--resume`` with ``weights_only=True``; ``get_tokenizer`` gives our
        tiny models their compact vocabulary; DDP accepts the CPU device that open_clip_train
        passes as ``device_ids``.
        """
        return [
            (oc_main, "create_model_and_transforms", self.create_model_and_transforms),
            (oc_main, "create_loss", self.create_loss),
            (oc_main, "optim", argparse.Namespace(AdamW=self.adamw)),
            (oc_main, "pt_load", _safe_pt_load),
            (oc_main, "get_tokenizer", _tokenizer),
            (oc_scheduler, "assign_learning_rate", _assign_learning_rate),
            (torch.nn.parallel, "DistributedDataParallel", _CPUFriendlyDDP),
        ]


@contextmanager
def _patched(patches: list[tuple[Any, str, Any]]) -> Iterator[None]:
    with ExitStack() as stack:
        for owner, name, value in patches:
            stack.enter_context(mock.patch.object(owner, name, value))
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Parse and strip the ``--cibr-*`` arguments, check them, run open_clip_train with CIBR.

    Returns open_clip_train's exit status (0 when it returns nothing).
    """
    cibr, rest = build_parser().parse_known_args(argv)
    register_models()
    args = parse_args(rest)
    _, rank, world_size = world_info_from_env()
    check_args(cibr, args, world_size)
    plugin = CIBRPlugin(cibr, args, rank, world_size)
    with _patched(plugin.patches()):
        status = oc_main.main(rest)
    return 0 if status is None else int(status)


if __name__ == "__main__":
    raise SystemExit(main())

"""Training loop: AdamW, warm-up + cosine, bf16 autocast on GPU, exact gradient accumulation,
checkpoint and resume, optional data parallelism over ``torch.distributed``.

Gradient accumulation follows GradCache: the features of all micro-batches are computed
without gradients, the loss is taken on the whole batch, and each micro-batch is then
recomputed and back-propagated with its slice of the feature gradients. The result equals the
full-batch gradient (contrastive negatives included) when the forward pass does not depend on
the batch; BatchNorm layers in train mode (the ResNet towers) see micro-batch statistics, as in
open_clip's own accumulation.
Across processes the parameter gradients are averaged explicitly after each step (no DDP
wrapper needed, so accumulation and distribution compose).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from tqdm.auto import tqdm

from cibr_lab.cibr.captioned import CaptionedSet
from cibr_lab.cibr.loss import CIBRLoss
from cibr_lab.cibr.schedule import make_scheduler
from cibr_lab.results.atomic import atomic_torch_save, torch_load_checked
from cibr_lab.runtime import autocast, fused_adam


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the loss is built separately)."""

    steps: int = 500
    batch_size: int = 128
    accum: int = 1
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup: int = 50
    lr_floor: float = 0.05
    log_every: int = 25
    checkpoint_every: int = 0

    def __post_init__(self) -> None:
        if self.batch_size % self.accum:
            raise ValueError(
                f"batch_size {self.batch_size} is not a multiple of accum {self.accum}"
            )
        if self.steps < 1 or self.batch_size < 2:
            raise ValueError("steps must be >= 1 and batch_size >= 2")


class CaptionBatches:
    """Random batches of (image, one of its captions) without repeated images in a batch.

    ``data`` has ``images`` (a tensor ``[N, 3, H, W]``, or anything that a LongTensor indexes
    into one, e.g. ``full_data.DiskImages``), ``text_to_image`` and ``len``; ``tokens [M, L]``
    are its tokenised captions, grouped by image (``text_to_image`` non-decreasing). The stream
    is defined by ``generator`` alone.
    """

    def __init__(self, data: CaptionedSet, tokens: Tensor, generator: torch.Generator) -> None:
        t2i = data.text_to_image
        if bool((t2i[1:] < t2i[:-1]).any()):
            raise ValueError("captions must be grouped by image (text_to_image non-decreasing)")
        if tokens.shape[0] != t2i.shape[0]:
            raise ValueError(f"{tokens.shape[0]} token rows for {t2i.shape[0]} captions")
        self.images, self.tokens, self.generator = data.images, tokens, generator
        self.counts = torch.bincount(t2i, minlength=len(data))
        if bool((self.counts == 0).any()):
            raise ValueError("every image needs at least one caption")
        self.starts = torch.cumsum(self.counts, 0) - self.counts

    def sample(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """``images [B, 3, H, W]``, ``tokens [B, L]`` on the CPU."""
        if batch_size > len(self.images):
            raise ValueError(f"batch_size {batch_size} exceeds the {len(self.images)} images")
        idx = torch.randperm(len(self.images), generator=self.generator)[:batch_size]
        pick = torch.rand(batch_size, generator=self.generator)
        caption = self.starts[idx] + (pick * self.counts[idx]).long()
        return self.images[idx], self.tokens[caption]


def _encode(model: nn.Module, images: Tensor, tokens: Tensor, device: torch.device):
    with autocast(device):
        out = model(images, tokens)
    return out["image_features"].float(), out["text_features"].float(), out["logit_scale"].float()


def train_step(
    model: nn.Module,
    loss_fn: CIBRLoss,
    images: Tensor,
    tokens: Tensor,
    accum: int,
    device: torch.device,
) -> dict[str, Tensor]:
    """Forward and backward of one (local) batch; returns the detached loss terms."""
    if accum == 1:
        img, txt, scale = _encode(model, images, tokens, device)
        terms = loss_fn(img, txt, scale, output_dict=True)
        sum(terms.values()).backward()
        return {k: v.detach() for k, v in terms.items()}
    micro = [(i, t) for i, t in zip(images.chunk(accum), tokens.chunk(accum), strict=True)]
    with torch.no_grad():
        cached = [_encode(model, i, t, device)[:2] for i, t in micro]
    img = torch.cat([c[0] for c in cached]).requires_grad_()
    txt = torch.cat([c[1] for c in cached]).requires_grad_()
    terms = loss_fn(img, txt, model.logit_scale.exp().float(), output_dict=True)
    sum(terms.values()).backward()
    offset = 0
    for i, t in micro:
        rows = slice(offset, offset + i.shape[0])
        mi, mt, _ = _encode(model, i, t, device)
        ((mi * img.grad[rows]).sum() + (mt * txt.grad[rows]).sum()).backward()
        offset += i.shape[0]
    return {k: v.detach() for k, v in terms.items()}


def average_gradients(params: list[nn.Parameter], world_size: int) -> None:
    """All-reduce the mean of the gradients over processes (one flat buffer)."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for p, g in zip(params, grads, strict=True):
        p.grad = flat[offset : offset + g.numel()].view_as(g)
        offset += g.numel()


def train(
    model: nn.Module,
    loss_fn: CIBRLoss,
    batches: CaptionBatches,
    config: TrainConfig,
    device: torch.device,
    checkpoint: str | os.PathLike | None = None,
    evaluate: Callable[[nn.Module, int], dict[str, float]] | None = None,
    eval_every: int = 0,
    progress: bool = False,
    rank: int = 0,
    world_size: int = 1,
) -> list[dict[str, Any]]:
    """Train ``model`` and ``loss_fn``'s estimator; return the history (one dict per log row).

    Each process draws the same global batch and keeps its ``1/world_size`` share. With
    ``checkpoint`` the run saves every ``config.checkpoint_every`` steps and at the end, and
    resumes from the file if it exists (same config). ``evaluate(model, step)`` runs every
    ``eval_every`` steps and at the end; its metrics join the history rows (``kind="eval"``).
    """
    model.to(device)
    loss_fn.to(device)
    params = [p for p in [*model.parameters(), *loss_fn.parameters()] if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.lr,
        fused=fused_adam(device),
    )
    scheduler = make_scheduler(optimizer, config.warmup, config.steps, config.lr_floor)
    history: list[dict[str, Any]] = []
    start = 0
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        state = torch_load_checked(path, "checkpoint", map_location=device)
        if state["config"] != asdict(config):
            raise ValueError(
                f"checkpoint {path} was written with another config: {state['config']}"
            )
        model.load_state_dict(state["model"])
        loss_fn.load_state_dict(state["loss"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        batches.generator.set_state(state["data_rng"])
        torch.set_rng_state(state["torch_rng"])
        start, history = state["step"], state["history"]

    def snapshot(step: int) -> None:
        if path is not None and rank == 0:
            atomic_torch_save(
                {
                    "config": asdict(config),
                    "model": model.state_dict(),
                    "loss": loss_fn.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "data_rng": batches.generator.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "step": step,
                    "history": history,
                },
                path,
            )

    running: dict[str, Tensor] = {}
    tick = time.perf_counter()
    model.train()
    for step in tqdm(
        range(start, config.steps), disable=not progress, initial=start, total=config.steps
    ):
        images, tokens = batches.sample(config.batch_size)
        share = config.batch_size // world_size
        local = slice(rank * share, (rank + 1) * share)
        optimizer.zero_grad(set_to_none=True)
        images, tokens = (t[local].to(device, non_blocking=True) for t in (images, tokens))
        terms = train_step(model, loss_fn, images, tokens, config.accum, device)
        if world_size > 1:
            average_gradients(params, world_size)
        optimizer.step()
        scheduler.step()
        for key, value in {**terms, **loss_fn.last_stats}.items():
            running[key] = running.get(key, 0.0) + value
        done = step + 1
        if done % config.log_every == 0 or done == config.steps:
            n = config.log_every if done % config.log_every == 0 else done % config.log_every
            row = {k: float(v) / n for k, v in running.items()}
            elapsed = time.perf_counter() - tick
            row.update(
                step=done, kind="train", lr=scheduler.get_last_lr()[0], s_per_step=elapsed / n
            )
            history.append(row)
            running, tick = {}, time.perf_counter()
        if evaluate is not None and eval_every and (done % eval_every == 0 or done == config.steps):
            model.eval()
            history.append({"step": done, "kind": "eval", **evaluate(model, done)})
            model.train()
            tick = time.perf_counter()
        if config.checkpoint_every and done % config.checkpoint_every == 0:
            snapshot(done)
    snapshot(config.steps)
    model.eval()
    return history

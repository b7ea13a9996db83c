"""Command-line training of one model, single process or under ``torchrun``.

    python -m cibr_lab.cibr.launch --profile smoke --estimator ceb --lam 0.5 --out run/
    torchrun --nproc_per_node 2 -m cibr_lab.cibr.launch --profile embedded --out run/

Under torchrun each process takes its share of every global batch, the loss gathers features
with gradients (open_clip's ``--local-loss --gather-with-grad``), gradients are averaged after
each step; gloo on CPU, NCCL on GPUs. Rank 0 writes the checkpoint (``out/checkpoint.pt``,
resumed if present), the history (``out/history.csv``) and the final metrics
(``out/metrics.json``).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pandas as pd
import torch
import torch.distributed as dist

from cibr_lab.cibr.loss import training_loss
from cibr_lab.cibr.model import create_model, get_tokenizer
from cibr_lab.cibr.suite import build_data, evaluate_embedded
from cibr_lab.cibr.train import CaptionBatches, TrainConfig, train
from cibr_lab.errors import ConfigError
from cibr_lab.runtime import get_device, get_profile

_TRAIN_KEYS = ("steps", "batch_size", "accum", "lr", "weight_decay", "warmup", "log_every")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="embedded")
    parser.add_argument("--estimator", default="ceb")
    parser.add_argument("--lam", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, help="override the profile's steps")
    parser.add_argument("--device", help="cpu, cuda, ... (default: the best available)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Train and evaluate one model; returns the exit status."""
    args = build_parser().parse_args(argv)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = get_device(args.device)
    if world_size > 1:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    cfg = get_profile(args.profile).section("cibr")
    if cfg["data"] != "embedded":
        raise ConfigError(
            f"profile {args.profile!r} trains on {cfg['data']!r} through open_clip_train: "
            "print its torchrun command with python -m cibr_lab.cibr.full_run --profile "
            f"{args.profile} command --lam LAM --nproc N --out DIR"
        )
    if args.steps is not None:
        cfg["steps"] = args.steps
    if cfg["batch_size"] % world_size:
        raise ValueError(
            f"batch_size {cfg['batch_size']} is not divisible by {world_size} processes"
        )
    train_set, suite = build_data(cfg, args.seed)
    tokenizer = get_tokenizer(cfg["model"])
    torch.manual_seed(args.seed)
    model = create_model(cfg["model"], cfg["pretrained"], device)
    loss_fn = training_loss(model, args.estimator, args.lam, cfg["sigma"], rank, world_size)
    batches = CaptionBatches(
        train_set, tokenizer(train_set.captions), torch.Generator().manual_seed(args.seed)
    )
    out = Path(args.out)
    history = train(
        model,
        loss_fn,
        batches,
        TrainConfig(**{k: cfg[k] for k in _TRAIN_KEYS}),
        device,
        checkpoint=out / "checkpoint.pt",
        progress=args.progress and rank == 0,
        rank=rank,
        world_size=world_size,
    )
    if rank == 0:
        metrics = evaluate_embedded(model, tokenizer, suite, cfg, device)
        out.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(history).to_csv(out / "history.csv", index=False)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if world_size > 1:
        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        gathered = [torch.empty_like(flat) for _ in range(world_size)]
        dist.all_gather(gathered, flat)
        if rank == 0:
            spread = max(float((g - flat).abs().max()) for g in gathered)
            (out / "replica_spread.txt").write_text(f"{spread}\n")
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

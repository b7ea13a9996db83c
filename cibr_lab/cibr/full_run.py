"""Full profile: fine-tune a pretrained open_clip model on COCO (Karpathy train, train +
restval) with open_clip_train (through :mod:`cibr_lab.cibr.openclip_train`: its csv loader and
DataLoader workers, AMP, CLIP's AdamW settings, the logit-scale clamp, checkpoints and resume),
then evaluate COCO 5k and Flickr30K 1k retrieval and zero-shot classification on the torchvision
sets of ``cfg["full_zeroshot"]`` with the project's evaluation. Lambda is chosen on COCO's
Karpathy val split (``val_coco_*`` metrics), never on a test split. Data come from
``cibr_lab.runtime.data_dir()`` (see :mod:`cibr_lab.cibr.full_data`); nothing downloads except
open_clip's pretrained weights, and only after every dataset was found.

On several GPUs, print the torchrun command of one arm with
``python -m cibr_lab.cibr.full_run --estimator ceb --lam 0.02 --seed 0 --nproc 8``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from cibr_lab.cibr.evaluate import encode_images, encode_texts, zeroshot_task
from cibr_lab.cibr.full_data import (
    CSV_COLUMNS,
    KarpathyCaptions,
    write_openclip_csv,
    zeroshot_dataset,
)
from cibr_lab.cibr.model import get_tokenizer, register_models
from cibr_lab.cibr.retrieval import retrieval_recall
from cibr_lab.cibr.tokenizer import CaptionTokenizer
from cibr_lab.errors import ConfigError
from cibr_lab.results.version import config_hash
from cibr_lab.runtime import autocast, results_dir

RETRIEVAL_SETS = ("coco", "flickr30k")
#: The split lambda is selected on (Karpathy val, 5000 COCO images): metrics ``val_coco_*``.
VALIDATION_SET = ("coco", "val")
#: open_clip_train's name for the checkpoint ``--save-most-recent`` keeps.
LATEST_CHECKPOINT = "epoch_latest.pt"


@torch.no_grad()
def encode_labelled(
    model: nn.Module, dataset: Dataset, device: torch.device, batch: int = 256, workers: int = 0
) -> tuple[Tensor, Tensor]:
    """Normalised image embeddings ``[N, D]`` and labels ``[N]`` of a labelled image dataset."""
    embs, labels = [], []
    for images, y in DataLoader(dataset, batch_size=batch, num_workers=workers):
        with autocast(device):
            embs.append(model.encode_image(images.to(device)).float())
        labels.append(torch.as_tensor(y))
    return nn.functional.normalize(torch.cat(embs), dim=-1), torch.cat(labels).to(device)


def _retrieval(
    model: nn.Module,
    tokenizer: CaptionTokenizer,
    transform: Any,
    device: torch.device,
    name: str,
    split: str,
) -> dict[str, float]:
    data = KarpathyCaptions(name, split, transform=transform)
    img = encode_images(model, data.images, device, batch=256)
    txt = encode_texts(model, tokenizer, data.captions, device)
    return retrieval_recall(img, txt, data.text_to_image.to(device))


def evaluate_full(
    model: nn.Module,
    tokenizer: CaptionTokenizer,
    transform: Any,
    device: torch.device,
    zeroshot_sets: Sequence[str],
    workers: int = min(4, os.cpu_count() or 1),
) -> dict[str, float]:
    """``ret_<coco|flickr30k>_<image|text>_retrieval_recall@k`` on the Karpathy test splits,
    ``zs_<set>_<acc1|acc5|mean_per_class_recall>`` on each zero-shot set (CLIP_benchmark's
    prompts and strict retrieval ties), and the selection metrics ``val_coco_*`` (with their
    mean R@1 ``val_coco_mean_recall@1``) on COCO's Karpathy val split."""
    model.eval()
    out: dict[str, float] = {}
    for name in RETRIEVAL_SETS:
        for metric, value in _retrieval(model, tokenizer, transform, device, name, "test").items():
            out[f"ret_{name}_{metric}"] = value
    name, split = VALIDATION_SET
    val = _retrieval(model, tokenizer, transform, device, name, split)
    out |= {f"val_{name}_{metric}": value for metric, value in val.items()}
    out[f"val_{name}_mean_recall@1"] = float(
        np.mean([v for k, v in val.items() if k.endswith("recall@1")])
    )
    for name in zeroshot_sets:
        dataset, names, templates = zeroshot_dataset(name, transform=transform)
        emb, labels = encode_labelled(model, dataset, device, workers=workers)
        for metric, value in zeroshot_task(
            model, tokenizer, emb, labels, names, templates, device
        ).items():
            out[f"zs_{name}_{metric}"] = value
    zs = [v for k, v in out.items() if k.startswith("zs_") and k.endswith("_acc1")]
    ret = [v for k, v in out.items() if k.startswith("ret_") and k.endswith("recall@1")]
    out["zs_mean_acc1"] = float(np.mean(zs)) if zs else float("nan")
    out["ret_mean_recall@1"] = float(np.mean(ret))
    return out


def check_full_data(cfg: Mapping[str, Any]) -> None:
    """Open every dataset the full profile reads (COCO train and val, the retrieval test splits,
    the zero-shot sets): a missing one raises ``MissingDataError`` naming its path, before any
    pretrained weights are downloaded."""
    KarpathyCaptions("coco", "train")
    KarpathyCaptions(*VALIDATION_SET)
    for name in RETRIEVAL_SETS:
        KarpathyCaptions(name, "test")
    for name in cfg["full_zeroshot"]:
        zeroshot_dataset(name)


def openclip_train_args(
    cfg: Mapping[str, Any],
    estimator: str,
    lam: float,
    seed: int,
    train_csv: str | Path,
    n_rows: int,
    logs: str | Path,
    name: str,
    world_size: int = 1,
    precision: str = "amp",
) -> list[str]:
    """The ``python -m cibr_lab.cibr.openclip_train`` arguments of one fine-tuning run.

    The profile's ``steps`` of ``batch_size`` x ``accum`` captions become whole epochs over the
    ``n_rows`` captions of ``train_csv`` (open_clip_train counts epochs; at least one). Its
    defaults supply CLIP's AdamW betas and eps for the model and the logit-scale clamp at 100;
    the estimator gets its own group at ``estimator_lr`` (default: ``lr``). Every epoch is
    checkpointed and a rerun resumes from the latest one. ``world_size`` > 1 (torchrun) splits
    the batch and gathers features with gradients, as CIBR requires.
    """
    if cfg["batch_size"] % world_size:
        raise ConfigError(
            f"cibr.batch_size {cfg['batch_size']} is not divisible by {world_size} processes"
        )
    epochs = max(1, round(cfg["steps"] * cfg["batch_size"] * cfg["accum"] / n_rows))
    argv = [
        *("--cibr-lam", f"{lam:g}", "--cibr-estimator", estimator),
        *("--cibr-sigma", f"{cfg['sigma']:g}"),
        *(("--cibr-lr", f"{cfg['estimator_lr']:g}") if cfg.get("estimator_lr") else ()),
        *("--train-data", str(train_csv), "--dataset-type", "csv", "--csv-separator", "\t"),
        *("--csv-img-key", CSV_COLUMNS[0], "--csv-caption-key", CSV_COLUMNS[1]),
        *("--model", cfg["model"]),
        *(("--pretrained", cfg["pretrained"]) if cfg["pretrained"] else ()),
        *("--precision", precision, "--seed", str(seed)),
        *("--batch-size", str(cfg["batch_size"] // world_size), "--accum-freq", str(cfg["accum"])),
        *("--epochs", str(epochs), "--lr", f"{cfg['lr']:g}", "--wd", f"{cfg['weight_decay']:g}"),
        *("--warmup", str(cfg["warmup"]), "--workers", str(cfg["workers"])),
        *("--log-every-n-steps", str(cfg["log_every"]), "--report-to", "none"),
        *("--logs", str(logs), "--name", name, "--save-most-recent", "--resume", "latest"),
    ]
    if world_size > 1:
        argv += ["--gather-with-grad", "--local-loss"]
    return argv


def load_openclip_checkpoint(model: nn.Module, path: str | Path) -> nn.Module:
    """Load an open_clip_train checkpoint (``weights_only``) into a plain open_clip ``model``:
    DDP's ``module.`` prefix stripped, the CIBR estimator's keys dropped."""
    from cibr_lab.cibr.openclip_train import ESTIMATOR_MODULE
    from cibr_lab.results.atomic import torch_load_checked

    state = torch_load_checked(path, "open_clip_train checkpoint", map_location="cpu")
    weights = {k.removeprefix("module."): v for k, v in state["state_dict"].items()}
    model.load_state_dict(
        {k: v for k, v in weights.items() if not k.startswith(ESTIMATOR_MODULE + ".")}
    )
    return model


@contextmanager
def _root_logging_restored() -> Iterator[None]:
    """open_clip_train configures the root logger for its run; give it back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers, root.level = handlers, level


def fine_tune_openclip(
    cfg: Mapping[str, Any],
    estimator: str,
    lam: float,
    seed: int,
    device: torch.device,
    run_dir: Path,
) -> dict[str, float]:
    """Fine-tune on COCO Karpathy train through ``cibr_lab.cibr.openclip_train`` in this
    process (logs and checkpoints under ``run_dir``); return its steps and seconds per step."""
    import time

    from cibr_lab.cibr import openclip_train

    data = KarpathyCaptions("coco", "train")
    csv = write_openclip_csv(data, run_dir / "coco_train.csv")
    argv = openclip_train_args(
        cfg, estimator, lam, seed, csv, len(data.captions), run_dir, "train",
        precision="amp" if device.type == "cuda" else "fp32",
    )  # fmt: skip
    start = time.perf_counter()
    with _root_logging_restored():
        status = openclip_train.main([*argv, "--device", str(device)])
    if status:
        raise RuntimeError(f"open_clip_train exited with status {status}; see {run_dir}/train")
    steps = int(argv[argv.index("--epochs") + 1]) * max(
        1, len(data.captions) // (cfg["batch_size"] * cfg["accum"])
    )
    return {"steps": float(steps), "s_per_step": (time.perf_counter() - start) / steps}


def train_and_evaluate_full(
    cfg: Mapping[str, Any],
    estimator: str,
    lam: float,
    fine_tune: bool,
    seed: int,
    device: torch.device,
    run_dir: Path | None = None,
) -> dict[str, float]:
    """Fine-tune through open_clip_train (unless ``fine_tune`` is False: the untouched
    pretrained model), then evaluate with the project's evaluation. Every dataset is checked
    first, before any weights are downloaded. ``run_dir`` (default: under the results folder,
    named by the configuration and arm) holds open_clip_train's csv, logs and checkpoints."""
    check_full_data(cfg)
    register_models()
    torch.manual_seed(seed)
    model, _, transform = open_clip.create_model_and_transforms(
        cfg["model"], pretrained=cfg["pretrained"], device=device, output_dict=True
    )
    tokenizer = get_tokenizer(cfg["model"], on_overflow="truncate")
    timing: dict[str, float] = {}
    if fine_tune:
        if run_dir is None:
            arm = f"{estimator}-{lam:g}-seed{seed}-{config_hash(dict(cfg))}"
            run_dir = results_dir() / "openclip_train" / arm
        timing = fine_tune_openclip(cfg, estimator, lam, seed, device, run_dir)
        checkpoint = run_dir / "train" / "checkpoints" / LATEST_CHECKPOINT
        load_openclip_checkpoint(model, checkpoint).to(device)
    return evaluate_full(model, tokenizer, transform, device, cfg["full_zeroshot"]) | timing


def build_parser() -> argparse.ArgumentParser:
    """``command`` (write the csv, print one arm's torchrun command) and ``evaluate``."""
    parser = argparse.ArgumentParser(
        prog="python -m cibr_lab.cibr.full_run", description="Full-profile CIBR runs on GPUs."
    )
    parser.add_argument("--profile", default="full")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key of the profile's cibr section (VALUE read as YAML); repeatable",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    command = sub.add_parser("command", help="write COCO's csv and print the torchrun command")
    command.add_argument("--estimator", default="ceb")
    command.add_argument("--lam", type=float, required=True)
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--nproc", type=int, default=1, help="processes (GPUs) per node")
    command.add_argument("--out", type=Path, required=True, help="csv, logs and checkpoints")
    evaluate = sub.add_parser("evaluate", help="evaluate an open_clip_train checkpoint")
    evaluate.add_argument("--checkpoint", type=Path, required=True)
    evaluate.add_argument("--out", type=Path, required=True, help="metrics JSON")
    evaluate.add_argument("--device", help="cpu, cuda, ... (default: the best available)")
    return parser


def _overrides(pairs: Sequence[str]) -> dict[str, Any]:
    import yaml

    bad = next((p for p in pairs if "=" not in p), None)
    if bad is not None:
        raise ConfigError(f"--set expects KEY=VALUE, got {bad!r}")
    return {k: yaml.safe_load(v) for k, v in (p.split("=", 1) for p in pairs)}


def main(argv: Sequence[str] | None = None) -> int:
    """Print the torchrun command of one fine-tuning arm, or evaluate its checkpoint."""
    from cibr_lab.results.atomic import atomic_write_text
    from cibr_lab.runtime import get_device, get_profile

    args = build_parser().parse_args(argv)
    overrides = {"cibr": _overrides(args.set)} if args.set else None
    cfg = get_profile(args.profile, overrides=overrides).section("cibr")
    check_full_data(cfg)
    if args.action == "command":
        if args.nproc < 1:
            raise ConfigError(f"--nproc must be >= 1, got {args.nproc}")
        data = KarpathyCaptions("coco", "train")
        csv = write_openclip_csv(data, args.out / "coco_train.csv")
        train_args = openclip_train_args(
            cfg, args.estimator, args.lam, args.seed, csv, len(data.captions), args.out,
            "train", world_size=args.nproc,
        )  # fmt: skip
        # "--" ends torchrun's options: it would read open_clip_train's --logs as --logs-specs
        launcher = ["torchrun", "--nproc_per_node", str(args.nproc), "-m", "--"]
        print(shlex.join([*launcher, "cibr_lab.cibr.openclip_train", *train_args]))
        return 0
    device = get_device(args.device)
    register_models()
    model, _, transform = open_clip.create_model_and_transforms(
        cfg["model"], pretrained=None, device="cpu", output_dict=True
    )
    model = load_openclip_checkpoint(model, args.checkpoint).to(device)
    tokenizer = get_tokenizer(cfg["model"], on_overflow="truncate")
    metrics = evaluate_full(model, tokenizer, transform, device, cfg["full_zeroshot"])
    atomic_write_text(args.out, json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Full profile: fine-tune a pretrained open_clip model on COCO (Karpathy train, train +
restval), then evaluate COCO 5k and Flickr30K 1k retrieval and zero-shot classification on the
torchvision sets of ``cfg["full_zeroshot"]``. Data come from ``cibr_lab.runtime.data_dir()``
(see :mod:`cibr_lab.cibr.full_data`); nothing downloads except open_clip's pretrained weights.

Images are read from disk per batch (``full_data.DiskImages``) with open_clip's evaluation
transform for training as well (no augmentation); captions longer than the context are
truncated with a warning.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import open_clip
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from cibr_lab.cibr.evaluate import encode_images, encode_texts, zeroshot_task
from cibr_lab.cibr.full_data import KarpathyCaptions, zeroshot_dataset
from cibr_lab.cibr.loss import training_loss
from cibr_lab.cibr.model import get_tokenizer, register_models
from cibr_lab.cibr.retrieval import retrieval_recall
from cibr_lab.cibr.tokenizer import CaptionTokenizer
from cibr_lab.cibr.train import CaptionBatches, TrainConfig, train
from cibr_lab.runtime import autocast

RETRIEVAL_SETS = ("coco", "flickr30k")
TRAIN_KEYS = ("steps", "batch_size", "accum", "lr", "weight_decay", "warmup", "log_every")


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


def evaluate_full(
    model: nn.Module,
    tokenizer: CaptionTokenizer,
    transform: Any,
    device: torch.device,
    zeroshot_sets: Sequence[str],
    workers: int = min(4, os.cpu_count() or 1),
) -> dict[str, float]:
    """``ret_<coco|flickr30k>_<image|text>_retrieval_recall@k`` on the Karpathy test splits and
    ``zs_<set>_<acc1|acc5|mean_per_class_recall>`` on each zero-shot set (CLIP_benchmark's
    prompts and strict retrieval ties)."""
    model.eval()
    out: dict[str, float] = {}
    for name in RETRIEVAL_SETS:
        data = KarpathyCaptions(name, "test", transform=transform)
        img = encode_images(model, data.images, device, batch=256)
        txt = encode_texts(model, tokenizer, data.captions, device)
        for metric, value in retrieval_recall(img, txt, data.text_to_image.to(device)).items():
            out[f"ret_{name}_{metric}"] = value
    for name in zeroshot_sets:
        dataset, names, templates = zeroshot_dataset(name, transform=transform)
        emb, labels = encode_labelled(model, dataset, device, workers=workers)
        for metric, value in zeroshot_task(
            model, tokenizer, emb, labels, names, templates, device
        ).items():
            out[f"zs_{name}_{metric}"] = value
    zs = [v for k, v in out.items() if k.startswith("zs_") and k.endswith("_acc1")]
    ret = [v for k, v in out.items() if k.endswith("recall@1")]
    out["zs_mean_acc1"] = float(np.mean(zs)) if zs else float("nan")
    out["ret_mean_recall@1"] = float(np.mean(ret))
    return out


def train_and_evaluate_full(
    cfg: Mapping[str, Any],
    estimator: str,
    lam: float,
    fine_tune: bool,
    seed: int,
    device: torch.device,
) -> dict[str, float]:
    """Fine-tune (unless ``fine_tune`` is False: the untouched pretrained model) and evaluate."""
    register_models()
    # the data is checked (a missing file names its path) before any weights are downloaded
    data = KarpathyCaptions("coco", "train") if fine_tune else None
    for name in RETRIEVAL_SETS:
        KarpathyCaptions(name, "test")
    torch.manual_seed(seed)
    model, _, transform = open_clip.create_model_and_transforms(
        cfg["model"], pretrained=cfg["pretrained"], device=device, output_dict=True
    )
    tokenizer = get_tokenizer(cfg["model"], on_overflow="truncate")
    timing: dict[str, float] = {}
    if data is not None:
        data.transform = transform
        loss_fn = training_loss(model, estimator, lam, cfg["sigma"])
        batches = CaptionBatches(
            data, tokenizer(data.captions), torch.Generator().manual_seed(seed)
        )
        config = TrainConfig(**{k: cfg[k] for k in TRAIN_KEYS})
        history = train(model, loss_fn, batches, config, device)
        timing["s_per_step"] = float(np.mean([r["s_per_step"] for r in history]))
    return evaluate_full(model, tokenizer, transform, device, cfg["full_zeroshot"]) | timing

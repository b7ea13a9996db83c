"""Evaluate a CLIP model on captioned sets: zero-shot, retrieval, nuisance probes, modality gap.

Metric names (flat, for records): ``zs_<set>_<task>_<acc1|acc5|mean_per_class_recall>``,
``ret_<set>_<image|text>_retrieval_recall@k``, ``probe_<set>_<image|text>_<factor>`` (held-out
accuracy) with ``..._chance``, ``gap_<set>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cibr_lab.cibr.assets import load_asset
from cibr_lab.cibr.captioned import CaptionedSet
from cibr_lab.cibr.probe import linear_probe_accuracy, modality_gap
from cibr_lab.cibr.retrieval import retrieval_recall
from cibr_lab.cibr.tokenizer import CaptionTokenizer
from cibr_lab.cibr.zeroshot import zeroshot_metrics, zeroshot_weights
from cibr_lab.errors import ConfigError
from cibr_lab.runtime import autocast


@torch.no_grad()
def encode_images(
    model: nn.Module, images: Tensor, device: torch.device, batch: int = 1024
) -> Tensor:
    """Normalised image embeddings ``[N, D]`` (float32, on ``device``)."""
    out = []
    for s in range(0, len(images), batch):
        with autocast(device):
            out.append(model.encode_image(images[s : s + batch].to(device)).float())
    return F.normalize(torch.cat(out), dim=-1)


@torch.no_grad()
def encode_texts(
    model: nn.Module,
    tokenizer: CaptionTokenizer,
    texts: Sequence[str],
    device: torch.device,
    batch: int = 1024,
) -> Tensor:
    """Normalised text embeddings ``[N, D]`` (float32, on ``device``)."""
    out = []
    for s in range(0, len(texts), batch):
        tokens = tokenizer(texts[s : s + batch]).to(device)
        with autocast(device):
            out.append(model.encode_text(tokens).float())
    return F.normalize(torch.cat(out), dim=-1)


def class_prompts(key: str, classes: Sequence[str]) -> tuple[list[str], list[str]]:
    """Class names and templates for a prompt key: names from ``prompts.json`` when it lists
    them, else ``classes`` (a dataset's own); templates always from ``prompts.json``."""
    prompts = load_asset("prompts")
    if key not in prompts["templates"]:
        raise ConfigError(
            f"no templates for {key!r}; valid keys: {', '.join(prompts['templates'])}"
        )
    return list(prompts["classes"].get(key, classes)), list(prompts["templates"][key])


def zeroshot_task(
    model: nn.Module,
    tokenizer: CaptionTokenizer,
    image_emb: Tensor,
    labels: Tensor,
    classnames: Sequence[str],
    templates: Sequence[str],
    device: torch.device,
) -> dict[str, float]:
    """Zero-shot metrics of ``[N, D]`` image embeddings with a prompt-ensemble classifier."""
    weights = zeroshot_weights(
        lambda texts: encode_texts(model, tokenizer, texts, device), classnames, templates
    )
    return zeroshot_metrics(image_emb, weights, labels.to(image_emb.device))


def probe_factors(
    emb: Tensor, factors: Mapping[str, Tensor], prefix: str, seed: int
) -> dict[str, float]:
    """Linear-probe accuracy (and chance) of each factor, on a random half / half split."""
    n = emb.shape[0]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    train, test = perm[: n // 2], perm[n // 2 :]
    out = {}
    emb = emb.cpu()
    for name, values in factors.items():
        res = linear_probe_accuracy(emb[train], values[train], emb[test], values[test])
        out[f"{prefix}_{name}"] = res["accuracy"]
        out[f"{prefix}_{name}_chance"] = res["chance"]
    return out


def evaluate_suite(
    model: nn.Module,
    tokenizer: CaptionTokenizer,
    suite: Mapping[str, CaptionedSet],
    zeroshot: Sequence[tuple[str, str, str | None]],
    retrieval: Sequence[str],
    probes: Sequence[str],
    device: torch.device,
    seed: int = 0,
    retrieval_n: int | None = None,
) -> dict[str, float]:
    """All metrics on a suite of named sets.

    ``zeroshot``: ``(set, prompt key, label factor or None for the set's labels)``;
    ``retrieval`` and ``probes``: set names (probes need the sets' factors). Retrieval runs on
    the first ``retrieval_n`` images of each set (all when None), zero-shot and probes on all.
    """
    was_training = model.training
    model.eval()
    needed = {s for s, _, _ in zeroshot} | set(retrieval) | set(probes)
    images = {s: encode_images(model, suite[s].images, device) for s in needed}
    texts = {
        s: encode_texts(model, tokenizer, suite[s].captions, device)
        for s in set(retrieval) | set(probes)
    }
    out: dict[str, float] = {}
    for s, key, factor in zeroshot:
        labels = suite[s].labels if factor is None else suite[s].image_factors[factor]
        names, templates = class_prompts(key, suite[s].classes)
        task = zeroshot_task(model, tokenizer, images[s], labels, names, templates, device)
        for m, v in task.items():
            out[f"zs_{s}_{key}_{m}"] = v
    for s in retrieval:
        n = len(suite[s]) if retrieval_n is None else min(retrieval_n, len(suite[s]))
        keep = suite[s].text_to_image < n
        img, txt = images[s][:n], texts[s][keep.to(texts[s].device)]
        t2i = suite[s].text_to_image[keep]
        for m, v in retrieval_recall(img, txt, t2i.to(device)).items():
            out[f"ret_{s}_{m}"] = v
        out[f"gap_{s}"] = modality_gap(img, txt)
    for s in probes:
        data = suite[s]
        shared_t = {f: data.image_factors[f][data.text_to_image] for f in ("shape", "colour")}
        out |= probe_factors(images[s], data.image_factors, f"probe_{s}_image", seed)
        out |= probe_factors(texts[s], {**data.text_factors, **shared_t}, f"probe_{s}_text", seed)
    model.train(was_training)
    return out

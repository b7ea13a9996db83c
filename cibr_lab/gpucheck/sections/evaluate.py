"""Retrieval recall and zero-shot classification on the device, against the CPU."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from cibr_lab.cibr.assets import load_asset
from cibr_lab.cibr.model import create_model, get_tokenizer
from cibr_lab.cibr.retrieval import retrieval_recall
from cibr_lab.cibr.zeroshot import zeroshot_metrics, zeroshot_weights
from cibr_lab.gpucheck.context import CheckContext, exact_float32
from cibr_lab.runtime import autocast

#: the prompt set of the zero-shot check (its class names are in the tiny model's vocabulary)
PROMPTS = "animals"


def _same(what: str, got: dict[str, float], want: dict[str, float]) -> None:
    if got != want:
        raise AssertionError(f"{what} on the device {got} != on the CPU {want}")


def evaluation(ctx: CheckContext) -> dict[str, Any]:
    """Recall@k of random embeddings and zero-shot metrics of a random-weight CLIP model
    (prompt-ensemble weights, bf16 image encoding on CUDA); device metrics equal CPU ones."""
    s, device = ctx.sizes, ctx.device
    gen = torch.Generator().manual_seed(0)
    n_txt = s.retrieval_images * s.captions_per_image
    image_emb = F.normalize(torch.randn(s.retrieval_images, s.retrieval_dim, generator=gen), dim=1)
    noise = torch.randn(n_txt, s.retrieval_dim, generator=gen)
    text_to_image = torch.arange(n_txt) // s.captions_per_image
    text_emb = F.normalize(image_emb[text_to_image] + 2.0 * noise, dim=1)
    with exact_float32():
        start = ctx.wait()
        recall = retrieval_recall(image_emb.to(device), text_emb.to(device), text_to_image)
        retrieval_s = ctx.wait() - start
        _same("retrieval recall", recall, retrieval_recall(image_emb, text_emb, text_to_image))

    torch.manual_seed(0)
    model = create_model(s.clip_model, device=device).eval()
    tokenizer = get_tokenizer(s.clip_model)
    prompts = load_asset("prompts")
    classes, templates = prompts["classes"][PROMPTS], prompts["templates"][PROMPTS]

    def encode_text(texts: list[str]) -> torch.Tensor:
        with autocast(device):
            return model.encode_text(tokenizer(texts).to(device))

    size = model.visual.image_size
    size = (size, size) if isinstance(size, int) else tuple(size)
    images = torch.randn(s.zeroshot_images, 3, *size, generator=gen)
    labels = torch.randint(len(classes), (s.zeroshot_images,), generator=gen)
    start = ctx.wait()
    with torch.no_grad(), autocast(device):
        weights = zeroshot_weights(encode_text, classes, templates)
        emb = F.normalize(model.encode_image(images.to(device)).float(), dim=-1)
    with exact_float32():
        metrics = zeroshot_metrics(emb, weights, labels)
    zeroshot_s = ctx.wait() - start
    _same("zero-shot metrics", metrics, zeroshot_metrics(emb.cpu(), weights.cpu(), labels))
    return {
        "retrieval": recall,
        "retrieval_seconds": retrieval_s,
        "zeroshot": metrics,
        "zeroshot_images_per_s": s.zeroshot_images / zeroshot_s,
        "summary": f"R@1 {recall['image_retrieval_recall@1']:.3f}, zero-shot acc1 "
        f"{metrics['acc1']:.3f}, {s.zeroshot_images / zeroshot_s:.0f} img/s",
    }

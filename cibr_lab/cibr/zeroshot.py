"""Zero-shot classification with prompt ensembles: classifier weights and metrics."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from cibr_lab.cibr.checks import require_finite


def zeroshot_weights(
    encode_text: Callable[[list[str]], Tensor],
    classnames: Sequence[str],
    templates: Sequence[str],
    classes_per_batch: int = 32,
) -> Tensor:
    """Prompt-ensemble classifier ``[D, C]``: per class, the renormalised mean of the normalised
    embeddings of the templates filled with the class name.

    A template's placeholder is ``{}`` or CLIP_benchmark's ``{c}``. ``encode_text`` maps a list of
    strings to embeddings ``[len, D]`` (tokenisation inside); non-finite ones are an error.
    """
    if len(classnames) == 0:
        raise ValueError("zero-shot classification needs a non-empty list of class names")
    if len(templates) == 0:
        raise ValueError("zero-shot classification needs at least one prompt template")
    bad = [t for t in templates if "{}" not in t and "{c}" not in t]
    if bad:
        raise ValueError(f"every template needs a '{{}}' or '{{c}}' placeholder, got {bad[0]!r}")
    columns = []
    with torch.no_grad():
        for start in range(0, len(classnames), classes_per_batch):
            names = classnames[start : start + classes_per_batch]
            texts = [t.format(c, c=c) for c in names for t in templates]
            emb = encode_text(texts).float()
            require_finite({f"the prompt embeddings of classes {names[0]!r} to {names[-1]!r}": emb})
            emb = F.normalize(emb, dim=-1)
            emb = emb.reshape(len(names), len(templates), -1).mean(1)
            columns.append(F.normalize(emb, dim=-1).T)
    return torch.cat(columns, dim=1)


def zeroshot_metrics(
    image_emb: Tensor, weights: Tensor, labels: Tensor, chunk_size: int = 4096
) -> dict[str, float]:
    """Top-1, top-5 accuracy and mean per-class recall of ``argmax(image_emb @ weights)``.

    ``image_emb [N, D]`` (normalised), ``weights [D, C]``, ``labels [N]`` in ``[0, C)``.
    Top-5 uses ``min(5, C)``. Mean per-class recall averages over the classes present.
    """
    if image_emb.ndim != 2 or weights.ndim != 2 or image_emb.shape[1] != weights.shape[0]:
        raise ValueError(
            f"image_emb [N, D] and weights [D, C] must share D, got {tuple(image_emb.shape)} "
            f"and {tuple(weights.shape)}"
        )
    labels = torch.as_tensor(labels, device=image_emb.device).long()
    if labels.shape != (image_emb.shape[0],) or labels.numel() == 0:
        raise ValueError(f"labels must be a non-empty [N] vector, got {tuple(labels.shape)}")
    require_finite({"image_emb": image_emb, "weights": weights})
    n_classes = weights.shape[1]
    if int(labels.min()) < 0 or int(labels.max()) >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes})")
    k = min(5, n_classes)
    top = torch.cat(
        [
            (image_emb[s : s + chunk_size].float() @ weights.float()).topk(k, dim=1).indices
            for s in range(0, image_emb.shape[0], chunk_size)
        ]
    )
    hit1 = (top[:, 0] == labels).float()
    hit5 = (top == labels[:, None]).any(1).float()
    per_class = torch.zeros(n_classes, device=labels.device).index_add_(0, labels, hit1)
    counts = torch.bincount(labels, minlength=n_classes).float()
    present = counts > 0
    return {
        "acc1": float(hit1.mean()),
        "acc5": float(hit5.mean()),
        "mean_per_class_recall": float((per_class[present] / counts[present]).mean()),
    }

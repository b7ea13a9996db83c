"""Image-text retrieval recall@k in both directions with the any-caption rule, in chunks.

Ties count against the query (CLIP_benchmark's strict rule): a relevant item is a hit at k only
when fewer than k irrelevant items score at least as high.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from cibr_lab.cibr.checks import require_finite


def _check(image_emb: Tensor, text_emb: Tensor, text_to_image: Tensor) -> Tensor:
    if image_emb.ndim != 2 or text_emb.ndim != 2 or image_emb.shape[1] != text_emb.shape[1]:
        raise ValueError(
            "image_emb [N_img, D] and text_emb [N_txt, D] must share D, got "
            f"{tuple(image_emb.shape)} and {tuple(text_emb.shape)}"
        )
    text_to_image = torch.as_tensor(text_to_image, device=text_emb.device).long()
    if text_to_image.shape != (text_emb.shape[0],):
        raise ValueError(
            f"text_to_image must have one entry per caption ({text_emb.shape[0]}), "
            f"got shape {tuple(text_to_image.shape)}"
        )
    n_img = image_emb.shape[0]
    if n_img == 0 or text_to_image.numel() == 0:
        raise ValueError("retrieval needs at least one image and one caption")
    if int(text_to_image.min()) < 0 or int(text_to_image.max()) >= n_img:
        raise ValueError(f"text_to_image holds an index outside [0, {n_img})")
    counts = torch.bincount(text_to_image, minlength=n_img)
    if bool((counts == 0).any()):
        missing = int(torch.nonzero(counts == 0)[0])
        raise ValueError(f"image {missing} has no caption; every image needs at least one")
    require_finite({"image_emb": image_emb, "text_emb": text_emb})
    return text_to_image


def retrieval_ranks(
    image_emb: Tensor, text_emb: Tensor, text_to_image: Tensor, chunk_size: int = 1024
) -> tuple[Tensor, Tensor]:
    """Rank of the first relevant item for every query (0 = retrieved first), ties against it.

    Similarity is the dot product (pass normalised embeddings for cosine). A caption's rank
    (text -> image) is the number of other images scoring at least as high as its own; an
    image's rank (image -> text) is the number of other images' captions scoring at least as
    high as its best caption, so ``rank < k`` is "one of its captions strictly ahead of all but
    at most k - 1 irrelevant captions". Every score comes from the same chunked matrix product,
    so a tie is an exact tie. Two passes over ``chunk_size`` captions at a time (the best
    caption of each image, then the counts): only one ``[chunk_size, N_img]`` block of the
    similarity matrix exists at a time.

    Returns ``(text_ranks [N_txt], image_ranks [N_img])``, int64.
    """
    text_to_image = _check(image_emb, text_emb, text_to_image)
    n_img = image_emb.shape[0]
    images = torch.arange(n_img, device=image_emb.device)
    chunks = [
        (slice(s, s + chunk_size), text_to_image[s : s + chunk_size])
        for s in range(0, text_emb.shape[0], chunk_size)
    ]
    best = torch.full((n_img,), float("-inf"), dtype=image_emb.dtype, device=image_emb.device)
    for rows, own in chunks:
        positive = (text_emb[rows] @ image_emb.T).gather(1, own[:, None])[:, 0]
        best = best.scatter_reduce(0, own, positive, reduce="amax")
    text_ranks = torch.empty(text_emb.shape[0], dtype=torch.long, device=text_emb.device)
    image_ranks = torch.zeros(n_img, dtype=torch.long, device=image_emb.device)
    for rows, own in chunks:
        sims = text_emb[rows] @ image_emb.T  # [chunk, N_img]
        other = own[:, None] != images[None, :]
        positive = sims.gather(1, own[:, None])
        text_ranks[rows] = ((sims >= positive) & other).sum(1)
        image_ranks += ((sims >= best[None, :]) & other).sum(0)
    return text_ranks, image_ranks


def retrieval_recall(
    image_emb: Tensor,
    text_emb: Tensor,
    text_to_image: Tensor,
    ks: Sequence[int] = (1, 5, 10),
    chunk_size: int = 1024,
) -> dict[str, float]:
    """Recall@k both ways, CLIP_benchmark's names, any-caption rule and strict ties.

    ``text_to_image[j]`` is the image index of caption ``j``. Returns
    ``{"image_retrieval_recall@k": ..., "text_retrieval_recall@k": ...}`` in [0, 1]: *image
    retrieval* queries with captions, *text retrieval* with images.
    """
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be positive integers, got {tuple(ks)}")
    text_ranks, image_ranks = retrieval_ranks(image_emb, text_emb, text_to_image, chunk_size)
    out = {}
    for k in ks:
        out[f"image_retrieval_recall@{k}"] = float((text_ranks < k).float().mean())
        out[f"text_retrieval_recall@{k}"] = float((image_ranks < k).float().mean())
    return out

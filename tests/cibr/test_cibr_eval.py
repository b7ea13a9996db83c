"""Retrieval recall against a dense reference, zero-shot metrics against scikit-learn, probes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, balanced_accuracy_score, top_k_accuracy_score

from cibr_lab.cibr.probe import linear_probe_accuracy, modality_gap
from cibr_lab.cibr.retrieval import retrieval_recall
from cibr_lab.cibr.zeroshot import zeroshot_metrics, zeroshot_weights

torch.set_num_threads(1)


def _dense_reference(img, txt, t2i, ks, strict=True):
    """Per query on the full score matrix: a hit at k needs fewer than k irrelevant items
    scoring at least as high as the relevant one (``strict=False``: strictly higher)."""
    sims = txt @ img.T
    ahead = (lambda a, b: a >= b) if strict else (lambda a, b: a > b)
    text_ranks = [
        sum(ahead(sims[j, i], sims[j, t2i[j]]) for i in range(len(img)) if i != t2i[j])
        for j in range(len(txt))
    ]
    image_ranks = []
    for i in range(len(img)):
        own = [j for j in range(len(txt)) if t2i[j] == i]
        best = max(sims[j, i] for j in own)
        image_ranks.append(sum(ahead(sims[j, i], best) for j in range(len(txt)) if t2i[j] != i))
    out = {}
    for k in ks:
        out[f"image_retrieval_recall@{k}"] = float(np.mean([r < k for r in text_ranks]))
        out[f"text_retrieval_recall@{k}"] = float(np.mean([r < k for r in image_ranks]))
    return out


@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
def test_retrieval_matches_dense_reference(chunk_size):
    gen = torch.Generator().manual_seed(0)
    n_img, per = 40, 5
    img = F.normalize(torch.randn(n_img, 16, generator=gen), dim=-1)
    t2i = torch.arange(n_img).repeat_interleave(per)[torch.randperm(n_img * per, generator=gen)]
    txt = F.normalize(img[t2i] + 1.2 * torch.randn(len(t2i), 16, generator=gen), dim=-1)
    ks = (1, 5, 10)
    got = retrieval_recall(img, txt, t2i, ks=ks, chunk_size=chunk_size)
    ref = _dense_reference(img, txt, t2i, ks)
    assert got == pytest.approx(ref)
    assert 0.0 < got["image_retrieval_recall@1"] < got["image_retrieval_recall@10"] < 1.0


def test_retrieval_uneven_caption_counts_and_perfect_embeddings():
    img = torch.eye(4)
    t2i = torch.tensor([0, 0, 1, 2, 2, 2, 3])
    got = retrieval_recall(img, img[t2i], t2i, ks=(1,))
    assert got == {"image_retrieval_recall@1": 1.0, "text_retrieval_recall@1": 1.0}


@pytest.mark.parametrize("chunk_size", [1, 5, 4096])
def test_retrieval_ties_are_not_hits(chunk_size):
    """Small-integer embeddings make every score exact, so duplicated items tie exactly."""
    gen = torch.Generator().manual_seed(5)
    img = torch.randint(-2, 3, (12, 6), generator=gen).float()
    img[7], img[9] = img[2], img[4]  # duplicate images: their captions tie with a wrong one
    t2i = torch.arange(12).repeat_interleave(2)
    txt = torch.randint(-1, 2, (24, 6), generator=gen).float() + img[t2i]
    txt[[0, 1, 20]] = 3 * img[0]  # image 0's best captions tie with one of image 10's
    ks = (1, 2, 5)
    got = retrieval_recall(img, txt, t2i, ks=ks, chunk_size=chunk_size)
    assert got == pytest.approx(_dense_reference(img, txt, t2i, ks))
    lenient = _dense_reference(img, txt, t2i, ks, strict=False)
    assert got["image_retrieval_recall@1"] < lenient["image_retrieval_recall@1"]
    assert got["text_retrieval_recall@1"] < lenient["text_retrieval_recall@1"]
    one_tie = retrieval_recall(torch.eye(2)[[0, 0]], torch.eye(2)[[0, 0]], torch.tensor([0, 1]))
    assert one_tie["image_retrieval_recall@1"] == 0.0 and one_tie["text_retrieval_recall@1"] == 0.0


def test_retrieval_agrees_with_clip_benchmark_without_ties():
    zr = pytest.importorskip("clip_benchmark.metrics.zeroshot_retrieval")
    gen = torch.Generator().manual_seed(6)
    img = F.normalize(torch.randn(30, 16, generator=gen), dim=-1)
    t2i = torch.arange(30).repeat_interleave(3)
    txt = F.normalize(img[t2i] + torch.randn(90, 16, generator=gen), dim=-1)
    scores = txt @ img.T
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(90), t2i] = True
    got = retrieval_recall(img, txt, t2i, ks=(1, 5))
    for k in (1, 5):
        image_hits = zr.batchify(zr.recall_at_k, scores, positive, 16, "cpu", k=k) > 0
        text_hits = zr.batchify(zr.recall_at_k, scores.T, positive.T, 16, "cpu", k=k) > 0
        assert got[f"image_retrieval_recall@{k}"] == pytest.approx(image_hits.float().mean())
        assert got[f"text_retrieval_recall@{k}"] == pytest.approx(text_hits.float().mean())


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_embeddings_are_refused(bad):
    img, txt, t2i = torch.randn(3, 4), torch.randn(3, 4), torch.arange(3)
    broken = img.clone()
    broken[1, 2] = bad
    with pytest.raises(ValueError, match="NaN or infinite values in image_emb"):
        retrieval_recall(broken, txt, t2i)
    with pytest.raises(ValueError, match="NaN or infinite values in text_emb"):
        retrieval_recall(img, broken, t2i)
    weights = F.normalize(torch.randn(4, 3), dim=0)
    with pytest.raises(ValueError, match="NaN or infinite values in image_emb"):
        zeroshot_metrics(broken, weights, t2i)
    with pytest.raises(ValueError, match="NaN or infinite values in weights"):
        zeroshot_metrics(img, broken.T, t2i)

    def encode(texts):
        out = torch.ones(len(texts), 4)
        out[-1, 0] = bad
        return out

    with pytest.raises(ValueError, match="prompt embeddings of classes 'cat' to 'dog'"):
        zeroshot_weights(encode, ["cat", "dog"], ["a {}."])


def test_retrieval_errors():
    img, txt = torch.randn(3, 4), torch.randn(5, 4)
    with pytest.raises(ValueError, match="one entry per caption"):
        retrieval_recall(img, txt, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="image 2 has no caption"):
        retrieval_recall(img, txt, torch.tensor([0, 1, 1, 0, 1]))
    with pytest.raises(ValueError, match="outside"):
        retrieval_recall(img, txt, torch.tensor([0, 1, 2, 3, 1]))
    with pytest.raises(ValueError, match="share D"):
        retrieval_recall(img, torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1]))


def test_zeroshot_metrics_match_sklearn():
    gen = torch.Generator().manual_seed(1)
    n, c, d = 300, 7, 12
    weights = F.normalize(torch.randn(d, c, generator=gen), dim=0)
    labels = torch.randint(0, c, (n,), generator=gen)
    img = F.normalize(weights.T[labels] + 0.9 * torch.randn(n, d, generator=gen), dim=-1)
    got = zeroshot_metrics(img, weights, labels, chunk_size=64)
    scores = (img @ weights).numpy()
    y = labels.numpy()
    assert got["acc1"] == pytest.approx(accuracy_score(y, scores.argmax(1)))
    assert got["acc5"] == pytest.approx(top_k_accuracy_score(y, scores, k=5, labels=range(c)))
    assert got["mean_per_class_recall"] == pytest.approx(
        balanced_accuracy_score(y, scores.argmax(1))
    )


def test_zeroshot_weights_are_the_renormalised_prompt_mean():
    table = {}

    def encode(texts):
        return torch.stack([table.setdefault(t, torch.randn(6)) for t in texts])

    torch.manual_seed(2)
    classes, templates = ["cat", "dog", "emu"], ["a {}.", "the {c} here", "{}!"]
    w = zeroshot_weights(encode, classes, templates, classes_per_batch=2)
    for j, c in enumerate(classes):
        prompts = [f"a {c}.", f"the {c} here", f"{c}!"]
        ref = torch.stack([F.normalize(table[t], dim=0) for t in prompts]).mean(0)
        torch.testing.assert_close(w[:, j], F.normalize(ref, dim=0))
    with pytest.raises(ValueError, match="non-empty list of class names"):
        zeroshot_weights(encode, [], templates)
    with pytest.raises(ValueError, match="placeholder"):
        zeroshot_weights(encode, classes, ["no slot"])
    with pytest.raises(ValueError, match=r"lie in \[0, 3\)"):
        zeroshot_metrics(torch.randn(2, 6), w, torch.tensor([0, 3]))


def test_probe_detects_a_linearly_encoded_factor_and_not_a_random_one():
    gen = np.random.default_rng(3)
    factor = gen.integers(0, 3, 600)
    emb = gen.normal(size=(600, 8))
    emb[:, 0] += 6.0 * factor
    kept = linear_probe_accuracy(emb[:400], factor[:400], emb[400:], factor[400:])
    assert kept["accuracy"] > 0.95
    noise = gen.normal(size=(600, 8))
    lost = linear_probe_accuracy(noise[:400], factor[:400], noise[400:], factor[400:])
    assert lost["accuracy"] < lost["chance"] + 0.12
    with pytest.raises(ValueError, match="single value"):
        linear_probe_accuracy(emb[:10], np.zeros(10), emb[10:20], factor[10:20])


def test_modality_gap_is_the_centroid_distance():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(50, 5, generator=gen)
    shift = torch.tensor([0.3, 0.0, -0.4, 0.0, 0.0])
    assert modality_gap(x, x + shift) == pytest.approx(0.5, abs=1e-5)
    assert modality_gap(x, x[torch.randperm(50, generator=gen)]) == pytest.approx(0.0, abs=1e-5)

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


def _dense_reference(img, txt, t2i, ks):
    sims = txt @ img.T
    out = {}
    for k in ks:
        top_img = sims.topk(k, dim=1).indices
        hits = [int(t2i[j]) in top_img[j].tolist() for j in range(len(txt))]
        out[f"image_retrieval_recall@{k}"] = float(np.mean(hits))
        top_txt = sims.T.topk(k, dim=1).indices
        hits = [any(int(t2i[j]) == i for j in top_txt[i].tolist()) for i in range(len(img))]
        out[f"text_retrieval_recall@{k}"] = float(np.mean(hits))
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
    classes, templates = ["cat", "dog", "emu"], ["a {}.", "the {} here", "{}!"]
    w = zeroshot_weights(encode, classes, templates, classes_per_batch=2)
    for j, c in enumerate(classes):
        ref = torch.stack([F.normalize(table[t.format(c)], dim=0) for t in templates]).mean(0)
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

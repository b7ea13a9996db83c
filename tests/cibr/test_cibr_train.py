"""Training: schedule values, exact gradient accumulation, bit-exact resume, batch sampling."""

from __future__ import annotations

import math

import pytest
import torch

from cibr_lab.cibr import CIBRLoss
from cibr_lab.cibr.model import create_model, get_tokenizer
from cibr_lab.cibr.scenes import make_scenes
from cibr_lab.cibr.schedule import warmup_cosine
from cibr_lab.cibr.train import CaptionBatches, TrainConfig, train, train_step
from cibr_lab.errors import RecordError

torch.set_num_threads(1)
CPU = torch.device("cpu")


def test_warmup_cosine_values():
    assert warmup_cosine(0, 4, 20) == pytest.approx(0.25)
    assert warmup_cosine(3, 4, 20) == pytest.approx(1.0)
    assert warmup_cosine(4, 4, 20) == pytest.approx(1.0)
    assert warmup_cosine(12, 4, 20) == pytest.approx(0.5)
    assert warmup_cosine(20, 4, 20, floor=0.1) == pytest.approx(0.1)
    assert warmup_cosine(99, 4, 20, floor=0.1) == pytest.approx(0.1)
    mid = 4 + 16 / 3
    assert warmup_cosine(int(mid), 4, 20) <= 0.5 * (1 + math.cos(math.pi * 5 / 16)) + 1e-9
    with pytest.raises(ValueError, match="warmup"):
        warmup_cosine(0, 30, 20)


@pytest.fixture(scope="module")
def setup():
    data = make_scenes(64, seed=0, captions_per_image=2)
    tok = get_tokenizer("cibr-tiny")
    return data, tok(data.captions)


def _model_and_loss(estimator="ceb", lam=0.5):
    torch.manual_seed(0)
    model = create_model("cibr-tiny")
    return model, CIBRLoss(lam, estimator, embed_dim=64)


def _grads(model, loss_fn):
    return [
        p.grad.clone() for p in [*model.parameters(), *loss_fn.parameters()] if p.grad is not None
    ]


@pytest.mark.parametrize("estimator", ["ceb", "mine"])
def test_gradient_accumulation_equals_the_full_batch(setup, estimator):
    """Exact for a batch-independent forward pass: the tiny ResNet's BatchNorm in eval mode."""
    data, tokens = setup
    images, toks = data.images[:16], tokens[:16]
    results = []
    for accum in (1, 4):
        model, loss_fn = _model_and_loss(estimator)
        model.eval()
        torch.manual_seed(1)
        terms = train_step(model, loss_fn, images, toks, accum, CPU)
        results.append((terms, _grads(model, loss_fn)))
    (t1, g1), (t4, g4) = results
    for key in t1:
        torch.testing.assert_close(t1[key], t4[key], rtol=1e-5, atol=1e-6)
    assert len(g1) == len(g4)
    for a, b in zip(g1, g4, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("estimator", ["ceb", "mine"])
def test_resume_reproduces_the_uninterrupted_run(setup, tmp_path, estimator):
    data, tokens = setup
    config = TrainConfig(steps=4, batch_size=8, warmup=1, log_every=1, checkpoint_every=2)

    def run(checkpoint, crash_at=None):
        model, loss_fn = _model_and_loss(estimator)
        batches = CaptionBatches(data, tokens, torch.Generator().manual_seed(3))

        def evaluate(model, step):
            if step == crash_at:
                raise KeyboardInterrupt
            return {"probe": 0.0}

        history = train(model, loss_fn, batches, config, CPU, checkpoint, evaluate, eval_every=3)
        return model, history

    ref_model, ref_history = run(tmp_path / "a.pt")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b.pt", crash_at=3)
    model, history = run(tmp_path / "b.pt")
    for p, q in zip(ref_model.parameters(), model.parameters(), strict=True):
        assert torch.equal(p, q)
    if estimator == "mine":  # the critics' moving averages travel with the checkpoint
        saved = torch.load(tmp_path / "b.pt", weights_only=True)["loss"]
        assert any(key.endswith("_extra_state") for key in saved)
    assert [r["step"] for r in history] == [r["step"] for r in ref_history]
    train_rows = [r for r in history if r["kind"] == "train"]
    ref_rows = [r for r in ref_history if r["kind"] == "train"]
    assert [r["contrastive_loss"] for r in train_rows] == [r["contrastive_loss"] for r in ref_rows]
    other = TrainConfig(steps=5, batch_size=8, warmup=1)
    with pytest.raises(ValueError, match="another config"):
        train(
            *_model_and_loss(),
            CaptionBatches(data, tokens, torch.Generator()),
            other,
            CPU,
            tmp_path / "b.pt",
        )


def test_resume_refuses_a_planted_checkpoint(setup, tmp_path, planted):
    data, tokens = setup
    path = tmp_path / "ck.pt"
    torch.save({"config": planted}, path)
    batches = CaptionBatches(data, tokens, torch.Generator())
    config = TrainConfig(steps=1, batch_size=8, warmup=1)
    with pytest.raises(RecordError, match=rf"unreadable checkpoint {path}.*Weights only"):
        train(*_model_and_loss(), batches, config, CPU, path)
    assert not planted.marker.exists()


def test_training_lowers_the_contrastive_loss(setup):
    data, tokens = setup
    model, loss_fn = _model_and_loss("ceb", lam=0.1)
    batches = CaptionBatches(data, tokens, torch.Generator().manual_seed(0))
    config = TrainConfig(steps=60, batch_size=32, lr=3e-3, warmup=3, log_every=20)
    history = train(model, loss_fn, batches, config, CPU)
    assert [r["step"] for r in history] == [20, 40, 60]
    assert history[-1]["contrastive_loss"] < history[0]["contrastive_loss"] - 0.2
    assert {"R_v", "R_t", "cibr_loss", "lr", "s_per_step"} <= set(history[0])


def test_batches_never_repeat_an_image_and_pick_its_own_captions(setup):
    data, tokens = setup
    batches = CaptionBatches(data, tokens, torch.Generator().manual_seed(0))
    images, toks = batches.sample(64)
    flat = images.flatten(1)
    assert torch.unique(flat, dim=0).shape[0] == 64
    index = {tuple(r.tolist()): i for i, r in enumerate(data.images.flatten(1))}
    for img, tok in zip(flat, toks, strict=True):
        own = tokens[data.text_to_image == index[tuple(img.tolist())]]
        assert (own == tok).all(1).any()
    with pytest.raises(ValueError, match="exceeds"):
        batches.sample(65)
    with pytest.raises(ValueError, match="multiple of accum"):
        TrainConfig(batch_size=10, accum=3)

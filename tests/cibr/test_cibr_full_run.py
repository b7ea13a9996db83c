"""The full-profile driver end to end on the fixtures (tiny model, no pretrained weights)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cibr_lab.cibr.experiment import Method, methods, run
from cibr_lab.cibr.full_run import train_and_evaluate_full
from cibr_lab.runtime import get_profile

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cibr"
TINY = {
    "model": "cibr-tiny",
    "pretrained": None,
    "steps": 2,
    "batch_size": 2,
    "warmup": 1,
    "log_every": 1,
    "full_zeroshot": ["eurosat"],
    "lams": {"ceb": [0.5]},
}


@pytest.fixture
def fixture_data(monkeypatch):
    monkeypatch.setenv("CIBR_LAB_DATA", str(FIXTURES))


def test_fine_tune_and_evaluate_on_fixtures(fixture_data):
    cfg = get_profile("full", overrides={"cibr": TINY}).section("cibr")
    metrics = train_and_evaluate_full(cfg, "ceb", 0.5, True, 0, torch.device("cpu"))
    for name in ("coco", "flickr30k"):
        for k in (1, 5, 10):
            assert 0.0 <= metrics[f"ret_{name}_image_retrieval_recall@{k}"] <= 1.0
        # two test images: every query finds its item within the top 5
        assert metrics[f"ret_{name}_text_retrieval_recall@5"] == 1.0
    assert 0.0 <= metrics["zs_eurosat_acc1"] <= 1.0
    assert metrics["zs_eurosat_acc1"] <= metrics["zs_eurosat_acc5"] <= 1.0
    assert metrics["s_per_step"] > 0


def test_full_profile_arms_and_missing_data(tmp_path, monkeypatch):
    full = get_profile("full").section("cibr")
    assert [m.label for m in methods(full)][:2] == ["pretrained", "clip"]
    assert Method("mine", 0.5).label == "mine-0.5"
    monkeypatch.setenv("CIBR_LAB_DATA", str(tmp_path))
    profile = get_profile("full", overrides={"cibr": TINY}, seeds=[0])
    downloads = []
    monkeypatch.setattr(
        "open_clip.create_model_and_transforms", lambda *a, **k: downloads.append(a)
    )
    with pytest.raises(FileNotFoundError, match=rf"missing {tmp_path}/coco/dataset_coco\.json"):
        run(profile)
    assert downloads == []  # the data is checked before any weights are fetched

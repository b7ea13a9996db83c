"""The full-profile driver end to end on the fixtures (tiny model, no pretrained weights)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from cibr_lab.cibr.experiment import Method, methods, run
from cibr_lab.cibr.full_run import train_and_evaluate_full
from cibr_lab.errors import ConfigError, MissingDataError
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
        for side in ("image", "text"):
            recalls = [metrics[f"ret_{name}_{side}_retrieval_recall@{k}"] for k in (1, 5, 10)]
            assert 0.0 <= recalls[0] <= recalls[1] <= recalls[2] <= 1.0
    assert 0.0 <= metrics["zs_eurosat_acc1"] <= 1.0
    assert metrics["zs_eurosat_acc1"] <= metrics["zs_eurosat_acc5"] <= 1.0
    assert metrics["s_per_step"] > 0
    # the selection metric comes from the one Karpathy val image, not from the test splits
    assert metrics["val_coco_image_retrieval_recall@1"] == 1.0
    assert metrics["val_coco_mean_recall@1"] == 1.0
    test_r1 = [v for k, v in metrics.items() if k.startswith("ret_") and k.endswith("_recall@1")]
    assert metrics["ret_mean_recall@1"] == pytest.approx(sum(test_r1) / len(test_r1))


def test_full_profile_selects_lambda_on_the_val_split_and_needs_it(tmp_path, monkeypatch):
    assert get_profile("full").section("cibr")["select_metric"] == "val_coco_mean_recall@1"
    root = tmp_path / "data"
    shutil.copytree(FIXTURES, root)
    annotation = root / "coco" / "dataset_coco.json"
    entries = json.loads(annotation.read_text())
    entries["images"] = [e for e in entries["images"] if e["split"] != "val"]
    annotation.write_text(json.dumps(entries))
    monkeypatch.setenv("CIBR_LAB_DATA", str(root))
    cfg = get_profile("full", overrides={"cibr": TINY}).section("cibr")
    with pytest.raises(ValueError, match="no image in split 'val'"):
        train_and_evaluate_full(cfg, "ceb", 0.02, False, 0, torch.device("cpu"))


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


def test_coco_csv_reads_back_through_open_clip_trains_csv_loader(fixture_data, tmp_path):
    from open_clip_train.data import CsvDataset

    from cibr_lab.cibr.full_data import CSV_COLUMNS, KarpathyCaptions, write_openclip_csv

    data = KarpathyCaptions("coco", "train")
    data.captions[0] = 'a "quoted"\tcaption\nover two lines'
    csv = write_openclip_csv(data, tmp_path / "train.csv")
    loaded = CsvDataset(str(csv), lambda im: im.size, *CSV_COLUMNS, tokenizer=lambda t: t)
    assert len(loaded) == len(data.captions) == 10
    assert loaded.captions[0] == 'a "quoted" caption over two lines'
    assert loaded.captions[1:] == data.captions[1:]
    assert [str(data.paths[i].resolve()) for i in data.text_to_image] == list(loaded.images)
    size, caption = loaded[3]
    assert size[0] > 0 and caption == data.captions[3]


def test_openclip_train_args_as_open_clip_train_parses_them(tmp_path):
    from open_clip_train.params import parse_args

    from cibr_lab.cibr.full_run import openclip_train_args
    from cibr_lab.cibr.openclip_train import build_parser

    cfg = get_profile("full").section("cibr") | {"estimator_lr": 1e-3}
    argv = openclip_train_args(cfg, "mine", 0.5, 3, tmp_path / "t.csv", 566_747, tmp_path, "x", 8)
    cibr, rest = build_parser().parse_known_args(argv)
    assert (cibr.cibr_lam, cibr.cibr_estimator, cibr.cibr_lr) == (0.5, "mine", 1e-3)
    args = parse_args(rest)
    # 5000 steps x 256 captions over 566,747 rows: 2 epochs; 256 split over 8 processes
    assert (args.epochs, args.batch_size, args.accum_freq) == (2, 32, 1)
    assert (args.lr, args.wd, args.warmup, args.seed) == (1e-5, 0.1, 250, 3)
    assert (args.beta1, args.beta2, args.eps) == (0.9, 0.98, 1e-6)  # CLIP's, for ViT models
    assert args.gather_with_grad and args.local_loss and args.resume == "latest"
    assert (args.csv_separator, args.csv_img_key, args.csv_caption_key) == (
        "\t",
        "filepath",
        "title",
    )
    assert (args.model, args.pretrained, args.precision) == ("ViT-B-32", "openai", "amp")
    with pytest.raises(ConfigError, match="batch_size 256 is not divisible by 3 processes"):
        openclip_train_args(cfg, "ceb", 0.1, 0, "t.csv", 100, tmp_path, "x", 3)


def test_missing_data_is_named_before_any_weights_are_fetched(tmp_path, monkeypatch):
    import open_clip

    def no_download(*args, **kwargs):
        raise AssertionError("weights requested before the data check")

    monkeypatch.setattr(open_clip, "create_model_and_transforms", no_download)
    monkeypatch.setenv("CIBR_LAB_DATA", str(tmp_path))
    cfg = get_profile("full").section("cibr")
    with pytest.raises(MissingDataError, match=re.escape(str(tmp_path / "coco"))):
        train_and_evaluate_full(cfg, "ceb", 0.02, False, 0, torch.device("cpu"))


def test_launch_names_the_open_clip_train_route_for_the_full_profile(tmp_path):
    from cibr_lab.cibr.launch import main as launch

    with pytest.raises(ConfigError, match="through open_clip_train: print its torchrun command"):
        launch(["--profile", "full", "--out", str(tmp_path)])


def test_printed_torchrun_command_trains_and_its_checkpoint_evaluates(
    fixture_data, tmp_path, capsys
):
    import json
    import shlex

    from cibr_lab.cibr import openclip_train
    from cibr_lab.cibr.full_run import _root_logging_restored, main

    tiny = ["--set", "batch_size=4", "--set", "steps=3", "--set", "workers=1"]
    out = tmp_path / "arm"
    assert main(["--profile", "smoke", *tiny, "command", "--lam", "0.5", "--out", str(out)]) == 0
    command = shlex.split(capsys.readouterr().out)
    launcher = ["torchrun", "--nproc_per_node", "1", "-m", "--", "cibr_lab.cibr.openclip_train"]
    assert command[:6] == launcher
    argv = command[6:]
    argv[argv.index("--precision") + 1] = "fp32"  # amp is for GPUs
    with _root_logging_restored():
        assert openclip_train.main([*argv, "--device", "cpu"]) == 0
    checkpoint = out / "train" / "checkpoints" / "epoch_latest.pt"
    state = torch.load(checkpoint, weights_only=True)
    assert any(k.startswith("cibr_estimator.") for k in state["state_dict"])
    metrics_path = tmp_path / "metrics.json"
    assert main(["--profile", "smoke", "evaluate", "--checkpoint", str(checkpoint),
                 "--out", str(metrics_path), "--device", "cpu"]) == 0  # fmt: skip
    metrics = json.loads(metrics_path.read_text())
    assert metrics["val_coco_mean_recall@1"] == 1.0  # one val image: every query finds it
    assert 0.0 <= metrics["ret_flickr30k_image_retrieval_recall@1"] <= 1.0

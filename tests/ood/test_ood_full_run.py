"""The full driver end to end on a generated OpenOOD CIFAR-10 layout (real file formats: image
lists + PNGs, CIFAR-10 pickle batches, an OpenOOD-style checkpoint) with a tiny ResNet."""

import dataclasses
import pickle
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from cibr_lab import cli
from cibr_lab.ood import experiment, frames, method_grid, ood_metrics
from cibr_lab.ood.full import data as full_data
from cibr_lab.ood.full import run_imagenet
from cibr_lab.ood.full.review import flagged_images, review_outputs_full
from cibr_lab.ood.models import build_model
from cibr_lab.ood.oodr import committee_filter
from cibr_lab.ood.openood import protocols
from cibr_lab.runtime import get_profile

FIXTURE = Path(__file__).parents[1] / "fixtures" / "ood" / "openood"
SIZES = {"train": 60, "val": 20, "test": 20}
N_OOD = 12
CKPT = "openood/checkpoints/tiny/s{seed}/best.ckpt"
TINY = {
    "model": {"arch": "resnet18_32x32", "width": 4, "checkpoint": CKPT},
    "train": {
        "epochs": 1,
        "lr": 0.05,
        "batch_size": 16,
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "nesterov": True,
    },
    "annotators": [
        {"arch": "resnet18_32x32", "width": 4, "checkpoint": CKPT.format(seed=0)},
        {"arch": "resnet18_32x32", "width": 4, "checkpoint": "openood/absent.ckpt"},
        {"arch": "open_clip", "model": "ViT-B-32", "weights": "open_clip/absent.safetensors"},
    ],
    "committee_k": 1,
    "committee_threshold": 0.5,
    "shaping_params": {"actfun_mc": {"n_samples": 2}},
    "sensitivity_percentiles": [90],
    "sensitivity_sigmas": [0.0, 0.5],
    "batch_size": 16,
}


def _png(path: Path, rng: np.random.Generator, tint: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 160, (32, 32, 3), dtype=np.uint8)
    pixels[..., tint % 3] += 95
    Image.fromarray(pixels).save(path)


def make_cifar_layout(root: Path) -> None:
    """OpenOOD's CIFAR-10 image lists and PNGs, torchvision's pickle batches, and an
    OpenOOD-format checkpoint (``module.``-prefixed state dict) of the tiny ResNet for seed 0."""
    rng = np.random.default_rng(0)
    cfg = protocols()["openood_cifar10"]
    lists = root / "openood" / "benchmark_imglist" / cfg["list_dir"]
    lists.mkdir(parents=True)
    for group in ("id", "val_ood", "near", "far"):
        for name, filename in cfg[group].items():
            n = SIZES[name] if group == "id" else N_OOD
            labels = np.arange(n) % 10 if group == "id" else np.full(n, -1)
            rel = [f"{group}_{name}/{i:04d}.png" for i in range(n)]
            for r, label in zip(rel, labels, strict=True):
                _png(root / "openood" / cfg["image_dir"] / r, rng, int(label))
            text = "".join(f"{r} {label}\n" for r, label in zip(rel, labels, strict=True))
            (lists / filename).write_text(text)
    batches = root / "cifar10" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    for name in [*full_data.CIFAR_TRAIN, "test_batch"]:
        batch = {
            b"batch_label": name.encode(),
            b"labels": list(range(10)),
            b"data": rng.integers(0, 256, (10, 3072), dtype=np.uint8),
            b"filenames": [f"{i}.png".encode() for i in range(10)],
        }
        (batches / name).write_bytes(pickle.dumps(batch))
    torch.manual_seed(0)
    model = build_model({"arch": "resnet18_32x32", "width": 4}, 10)
    with torch.no_grad():
        model.head.weight.mul_(200)  # confident votes, so the committee flags some images
    state = {
        f"module.{k.replace('head.', 'fc.').removeprefix('body.')}": v
        for k, v in model.state_dict().items()
    }
    path = root / CKPT.format(seed=0)
    path.parent.mkdir(parents=True)
    torch.save(state, path)


def _reference_logits(root: Path, rel_paths: list[str], seed_ckpt: Path) -> torch.Tensor:
    """Logits of the checkpoint's model on the listed files, read and normalised by hand."""
    cfg = protocols()["openood_cifar10"]
    model = build_model({"arch": "resnet18_32x32", "width": 4, "checkpoint": str(seed_ckpt)}, 10)
    images = np.stack(
        [np.asarray(Image.open(root / "openood" / cfg["image_dir"] / r)) for r in rel_paths]
    )
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    x = (x - torch.tensor(cfg["mean"])[:, None, None]) / torch.tensor(cfg["std"])[:, None, None]
    with torch.no_grad():
        return model.eval()(x)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    data_root = tmp_path_factory.mktemp("data")
    make_cifar_layout(data_root)
    results = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIBR_LAB_DATA", str(data_root))
        mp.setenv("CIBR_LAB_RESULTS", str(results))
        mp.setattr(full_data, "NUM_WORKERS", 0)
        torch.set_num_threads(1)
        profile = get_profile("full", overrides={"ood": TINY}, seeds=[0, 1])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tables = experiment.run(profile, device="cpu")
            run = experiment.prepare(profile, 0, device="cpu")
        yield {
            "tables": tables,
            "run": run,
            "profile": profile,
            "data": data_root,
            "results": results,
            "warnings": [str(w.message) for w in caught],
        }


def test_every_method_and_set_is_recorded_for_every_seed(full_run) -> None:
    table = full_run["tables"]["benchmark"]
    cfg = full_run["run"].cfg
    tuned = len(cfg["tuned"]["scores"]) * len(cfg["tuned"]["shapings"])
    grid = method_grid(cfg["scores"], cfg["shapings"])  # the pairs equal to another left out
    expected = len(grid) + tuned + len(cfg["input_level"])
    assert table.groupby(["score", "shaping"]).ngroups == expected
    std = protocols()["openood_cifar10"]["std"]  # ODIN steps in pixel units on normalised inputs
    assert full_run["run"].score_params == {"odin": {"input_std": std}}
    assert set(table["ood_set"]) == {*cfg["ood_sets"], "mean", "near", "far"}
    assert set(table["seed"]) == {0, 1}
    assert table["value"].between(0, 1).all()
    sens = full_run["tables"]["sensitivity"]
    assert set(sens["sigma"]) == {0.0, 0.5} and set(sens["seed"]) == {0, 1}


def test_metrics_match_an_independent_forward_pass(full_run) -> None:
    """Seed 0 loads the OpenOOD checkpoint: accuracy and Energy AUROC from the cache equal
    those of the model run by hand on the image files."""
    root, run = full_run["data"], full_run["run"]
    lists = root / "openood" / "benchmark_imglist" / "cifar10"
    ckpt = root / CKPT.format(seed=0)

    def listed(name: str) -> list[str]:
        return [line.split()[0] for line in (lists / name).read_text().splitlines()]

    test_logits = _reference_logits(root, listed("test_cifar10.txt"), ckpt)
    labels = torch.arange(SIZES["test"]) % 10
    records = full_run["tables"]["records"].query("seed == 0 and experiment == 'benchmark'")
    accuracy = records.query("metric == 'id_accuracy'")["value"].item()
    assert accuracy == pytest.approx(float((test_logits.argmax(1) == labels).float().mean()))
    svhn = _reference_logits(root, listed("test_svhn.txt"), ckpt)
    expected = ood_metrics(test_logits.logsumexp(1), svhn.logsumexp(1))["auroc"]
    raw = records.query("metric == 'energy/none/svhn/raw/auroc'")["value"].item()
    assert raw == pytest.approx(expected, abs=1e-5)
    assert torch.allclose(run.features["id_test"].logits, test_logits, atol=1e-4)


def test_committee_counts_follow_the_rule_on_the_annotators_logits(full_run) -> None:
    root, run = full_run["data"], full_run["run"]
    assert len(run.annotators) == 1  # the two annotators without weights were skipped
    skipped = [w for w in full_run["warnings"] if "annotator" in w and "skipped" in w]
    assert any("absent.ckpt" in w for w in skipped)
    assert any("absent.safetensors" in w for w in skipped)
    oodr = frames.oodr_frame(full_run["tables"]["records"]).query("seed == 0")
    assert set(oodr["stat"]) == {"n_flagged", "n_items"}
    lists = root / "openood" / "benchmark_imglist" / "cifar10"
    rel = [line.split()[0] for line in (lists / "test_mnist.txt").read_text().splitlines()]
    probs = _reference_logits(root, rel, root / CKPT.format(seed=0)).softmax(1)[None]
    expected = committee_filter(probs, 1, TINY["committee_threshold"]).flagged.sum()
    got = oodr.query("ood_set == 'mnist' and stat == 'n_flagged'")["value"].item()
    assert got == expected and 0 < got < N_OOD
    assert oodr.query("ood_set == 'all' and stat == 'n_items'")["value"].item() == 6 * N_OOD
    rectified = full_run["tables"]["benchmark"].query(
        "seed == 0 and score == 'msp' and shaping == 'none' and ood_set == 'mnist' "
        "and variant == 'rectified' and metric == 'auroc'"
    )
    scores = experiment.method_scores(run, "msp", "none", input_level=False)
    keep = ~run.committees["mnist"].flagged
    want = ood_metrics(scores["id_test"], scores["mnist"][torch.from_numpy(keep)])["auroc"]
    assert rectified["value"].item() == pytest.approx(want, abs=1e-6)


def test_missing_checkpoint_trains_once_on_the_pickles_then_resumes(full_run, monkeypatch) -> None:
    monkeypatch.setenv("CIBR_LAB_RESULTS", str(full_run["results"]))
    monkeypatch.setenv("CIBR_LAB_DATA", str(full_run["data"]))
    monkeypatch.setattr(full_data, "NUM_WORKERS", 0)
    assert any("no checkpoint at" in w and "s1" in w for w in full_run["warnings"])
    cached = (
        full_run["results"]
        / full_run["profile"].label
        / "ood"
        / "checkpoints"
        / "classifier-seed1.pt"
    )
    assert cached.exists()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="no checkpoint at")  # no training now
        again = experiment.run(full_run["profile"], device="cpu")["records"]
        experiment.prepare(full_run["profile"], 1, device="cpu")  # must load the cached weights
    key = ["seed", "experiment", "metric"]
    assert np.allclose(
        again.sort_values(key)["value"],
        full_run["tables"]["records"].sort_values(key)["value"],
        equal_nan=True,
    )


def test_missing_data_names_the_path_and_the_fetch_command(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CIBR_LAB_DATA", str(tmp_path))
    monkeypatch.setenv("CIBR_LAB_RESULTS", str(tmp_path / "results"))
    profile = get_profile("full", overrides={"ood": TINY}, seeds=[0])
    with pytest.raises(FileNotFoundError) as err:
        experiment.run(profile, device="cpu")
    expected = tmp_path / "openood" / "benchmark_imglist" / "cifar10" / "train_cifar10.txt"
    assert str(expected) in str(err.value) and "download.py" in str(err.value)
    assert cli.main(["run", "ood", "--profile", "full", "--seeds", "0"]) == 2  # one line, no trace
    err = capsys.readouterr().err
    assert err.startswith("cibr-lab: ") and err.count("\n") == 1 and "train_cifar10.txt" in err


def test_imagenet_protocol_runs_on_folder_and_list_sets(tmp_path, monkeypatch) -> None:
    """The ImageNet-1K protocol (lists + SUN/Places/ImageNet-O folders) with a torchvision
    ResNet-18 loaded from a local weights file, a few methods, records under full-imagenet."""
    shutil.copytree(FIXTURE, tmp_path / "openood")
    torch.manual_seed(0)
    weights = tmp_path / "torchvision" / "resnet18.pth"
    weights.parent.mkdir()
    tv = __import__("torchvision").models.resnet18(num_classes=1000)
    torch.save(tv.state_dict(), weights)
    monkeypatch.setenv("CIBR_LAB_DATA", str(tmp_path))
    monkeypatch.setenv("CIBR_LAB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(full_data, "NUM_WORKERS", 0)
    small = {
        "model": {"arch": "torchvision", "name": "resnet18", "weights": "torchvision/resnet18.pth"},
        "annotators": [],  # the committee is optional
        "scores": ["msp", "energy"],
        "shapings": ["none", "actfun"],
        "input_level": [],
        "tuned": {"scores": [], "shapings": []},
        "sensitivity_scores": ["energy"],
        "sensitivity_percentiles": [90],
        "sensitivity_sigmas": [0.5],
    }
    with pytest.warns(UserWarning, match="OOD-R disabled: 0 of 0 annotators"):
        tables = run_imagenet(get_profile("full"), device="cpu", ood=small)
    table = tables["benchmark"]
    assert set(table["ood_set"]) == {
        *protocols()["openood_imagenet"]["profile"]["ood_sets"],
        "mean",
        "near",
        "far",
    }
    assert set(tables["records"]["profile"]) == {"full-imagenet"}
    oodr = tables["oodr"].query("stat == 'n_flagged'")
    assert (oodr["value"] == 0).all()
    rectified = table.query("variant == 'rectified'").set_index(
        ["score", "shaping", "ood_set", "metric"]
    )
    raw = table.query("variant == 'raw'").set_index(["score", "shaping", "ood_set", "metric"])
    assert np.allclose(rectified["value"], raw.loc[rectified.index, "value"])
    assert set(table["seed"]) == {0}
    assert (
        len(list((tmp_path / "results" / "full-imagenet" / "ood").glob("benchmark-seed0-*.json")))
        == 1
    )


def test_review_outputs_read_the_flagged_files_back(full_run, tmp_path) -> None:
    run = full_run["run"]
    committees = {}  # about half of each set flagged: the classifier's own confident votes
    for name in run.bench.ood:
        probs = run.features[name].logits.softmax(1)[None]
        committees[name] = committee_filter(probs, 1, float(probs.amax(2).median()))
    run = dataclasses.replace(run, committees=committees)
    n_flagged = int(sum(c.flagged.sum() for c in committees.values()))
    assert 0 < n_flagged < len(committees) * N_OOD
    paths = review_outputs_full(run, tmp_path, limit=3)
    assert len(paths["removed"].read_text().splitlines()) == 1 + n_flagged
    counts = pd.read_csv(paths["counts"])
    assert (counts["n_items"] == N_OOD).all() and counts["n_removed"].sum() == n_flagged
    shown = sum(min(3, int(c.flagged.sum())) for c in run.committees.values())
    assert paths["sheet"].read_text().count("data:image/png;base64,") == shown
    name = next(n for n, c in run.committees.items() if c.flagged.any())
    first = run.bench.ood[name].items[int(run.committees[name].flagged.argmax())]
    rel = first.split(":", 1)[1]
    cfg = protocols()["openood_cifar10"]
    pixels = np.array(Image.open(full_run["data"] / "openood" / cfg["image_dir"] / rel))
    expected = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
    assert torch.allclose(flagged_images(run, name, 1)[0], expected, atol=1e-5)

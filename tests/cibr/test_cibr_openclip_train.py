"""CIBR inside open_clip_train, offline on CPU, on a tiny csv of generated PNG scenes.

Plain open_clip_train and ours run in-process on the same seed; a spy on
``open_clip_train.main.train_one_epoch`` sees the model and the optimiser. Run as a script by
torchrun, the file is one rank of the two-process test.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from PIL import Image

pytest.importorskip("webdataset", reason="open_clip_train needs open_clip_torch[training]")
import open_clip  # noqa: E402
import open_clip_train.main as oc_main  # noqa: E402
import open_clip_train.train as oc_train  # noqa: E402

from cibr_lab.cibr import openclip_train  # noqa: E402
from cibr_lab.cibr.assets import asset_path  # noqa: E402
from cibr_lab.cibr.openclip_train import ESTIMATOR_MODULE  # noqa: E402
from cibr_lab.cibr.scenes import make_scenes  # noqa: E402

PREFIX = ESTIMATOR_MODULE + "."


@pytest.fixture(scope="module")
def csv_data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scenes")
    scenes = make_scenes(32, seed=0)
    paths = []
    for i, image in enumerate(scenes.images):
        path = folder / f"{i:02d}.png"
        Image.fromarray((image.permute(1, 2, 0) * 255).round().byte().numpy()).save(path)
        paths.append(str(path))
    csv = folder / "train.csv"
    pd.DataFrame({"filepath": paths, "title": scenes.captions}).to_csv(csv, index=False)
    return csv


def _argv(csv: Path, logs: Path, name: str, *extra: str, model: str = "cibr-tiny") -> list[str]:
    return [
        *("--train-data", str(csv), "--dataset-type", "csv", "--csv-separator", ","),
        *("--model", model, "--device", "cpu", "--precision", "fp32", "--seed", "0"),
        *("--batch-size", "8", "--epochs", "1", "--workers", "0", "--lr", "1e-3"),
        *("--warmup", "1", "--log-every-n-steps", "1", "--report-to", "none"),
        *("--logs", str(logs), "--name", name, *extra),
    ]


def _run(main, argv: list[str]):
    """Run a trainer in-process, then detach the log handlers it added to the root logger."""
    before = list(logging.root.handlers)
    try:
        return main(argv)
    finally:
        for handler in logging.root.handlers:
            if handler not in before:
                handler.close()
        logging.root.handlers = before


def _cibr(lam: float, estimator: str, *more: str):
    return lambda argv: openclip_train.main(
        ["--cibr-lam", str(lam), "--cibr-estimator", estimator, *more, *argv]
    )


def _checkpoint(logs: Path, name: str, epoch: int = 1) -> dict:
    return torch.load(logs / name / "checkpoints" / f"epoch_{epoch}.pt", weights_only=True)


def _spy(monkeypatch, on_start=None) -> list[dict]:
    """Record, at each epoch's start, the model, the optimiser and the estimator's state;
    ``on_start(optimizer)`` runs there too."""
    calls: list[dict] = []
    original = oc_main.train_one_epoch

    def spy(model, data, loss, epoch, optimizer, *args, **kwargs):
        if on_start is not None:
            on_start(optimizer)
        estimator = getattr(model, ESTIMATOR_MODULE)
        calls.append(
            {
                "model": model,
                "optimizer": optimizer,
                "epoch": epoch,
                "estimator": {k: _clone(v) for k, v in estimator.state_dict().items()},
                "optimizer_state": _clone(optimizer.state_dict()),
            }
        )
        return original(model, data, loss, epoch, optimizer, *args, **kwargs)

    monkeypatch.setattr(oc_main, "train_one_epoch", spy)
    return calls


def _clone(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_clone(v) for v in value)
    return value


def _assert_equal(a, b, where: str = "") -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for key in a:
            _assert_equal(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _logged_losses(logs: Path, name: str) -> list[dict[str, str]]:
    lines = (logs / name / "out.log").read_text().splitlines()
    rows = [line for line in lines if "Train Epoch" in line]
    return [dict(re.findall(r"(\w+_loss|Loss): (\S+ \(\S+\))", row)) for row in rows]


@pytest.mark.parametrize("estimator", ["ceb", "mine"])
def test_lam_zero_is_plain_open_clip_train(csv_data, tmp_path, monkeypatch, estimator):
    """Same losses (every step), same weights and optimiser state as plain open_clip_train.

    Plain open_clip_train cannot tokenise for cibr-tiny's compact vocabulary, so both runs use a
    tiny config with open_clip's full BPE vocabulary and tokenizer: nothing is patched for it.
    """
    config = json.loads(asset_path("cibr-tiny.json").read_text())
    config["text_cfg"]["vocab_size"] = 49408
    (tmp_path / "tiny-bpe.json").write_text(json.dumps(config))
    open_clip.add_model_config(tmp_path / "tiny-bpe.json")
    totals: list[float] = []
    original_backward = oc_train.backward

    def record(total_loss, scaler):
        totals.append(total_loss.item())
        return original_backward(total_loss, scaler)

    monkeypatch.setattr(oc_train, "backward", record)
    logs = tmp_path / "logs"
    _run(oc_main.main, _argv(csv_data, logs, "plain", model="tiny-bpe"))
    plain_totals, totals[:] = list(totals), []
    _run(_cibr(0.0, estimator), _argv(csv_data, logs, "cibr", model="tiny-bpe"))
    assert len(plain_totals) == 4 and totals == plain_totals

    plain_log, cibr_log = _logged_losses(logs, "plain"), _logged_losses(logs, "cibr")
    assert len(plain_log) == 4
    for p, c in zip(plain_log, cibr_log, strict=True):
        assert set(p) == {"Contrastive_loss", "Loss"}
        assert {k: c[k] for k in p} == p
        assert c["Cibr_loss"] == "0.0000 (0.0000)"

    plain, cibr = _checkpoint(logs, "plain"), _checkpoint(logs, "cibr")
    ours = {k: v for k, v in cibr["state_dict"].items() if not k.startswith(PREFIX)}
    assert len(ours) < len(cibr["state_dict"])
    _assert_equal(ours, plain["state_dict"], "state_dict")
    _assert_equal(cibr["optimizer"], plain["optimizer"], "optimizer")


@pytest.mark.parametrize("estimator", ["ceb", "mine"])
def test_estimator_trains_in_its_own_group_at_cibr_lr(csv_data, tmp_path, monkeypatch, estimator):
    steps: list[dict[str, float]] = []

    def watch(optimizer):
        before = {id(p): p.detach().clone() for g in optimizer.param_groups for p in g["params"]}

        def after(opt, args, kwargs):
            if not steps:  # first step: Adam moves each parameter by lr * |g| / (|g| + eps)
                steps.append(
                    {
                        i: max(float((p.detach() - before[id(p)]).abs().max()) for p in g["params"])
                        for i, g in enumerate(opt.param_groups)
                    }
                )

        optimizer.register_step_post_hook(after)

    calls = _spy(monkeypatch, on_start=watch)
    logs = tmp_path / "logs"
    _run(_cibr(0.5, estimator, "--cibr-lr", "1e-2"), _argv(csv_data, logs, "run"))
    (call,) = calls
    estimator_params = list(getattr(call["model"], ESTIMATOR_MODULE).parameters())
    groups = call["optimizer"].param_groups
    assert len(groups) == 3
    assert [id(p) for p in groups[2]["params"]] == [id(p) for p in estimator_params]
    own = {id(p) for p in estimator_params}
    assert not any(id(p) in own for g in groups[:2] for p in g["params"])
    assert groups[2]["weight_decay"] == 0.0 and groups[2]["lr_scale"] == pytest.approx(10.0)
    assert groups[2]["lr"] == pytest.approx(10 * groups[0]["lr"], rel=1e-12)
    assert steps[0][2] == pytest.approx(1e-2, rel=1e-3)  # the estimator's group
    assert steps[0][0] == pytest.approx(1e-3, rel=1e-3)  # gains and biases (no weight decay)

    final = _checkpoint(logs, "run")["state_dict"]
    names = [n for n, _ in getattr(call["model"], ESTIMATOR_MODULE).named_parameters()]
    assert names
    for name in names:
        assert not torch.equal(final[PREFIX + name], call["estimator"][name]), name


def test_resume_restores_the_estimator_exactly(csv_data, tmp_path, monkeypatch):
    logs = tmp_path / "logs"
    train = _cibr(0.5, "mine", "--cibr-lr", "1e-2")
    _run(train, _argv(csv_data, logs, "first"))
    saved = _checkpoint(logs, "first")
    path = logs / "first" / "checkpoints" / "epoch_1.pt"
    calls = _spy(monkeypatch)
    _run(train, [*_argv(csv_data, logs, "resumed", "--resume", str(path)), "--epochs", "2"])
    (call,) = calls
    assert call["epoch"] == 1
    restored = {PREFIX + k: v for k, v in call["estimator"].items()}
    assert any(k.endswith("_extra_state") for k in restored)  # MINE's moving averages
    _assert_equal(restored, {k: v for k, v in saved["state_dict"].items() if k in restored})
    assert len(restored) == sum(k.startswith(PREFIX) for k in saved["state_dict"])
    _assert_equal(call["optimizer_state"], saved["optimizer"], "optimizer")
    assert (logs / "resumed" / "checkpoints" / "epoch_2.pt").is_file()


def test_resume_refuses_a_planted_checkpoint(csv_data, tmp_path, planted):
    path = tmp_path / "epoch_1.pt"
    torch.save({"epoch": 1, "state_dict": planted}, path)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        _run(_cibr(0.5, "ceb"), _argv(csv_data, tmp_path / "logs", "x", "--resume", str(path)))
    assert not planted.marker.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--cibr-lam", "-1", "--cibr-estimator", "ceb"], "--cibr-lam must be a non-negative"),
        (["--cibr-lam", "1", "--cibr-estimator", "ceb", "--siglip"], "unsupported: --siglip"),
        (["--cibr-lam", "1", "--cibr-estimator", "ceb", "--opt", "timm/sgd"], "--opt timm/sgd"),
    ],
)
def test_bad_settings_fail_before_any_work(tmp_path, extra, message):
    logs = tmp_path / "logs"
    with pytest.raises(ValueError, match=re.escape(message)):
        openclip_train.main([*extra, *_argv(tmp_path / "none.csv", logs, "x")])
    assert not logs.exists()


def test_two_gloo_processes_need_gather_with_grad(csv_data, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed beside this python")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    launch = [str(torchrun), "--standalone", "--nproc_per_node", "2", "--", __file__]

    def run(name: str, *extra: str) -> subprocess.CompletedProcess:
        argv = [str(tmp_path / name), *_argv(csv_data, tmp_path / "logs", name, *extra)]
        return subprocess.run(
            [*launch, *argv], capture_output=True, text=True, timeout=150, env=env
        )

    refused = run("refused")
    assert refused.returncode != 0
    assert "CIBR with 2 processes needs --gather-with-grad" in refused.stderr
    assert not (tmp_path / "logs" / "refused").exists()
    proc = run("works", "--gather-with-grad")
    assert proc.returncode == 0, proc.stderr[-3000:]
    replicas = [torch.load(tmp_path / f"works-rank{r}.pt", weights_only=True) for r in (0, 1)]
    saved = _checkpoint(tmp_path / "logs", "works")["state_dict"]  # of the DDP wrapper
    initial = torch.load(tmp_path / "works-initial.pt", weights_only=True)
    for key, value in initial.items():
        # DDP all-reduced the estimator's gradients: both replicas moved, and identically
        assert not torch.equal(replicas[0][key], value), key
        assert torch.equal(replicas[0][key], replicas[1][key]), key
        assert torch.equal(saved["module." + PREFIX + key], replicas[0][key]), key


def _worker(out: str, *argv: str) -> None:
    """One rank: train with the ceb estimator, save the estimator's state before and after."""
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    seen = {}
    original = oc_main.train_one_epoch

    def parameters() -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in seen["estimator"].named_parameters()}

    def spy(model, *args, **kwargs):
        seen["estimator"] = getattr(model.module, ESTIMATOR_MODULE)
        if rank == 0:
            torch.save(parameters(), f"{out}-initial.pt")
        return original(model, *args, **kwargs)

    oc_main.train_one_epoch = spy
    openclip_train.main(["--cibr-lam", "0.5", "--cibr-estimator", "ceb", *argv])
    torch.save(parameters(), f"{out}-rank{rank}.pt")


if __name__ == "__main__":
    _worker(*sys.argv[1:])

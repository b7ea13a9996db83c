"""The prepared GPU check: tiny CPU mode end to end, failure reporting, FLOPs/MFU, sync detector."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from cibr_lab.al.strategies import STRATEGIES
from cibr_lab.cli import main as cli_main
from cibr_lab.gpucheck import main
from cibr_lab.gpucheck import sections as sections_mod
from cibr_lab.gpucheck.context import CheckContext
from cibr_lab.gpucheck.flops import count_flops, mfu, peak_tflops
from cibr_lab.gpucheck.runner import _run_section
from cibr_lab.gpucheck.sizes import TINY
from cibr_lab.gpucheck.sync import HostSyncError, no_host_sync
from cibr_lab.ood.registry import method_grid
from cibr_lab.ood.scores import SCORES
from cibr_lab.ood.shapings import SHAPINGS

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU mode")


def test_tiny_cpu_mode_runs_every_section_and_writes_the_record(tmp_path, capsys):
    out = tmp_path / "check.json"
    assert main(["--out", str(out)]) == 0  # no CUDA: tiny mode without asking
    record = json.loads(out.read_text())
    assert record["mode"] == "tiny" and record["device"] == "cpu" and record["ok"] is True
    assert record["sync_check"] == "skipped (no CUDA)"
    sections = record["sections"]
    assert list(sections) == ["clip_ceb", "clip_mine", "ood", "al", "eval"]
    for name, section in sections.items():
        assert section["status"] == "ok", (name, section["error"])
        assert section["sync_check"] == "skipped (no CUDA)"
        assert section["error"] is None and section["seconds"] > 0
    for name in ("clip_ceb", "clip_mine"):
        clip = sections[name]["metrics"]
        assert clip["model"] == TINY.clip_model and clip["batch"] == TINY.clip_batch
        assert clip["images_per_s"] > 0 and clip["flops_per_step"] > 0
        assert clip["mfu"] is None and clip["peak_bf16_tflops"] is None  # no CPU peak
    # mine adds four critics on top of the same CLIP step
    assert (
        sections["clip_mine"]["metrics"]["flops_per_step"]
        > sections["clip_ceb"]["metrics"]["flops_per_step"]
    )
    ood = sections["ood"]["metrics"]
    assert ood["pairs"] == len(method_grid(list(SCORES), list(SHAPINGS))) == 69
    assert ood["extract_max_diff"] == ood["features_max_diff"] == ood["inputs_max_diff"] == 0.0
    input_level = [n for n, cls in SHAPINGS.items() if cls.input_level]
    for name, pair in ood["diffs"].items():
        has_features = not any(name.endswith(f"+{s}") for s in input_level)
        assert set(pair) == ({"features", "inputs"} if has_features else {"inputs"})
    al = sections["al"]["metrics"]
    assert al["strategies"] == sorted(STRATEGIES) and al["train_steps_per_s"] > 0
    ev = sections["eval"]["metrics"]
    assert all(0 <= v <= 1 for v in [*ev["retrieval"].values(), *ev["zeroshot"].values()])
    table = capsys.readouterr().out
    assert "section" in table and "skipped (no CUDA)" in table
    assert all(f"\n{name} " in table for name in sections)


def test_cli_subcommand_runs_selected_sections(tmp_path):
    out = tmp_path / "eval.json"
    assert cli_main(["gpu-check", "--sections", "eval", "--out", str(out)]) == 0
    assert list(json.loads(out.read_text())["sections"]) == ["eval"]
    assert cli_main(["gpu-check", "--sections", "nope", "--out", str(out)]) == 2


def test_a_failing_section_is_reported_and_the_exit_code_is_1(tmp_path, monkeypatch, capsys):
    def broken(ctx):
        raise RuntimeError("boom")

    monkeypatch.setitem(sections_mod.SECTIONS, "ood", broken)
    out = tmp_path / "check.json"
    assert main(["--sections", "ood", "eval", "--out", str(out)]) == 1
    record = json.loads(out.read_text())
    assert record["ok"] is False
    assert record["sections"]["ood"]["status"] == "failed"
    assert record["sections"]["ood"]["error"] == "RuntimeError: boom"
    assert record["sections"]["eval"]["status"] == "ok"  # the others still run
    assert "failed" in capsys.readouterr().out


def test_flop_helper_matches_a_hand_count_for_a_linear_layer():
    torch.manual_seed(0)
    layer = nn.Linear(5, 3)
    x = torch.randn(4, 5)
    forward = 2 * 4 * 5 * 3  # one [4, 5] x [5, 3] matmul (the bias add is not counted)
    assert count_flops(lambda: layer(x)) == forward
    # backward: the weight gradient is another matmul of the same size
    assert count_flops(lambda: layer(x).sum().backward()) == 2 * forward
    # and the input gradient a third, when the input needs one
    x.requires_grad_(True)
    assert count_flops(lambda: layer(x).sum().backward()) == 3 * forward


def test_mfu_formula_and_peak_table():
    assert mfu(10**12, 10, 2.0, 989.0) == pytest.approx(10 * 1e12 / 2.0 / 989e12)
    assert mfu(10**12, 10, 2.0, None) is None
    with pytest.raises(ValueError, match="seconds must be positive, got 0"):
        mfu(1, 1, 0, 989.0)
    assert peak_tflops("NVIDIA H200") == 989.0
    assert peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert peak_tflops("NVIDIA A100-SXM4-40GB") == 312.0
    assert peak_tflops("NVIDIA L4") == 121.0 and peak_tflops("Tesla T4") == 65.0
    assert peak_tflops("cpu") is None


@pytest.fixture
def fake_sync_debug_mode(monkeypatch):
    """CUDA's sync debug mode imitated on the CPU: in "error" mode ``Tensor.item`` raises the
    error PyTorch raises for a synchronising CUDA call."""
    calls, real_item = [], torch.Tensor.item
    state = {"mode": 0}
    # the fake's frame claims to be torch's: the real error is raised inside torch (C++)
    source = (
        "def item(self):\n"
        "    if state['mode'] == 'error':\n"
        "        raise RuntimeError('called a synchronizing CUDA operation')\n"
        "    return real_item(self)\n"
    )
    namespace = {"state": state, "real_item": real_item}
    exec(compile(source, torch.__file__, "exec"), namespace)
    item = namespace["item"]

    def set_mode(mode):
        calls.append(mode)
        state["mode"] = mode

    monkeypatch.setattr(torch.cuda, "get_sync_debug_mode", lambda: state["mode"])
    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", set_mode)
    monkeypatch.setattr(torch.Tensor, "item", item)
    return calls


def _leaky() -> float:
    x = torch.ones(3)
    return x.sum().item()


def test_sync_detector_names_the_section_and_the_place(fake_sync_debug_mode):
    with pytest.raises(HostSyncError) as caught:
        with no_host_sync("ood msp (features)", enabled=True):
            _leaky()
    message = str(caught.value)
    assert message.startswith("ood msp (features): host sync at ")
    assert "test_gpu_check.py:" in message and "in _leaky: return x.sum().item()" in message
    assert "called a synchronizing CUDA operation" in message
    assert fake_sync_debug_mode == ["error", 0]  # the previous mode is restored
    with no_host_sync("quiet", enabled=True):
        torch.ones(3).sum()  # no sync: nothing raised
    with pytest.raises(RuntimeError, match="^unrelated$"):  # other errors pass through
        with no_host_sync("other", enabled=True):
            raise RuntimeError("unrelated")
    with no_host_sync("off", enabled=False):
        assert _leaky() == 3.0  # disabled: the mode is never touched
    assert fake_sync_debug_mode == ["error", 0] * 3


def test_a_section_that_syncs_is_reported_failed_with_the_place(fake_sync_debug_mode):
    def section(ctx):
        with no_host_sync("al training", ctx.check_sync):
            _leaky()
        return {"summary": "unreachable"}

    ctx = CheckContext(torch.device("cpu"), TINY, check_sync=True)
    result = _run_section("al", section, ctx)
    assert result["status"] == "failed" and result["sync_check"] == "failed"
    assert result["error"].startswith("al training: host sync at ")
    assert "in _leaky" in result["summary"]

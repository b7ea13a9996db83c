"""Every benchmark script runs in a small setting and prints agreement with its reference."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def _main(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_bench_info_chunked_mmd_agrees_with_the_dense_reference(capsys: pytest.CaptureFixture):
    _main("bench_info")(["--device", "cpu", "--sizes", "200", "--dim", "8", "--chunk", "64"])
    out = capsys.readouterr().out
    (row,) = re.findall(r"^\s+200\s+\S+\s+\S+\s+([\d.]+)x\s+\S+\s+\S+\s+(\S+)$", out, re.M)
    assert float(row[0]) > 0 and float(row[1]) < 1e-5, out


def test_bench_al_selections_equal_the_naive_ones():
    # a subprocess, as users run it: its memory probes pickle functions of the script
    args = ["--sizes", "300", "--budget", "8", "--repeats", "2"]
    script = str(BENCHMARKS / "bench_al.py")
    done = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    rows = re.findall(
        r"^(kcenter|badge)\s+300\s.*\s([\d.]+)x\s+([\d.]+)x\s+(True|False)$", out, re.M
    )
    assert {r[0] for r in rows} == {"kcenter", "badge"} and all(r[3] == "True" for r in rows), out
    ratios = re.findall(r"^(cnn28|mlp)\s+CE step .* ratio\s+([\d.]+)x", out, re.M)
    assert {r[0] for r in ratios} == {"cnn28", "mlp"} and all(float(r[1]) > 1 for r in ratios)


def test_bench_cibr_prints_step_ratios_and_retrieval_agreement(capsys: pytest.CaptureFixture):
    _main("bench_cibr")(
        ["--steps", "1", "--rounds", "1", "--images", "100", "--zeroshot-images", "64"]
    )
    out = capsys.readouterr().out
    ratios = dict(
        re.findall(
            r"^\s+(ClipLoss|CIBR-ceb|CIBR-mine)\s.*ratio to ClipLoss\s+([\d.]+)x$", out, re.M
        )
    )
    assert set(ratios) == {"ClipLoss", "CIBR-ceb", "CIBR-mine"} and float(ratios["ClipLoss"]) == 1.0
    assert re.search(r"^retrieval 500 captions x 100 images: .* agree: True$", out, re.M), out
    assert re.search(r"^zero-shot: encode \+ score 64 images: .* images/s\)$", out, re.M), out

"""The torchrun entry point trains with two gloo processes and keeps the replicas identical."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest


def test_torchrun_two_processes(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed beside this python")
    out = tmp_path / "run"
    cmd = [
        str(torchrun),
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "cibr_lab.cibr.launch",
        "--profile",
        "smoke",
        "--estimator",
        "ceb",
        "--lam",
        "0.5",
        "--steps",
        "2",
        "--out",
        str(out),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CIBR_LAB_DEVICE": "cpu"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert float((out / "replica_spread.txt").read_text()) == 0.0
    history = pd.read_csv(out / "history.csv")
    assert history["step"].tolist() == [2] and history["cibr_loss"].iloc[0] > 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["zs_scenes_shift_scene_shape_acc1"] <= 1.0
    assert (out / "checkpoint.pt").exists()

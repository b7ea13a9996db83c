"""Shared fixtures: every test writes results into its own temporary folder."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _isolated_results(tmp_path, monkeypatch):
    monkeypatch.setenv("CIBR_LAB_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("CIBR_LAB_DEVICE", raising=False)
    torch.set_num_threads(1)

"""What every section gets (device, sizes, whether to forbid syncs) and the helpers they share."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from cibr_lab.gpucheck.sizes import CheckSizes


@dataclass(frozen=True)
class CheckContext:
    """``device`` to check, ``sizes`` of the sections, ``check_sync``: forbid host syncs in
    steady-state loops (CUDA only: the sync debug mode exists only there)."""

    device: torch.device
    sizes: CheckSizes
    check_sync: bool

    @property
    def sync_label(self) -> str:
        """The sync-check column of the table before a section runs."""
        return "on" if self.check_sync else "skipped (no CUDA)"

    def wait(self) -> float:
        """Wait for the device's queued work (outside any checked region); return the time."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()


def scaled_max_diff(got: torch.Tensor, want: torch.Tensor) -> float:
    """``max |got - want| / max(1, max |want|)``: 0 for equal tensors, a relative error else."""
    if got.shape != want.shape:
        raise ValueError(f"shapes differ: {tuple(got.shape)} vs {tuple(want.shape)}")
    got, want = got.detach().double().cpu(), want.detach().double().cpu()
    scale = max(1.0, float(want.abs().max()))
    return float((got - want).abs().max()) / scale


@contextmanager
def exact_float32() -> Iterator[None]:
    """Turn TF32 off for CUDA matmuls and convolutions (so device values can match the CPU's)."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved

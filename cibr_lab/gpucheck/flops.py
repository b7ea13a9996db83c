"""FLOP counting and model FLOP utilisation (MFU) against the device's dense bf16 peak."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.utils.flop_counter import FlopCounterMode

#: Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s from the vendors' data sheets, matched
#: in order as substrings of ``torch.cuda.get_device_name()``; T4 has no bf16 units (fp16 peak).
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("T4", 65.0),
)


def peak_tflops(device_name: str) -> float | None:
    """The bf16 peak of a device by name, or None when the name is not in the table."""
    for key, peak in PEAK_BF16_TFLOPS:
        if key in device_name:
            return peak
    return None


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of ``fn`` (forward and backward if it back-propagates), counted by
    ``torch.utils.flop_counter.FlopCounterMode`` (matmuls, convolutions, attention)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def mfu(flops_per_step: int, steps: int, seconds: float, peak: float | None) -> float | None:
    """Model FLOP utilisation ``flops_per_step * steps / seconds / (peak * 1e12)`` in [0, 1];
    None without a known ``peak`` (TFLOP/s)."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    if peak is None:
        return None
    return flops_per_step * steps / seconds / (peak * 1e12)

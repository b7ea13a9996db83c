"""Benchmark: chunked MMD^2 against a dense reference (time and peak memory), same data.

Run: ``python benchmarks/bench_info.py [--device cuda] [--sizes 2000 8000]``. Prints one row
per size: times, the ratio naive / ours, the memory of the largest intermediate (measured
peak on CUDA; the analytic size of the biggest kernel block on CPU) and the value difference.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch

from cibr_lab.info import median_bandwidths, mmd2
from cibr_lab.runtime import get_device


def dense_mmd2(x: torch.Tensor, y: torch.Tensor, bandwidths: torch.Tensor) -> torch.Tensor:
    """The naive estimator: the full (m+n) x (m+n) kernel matrix at once."""
    z = torch.cat([x, y])
    d2 = torch.cdist(z, z).pow(2)
    k = torch.exp(-d2[..., None] / (2 * bandwidths**2)).sum(-1)
    m, n = len(x), len(y)
    kxx, kyy, kxy = k[:m, :m], k[m:, m:], k[:m, m:]
    return (
        (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
        + (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
        - 2 * kxy.mean()
    )


def _measure(fn, device: torch.device, block_elems: int) -> tuple[float, float, float]:
    """(seconds, MiB of the largest intermediate, value) of one call after a warm-up."""
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    value = float(fn())
    if device.type == "cuda":
        torch.cuda.synchronize()
        mib = torch.cuda.max_memory_allocated() / 2**20
    else:
        mib = block_elems * 4 / 2**20
    return time.perf_counter() - start, mib, value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=1024)
    args = parser.parse_args(argv)
    device = get_device(args.device)
    gen = torch.Generator().manual_seed(0)
    print(f"device={device} dim={args.dim} chunk={args.chunk}")
    header = ("n", "naive s", "ours s", "time x", "naive MiB", "ours MiB", "|diff|")
    print(" ".join(f"{h:>9}" for h in header))
    for n in args.sizes:
        x = torch.randn(n, args.dim, generator=gen).to(device)
        y = (torch.randn(n, args.dim, generator=gen) + 0.1).to(device)
        bw = median_bandwidths(x, y)
        nb = bw.numel()
        naive = partial(dense_mmd2, x, y, bw)
        ours = partial(mmd2, x, y, bw, chunk_size=args.chunk)
        t_naive, m_naive, v_naive = _measure(naive, device, (2 * n) ** 2 * nb)
        t_ours, m_ours, v_ours = _measure(ours, device, min(args.chunk, n) ** 2 * nb)
        row = (
            f"{n}",
            f"{t_naive:.3f}",
            f"{t_ours:.3f}",
            f"{t_naive / t_ours:.2f}x",
            f"{m_naive:.1f}",
            f"{m_ours:.1f}",
            f"{abs(v_naive - v_ours):.2e}",
        )
        print(" ".join(f"{r:>9}" for r in row))


if __name__ == "__main__":
    main()

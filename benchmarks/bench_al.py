"""Active-learning speed: chunked selections vs naive full-distance-matrix ones, and MMD cost.

1. k-center greedy and BADGE k-means++ seeding on random 512-d features at 10k and 100k pool
   points: time and peak memory of ``cibr_lab.al`` vs the naive references (which build the
   ``N x N`` distance matrix), checking that the selections are identical. The naive run is
   skipped when its distance matrix would not fit in half of the available memory.
2. Time of one training step with the MMD^2 term (CE + lambda * MMD^2 on a labelled and an
   unlabelled batch) relative to a plain cross-entropy step.

Peak memory: ``torch.cuda.max_memory_allocated`` on CUDA; on CPU the growth of the peak
resident set of a fresh child process over its state after building the inputs.

Usage: python benchmarks/bench_al.py [--sizes 10000 100000] [--budget 100] [--device cpu]
[--threads 1]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time

import torch

from cibr_lab.al import badge_kmeanspp, kcenter_greedy
from cibr_lab.al.nets import get_net
from cibr_lab.al.reference import naive_badge_kmeanspp, naive_kcenter_greedy
from cibr_lab.al.train import step_loss
from cibr_lab.info import mmd as mmd_module
from cibr_lab.info import mmd2

DIM, CLASSES, N_LABELED = 512, 10, 100


def _inputs(n: int, device: torch.device):
    g = torch.Generator().manual_seed(n)
    feats = torch.randn(n, DIM, generator=g)
    probs = torch.softmax(torch.randn(n, CLASSES, generator=g) * 3, 1)
    mask = torch.zeros(n, dtype=torch.bool)
    mask[torch.randperm(n, generator=g)[:N_LABELED]] = True
    return feats.to(device), probs.to(device), mask.to(device)


def _select(kind: str, impl: str, feats, probs, mask, budget: int):
    if kind == "kcenter":
        fn = kcenter_greedy if impl == "chunked" else naive_kcenter_greedy
        return fn(feats, mask, budget)
    fn = badge_kmeanspp if impl == "chunked" else naive_badge_kmeanspp
    return fn(probs, feats, budget, torch.Generator().manual_seed(0))


def _measure(kind: str, impl: str, n: int, budget: int, device_name: str, threads: int) -> tuple:
    torch.set_num_threads(threads)
    device = torch.device(device_name)
    feats, probs, mask = _inputs(n, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    picked = _select(kind, impl, feats, probs, mask, budget)
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    return time.perf_counter() - start, peak, picked.cpu().tolist()


def _in_child(*args) -> tuple:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(_measure, args)


def _available() -> int:
    """Available host memory in bytes (MemAvailable on Linux, else free pages)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _naive_bytes(kind: str, n: int) -> int:
    extra = n * DIM * CLASSES * 4 if kind == "badge" else 0
    return 2 * n * n * 4 + extra


def bench_selection(sizes: list[int], budget: int, device: str, threads: int) -> None:
    print(f"selection of {budget} points, {DIM}-d features, {N_LABELED} labelled, on {device}")
    print(f"{'method':8s} {'N':>7s} {'chunked s':>10s} {'MiB':>8s} {'naive s':>9s} {'MiB':>8s} "
          f"{'speed-up':>8s} {'mem ratio':>9s} identical")  # fmt: skip
    for kind in ("kcenter", "badge"):
        for n in sizes:
            t_fast, m_fast, fast = _in_child(kind, "chunked", n, budget, device, threads)
            free = torch.cuda.mem_get_info()[0] if device.startswith("cuda") else _available()
            if _naive_bytes(kind, n) > free / 2:
                need = _naive_bytes(kind, n) / 2**30
                print(f"{kind:8s} {n:7d} {t_fast:10.2f} {m_fast / 2**20:8.1f}   naive skipped: "
                      f"needs ~{need:.0f} GiB, {free / 2**30:.0f} GiB available")  # fmt: skip
                continue
            t_naive, m_naive, naive = _in_child(kind, "naive", n, budget, device, threads)
            print(f"{kind:8s} {n:7d} {t_fast:10.2f} {m_fast / 2**20:8.1f} {t_naive:9.2f} "
                  f"{m_naive / 2**20:8.1f} {t_naive / t_fast:8.1f}x "
                  f"{m_naive / max(m_fast, 1):8.1f}x {fast == naive}")  # fmt: skip


def bench_mmd_step(device: torch.device, repeats: int = 20) -> None:
    print(f"\ntraining step cost with the MMD^2 term (labelled batch 32, unlabelled 64), {device}")
    for net_name, shape in (("cnn28", (1, 28, 28)), ("mlp", (64,))):
        torch.manual_seed(0)
        net = get_net(net_name, shape, 10).to(device).train()
        opt = torch.optim.Adam(net.parameters())
        xb, yb = torch.randn(32, *shape, device=device), torch.randint(10, (32,), device=device)
        ub = torch.randn(64, *shape, device=device)
        times = {}
        for label, u, w in (("ce", None, 0.0), ("ce+mmd", ub, 1.0)):
            for i in range(repeats + 3):
                if i == 3:
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    start = time.perf_counter()
                loss = step_loss(net, xb, yb, u, w)
                opt.zero_grad()
                loss.backward()
                opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[label] = (time.perf_counter() - start) / repeats
        with torch.no_grad():
            fl, fu = net.features(xb), net.features(ub)
        fl.requires_grad_(True)
        kernel = {}
        # one pooled kernel matrix (the training case) against the three block sums that
        # large inputs take (forced by switching the pooled path off)
        for path, limit in (("pooled", mmd_module._FUSED_MAX), ("blocks", 0)):
            mmd_module._FUSED_MAX, saved = limit, mmd_module._FUSED_MAX
            start = time.perf_counter()
            for _ in range(repeats):
                mmd2(fl, fu).backward()
            if device.type == "cuda":
                torch.cuda.synchronize()
            kernel[path] = (time.perf_counter() - start) / repeats * 1e3
            mmd_module._FUSED_MAX = saved
        ce, both = times["ce"] * 1e3, times["ce+mmd"] * 1e3
        pooled, blocks = kernel["pooled"], kernel["blocks"]
        print(f"{net_name:6s} CE step {ce:7.2f} ms   CE+MMD step {both:7.2f} ms   "
              f"ratio {both / ce:.2f}x   (MMD^2 alone, fwd+bwd: {pooled:.2f} ms pooled, "
              f"{blocks:.2f} ms in blocks: {blocks / pooled:.2f}x)")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=20, help="timed MMD training steps")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    bench_selection(args.sizes, args.budget, args.device, args.threads)
    bench_mmd_step(torch.device(args.device), args.repeats)


if __name__ == "__main__":
    main()

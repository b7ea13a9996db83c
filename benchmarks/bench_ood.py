"""Speed of the OOD package against the naive ways (prints ratios and differences; not a test).

1. GradNorm: batched closed form vs the per-sample autograd reference (OpenOOD's recipe).
2. KNN: our chunked matrix-product search vs scikit-learn's ``NearestNeighbors`` (brute force).
3. Scoring every method from cached features vs re-running the model for each method.
4. Feature-extraction throughput (images/s) of a small CNN and a ResNet-18.

Usage: python benchmarks/bench_ood.py [--n 10000] [--device cuda] [--threads 1] [--smoke]
(``--smoke``: tiny sizes, seconds on a CPU; tests/ood/test_ood_bench.py runs it).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors
from torchvision.models import resnet18

from cibr_lab.ood import SCORES, get_scorer
from cibr_lab.ood.features import extract
from cibr_lab.ood.models import small_cnn, split_last_linear
from cibr_lab.ood.scores.gradnorm import gradnorm_autograd
from cibr_lab.runtime import get_device

#: sizes per mode: samples for GradNorm (and KNN queries), KNN bank, images per set for the
#: cache test, images for the throughput test
SIZES = {
    "full": {"n": 10_000, "n_bank": 50_000, "n_cached": 2_000, "n_extract": 4_000},
    "smoke": {"n": 64, "n_bank": 500, "n_cached": 64, "n_extract": 32},
}


def _timed(fn: Callable[[], Any], device: torch.device) -> tuple[Any, float]:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - start


def bench_gradnorm(n: int, dim: int, classes: int, device: torch.device) -> None:
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(n, dim, generator=gen).relu().to(device)
    head = torch.nn.Linear(dim, classes).to(device)
    scorer = get_scorer("gradnorm")
    scorer.score(h[:100], head)  # warm-up
    fast, t_fast = _timed(lambda: scorer.score(h, head), device)
    slow, t_slow = _timed(lambda: gradnorm_autograd(h, head).to(device), device)
    rel = ((fast - slow).abs() / slow.abs()).max().item()
    print(
        f"gradnorm  n={n} D={dim} C={classes}: batched {t_fast * 1e3:.1f} ms, "
        f"per-sample autograd {t_slow:.2f} s, speed-up {t_slow / t_fast:.0f}x, "
        f"max relative difference {rel:.1e}"
    )


def bench_knn(n_bank: int, n_query: int, dim: int, k: int, device: torch.device) -> None:
    gen = torch.Generator().manual_seed(1)
    bank = torch.randn(n_bank, dim, generator=gen).relu() + 0.01
    query = torch.randn(n_query, dim, generator=gen).relu() + 0.01
    labels = torch.arange(n_bank) % 2
    head = torch.nn.Linear(dim, 2).to(device)
    scorer = get_scorer("knn", k=k).fit(bank.to(device), labels, head)
    ours, t_ours = _timed(lambda: scorer.score(query.to(device), head).cpu(), device)

    def reference() -> np.ndarray:
        b = bank.double().numpy()
        q = query.double().numpy()
        b /= np.linalg.norm(b, axis=1, keepdims=True)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        dist, _ = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(b).kneighbors(q)
        return -dist[:, -1]

    ref, t_ref = _timed(reference, torch.device("cpu"))
    diff = np.abs(ours.double().numpy() - ref).max()
    print(
        f"knn  bank={n_bank} queries={n_query} D={dim} k={k}: ours {t_ours * 1e3:.1f} ms, "
        f"sklearn NearestNeighbors {t_ref * 1e3:.1f} ms, speed-up {t_ref / t_ours:.1f}x, "
        f"max abs difference {diff:.1e}"
    )


def bench_cached(n: int, device: torch.device) -> None:
    torch.manual_seed(0)
    model = small_cnn(num_classes=10).to(device).eval()
    train, test = torch.rand(n, 1, 28, 28), torch.rand(n, 1, 28, 28)
    labels = torch.arange(n) % 10
    names = [s for s in SCORES if s != "odin"]

    def cached() -> None:
        tr, te = extract(model, train), extract(model, test)
        for name in names:
            scorer = get_scorer(name)
            scorer.fit(tr.features, labels, model.head).score(te.features, model.head)

    def rerun() -> None:
        for name in names:
            tr, te = extract(model, train), extract(model, test)
            scorer = get_scorer(name)
            scorer.fit(tr.features, labels, model.head).score(te.features, model.head)

    _, t_cached = _timed(cached, device)
    _, t_rerun = _timed(rerun, device)
    print(
        f"scoring {len(names)} methods, n={n} train + {n} test: cached features "
        f"{t_cached:.2f} s, re-running the model per method {t_rerun:.2f} s, "
        f"speed-up {t_rerun / t_cached:.1f}x"
    )


def bench_throughput(n: int, device: torch.device) -> None:
    models = {
        "small CNN 1x28x28": (small_cnn(num_classes=10), (1, 28, 28)),
        "ResNet-18 3x32x32": (split_last_linear(resnet18(num_classes=10)), (3, 32, 32)),
    }
    for name, (model, shape) in models.items():
        model = model.to(device).eval()
        x = torch.rand(n, *shape)
        extract(model, x[:256])  # warm-up
        _, t = _timed(lambda model=model, x=x: extract(model, x, batch_size=512), device)
        print(f"extraction {name} on {device}: {n / t:,.0f} images/s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (seconds on a CPU)")
    parser.add_argument("--n", type=int, default=None, help="samples for GradNorm, KNN queries")
    parser.add_argument("--n-bank", type=int, default=None, help="ID bank size for KNN")
    parser.add_argument("--n-cached", type=int, default=None, help="images per set, cache test")
    parser.add_argument("--n-extract", type=int, default=None, help="images, throughput test")
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    sizes = dict(SIZES["smoke" if args.smoke else "full"])
    sizes.update({k: v for k, v in vars(args).items() if k in sizes and v is not None})
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    bench_gradnorm(sizes["n"], 512, 10, device)
    bench_gradnorm(sizes["n"], 2048, 1000, device)
    bench_knn(sizes["n_bank"], sizes["n"], 512, 50, device)
    bench_cached(sizes["n_cached"], device)
    bench_throughput(sizes["n_extract"], device)


if __name__ == "__main__":
    main()

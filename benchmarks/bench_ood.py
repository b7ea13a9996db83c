"""Speed of the OOD package against the naive ways (prints ratios; not a test).

1. GradNorm: batched closed form vs the per-sample autograd reference (OpenOOD's recipe).
2. Scoring every method from cached features vs re-running the model for each method.
3. Feature-extraction throughput (images/s) of a small CNN and a ResNet-18.

Usage: python benchmarks/bench_ood.py [--n 10000] [--device cuda] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch
from torchvision.models import resnet18

from cibr_lab.ood import SCORES, get_scorer
from cibr_lab.ood.features import extract
from cibr_lab.ood.models import small_cnn, split_resnet
from cibr_lab.ood.scores.gradnorm import gradnorm_autograd
from cibr_lab.runtime import get_device


def _timed(fn, device: torch.device):
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
        "ResNet-18 3x32x32": (split_resnet(resnet18(num_classes=10)), (3, 32, 32)),
    }
    for name, (model, shape) in models.items():
        model = model.to(device).eval()
        x = torch.rand(n, *shape)
        extract(model, x[:256])  # warm-up
        _, t = _timed(lambda model=model, x=x: extract(model, x, batch_size=512), device)
        print(f"extraction {name} on {device}: {n / t:,.0f} images/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="samples for GradNorm")
    parser.add_argument("--n-cached", type=int, default=2_000, help="images per set, cache test")
    parser.add_argument("--n-extract", type=int, default=4_000, help="images, throughput test")
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    bench_gradnorm(args.n, 512, 10, device)
    bench_gradnorm(args.n, 2048, 1000, device)
    bench_cached(args.n_cached, device)
    bench_throughput(args.n_extract, device)


if __name__ == "__main__":
    main()

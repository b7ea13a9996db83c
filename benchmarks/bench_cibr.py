"""Benchmark of the CIBR chapter: training-step cost and evaluation throughput.

1. Seconds per training step of the embedded model (cibr-tiny, batch 128, scenes) with
   open_clip's ClipLoss, CIBR-ceb and CIBR-mine; ratios to ClipLoss (target: ceb <= 1.15x).
   The three are interleaved round by round so that machine load affects them alike.
2. Retrieval: chunked recall@k against a dense reference at a size both can hold, then the
   chunked version at 25k captions x 5k images (D = 512), in embeddings per second.
3. Zero-shot: image encoding plus metrics, images per second.

Usage: python benchmarks/bench_cibr.py [--steps 20] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss

from cibr_lab.cibr import CIBRLoss
from cibr_lab.cibr.evaluate import encode_images
from cibr_lab.cibr.model import create_model, get_tokenizer
from cibr_lab.cibr.retrieval import retrieval_recall
from cibr_lab.cibr.scenes import make_scenes
from cibr_lab.cibr.train import CaptionBatches, train_step
from cibr_lab.cibr.zeroshot import zeroshot_metrics


def dense_recall(img, txt, t2i, k):
    """Naive reference: the whole similarity matrix and top-k in one go."""
    sims = txt @ img.T
    i2t = (sims.topk(k, dim=1).indices == t2i[:, None]).any(1).float().mean()
    top = sims.T.topk(k, dim=1).indices
    t2t = (t2i[top] == torch.arange(img.shape[0])[:, None]).any(1).float().mean()
    return float(i2t), float(t2t)


def bench_steps(steps: int, rounds: int) -> None:
    cpu = torch.device("cpu")
    data = make_scenes(2048, seed=0, captions_per_image=2)
    tokens = get_tokenizer("cibr-tiny")(data.captions)
    arms = {
        "ClipLoss": lambda: ClipLoss(),
        "CIBR-ceb": lambda: CIBRLoss(0.5, "ceb", embed_dim=64),
        "CIBR-mine": lambda: CIBRLoss(0.5, "mine", embed_dim=64),
    }
    setups = {}
    for name, make in arms.items():
        torch.manual_seed(0)
        model, loss = create_model("cibr-tiny"), make()
        params = [*model.parameters(), *loss.parameters()]
        opt = torch.optim.AdamW(params, lr=1e-3)
        batches = CaptionBatches(data, tokens, torch.Generator().manual_seed(0))
        setups[name] = (model, loss, opt, batches)
    times = {name: [] for name in arms}

    def step(model, loss, opt, batches):
        images, toks = batches.sample(128)
        opt.zero_grad(set_to_none=True)
        if isinstance(loss, CIBRLoss):
            train_step(model, loss, images, toks, 1, cpu)
        else:
            out = model(images, toks)
            loss(out["image_features"], out["text_features"], out["logit_scale"]).backward()
        opt.step()

    for name in arms:  # warm-up
        for _ in range(3):
            step(*setups[name])
    for _ in range(rounds):
        for name in arms:
            start = time.perf_counter()
            for _ in range(steps):
                step(*setups[name])
            times[name].append((time.perf_counter() - start) / steps)
    base = min(times["ClipLoss"])
    print("training step, cibr-tiny, batch 128 (best of rounds)")
    for name, t in times.items():
        print(
            f"  {name:10s} {1000 * min(t):7.1f} ms/step   ratio to ClipLoss {min(t) / base:5.2f}x"
        )


def bench_retrieval(n_images: int = 2000) -> None:
    gen = torch.Generator().manual_seed(0)
    for n_img, per, dense in ((n_images, 5, True), (5 * n_images // 2, 5, False)):
        img = F.normalize(torch.randn(n_img, 512, generator=gen), dim=-1)
        t2i = torch.arange(n_img).repeat_interleave(per)
        txt = F.normalize(img[t2i] + 2.0 * torch.randn(len(t2i), 512, generator=gen), dim=-1)
        start = time.perf_counter()
        ours = retrieval_recall(img, txt, t2i, ks=(1, 5, 10), chunk_size=1024)
        t_ours = time.perf_counter() - start
        line = f"retrieval {len(t2i)} captions x {n_img} images: chunked {t_ours:6.2f} s "
        line += f"({(n_img + len(t2i)) / t_ours:,.0f} embeddings/s, peak chunk 1024 rows)"
        if dense:
            start = time.perf_counter()
            ref = dense_recall(img, txt, t2i, 5)
            t_ref = time.perf_counter() - start
            same = abs(ref[0] - ours["image_retrieval_recall@5"]) < 1e-6
            same &= abs(ref[1] - ours["text_retrieval_recall@5"]) < 1e-6
            line += (
                f"; dense reference (R@5 only) {t_ref:6.2f} s, speed ratio {t_ref / t_ours:4.2f}x, "
            )
            line += f"agree: {same}"
        print(line)


def bench_zeroshot(n: int = 4096) -> None:
    model = create_model("cibr-tiny").eval()
    data = make_scenes(n, seed=1)
    start = time.perf_counter()
    emb = encode_images(model, data.images, torch.device("cpu"))
    weights = F.normalize(torch.randn(64, 4), dim=0)
    zeroshot_metrics(emb, weights, data.labels)
    t = time.perf_counter() - start
    print(f"zero-shot: encode + score {n} images: {t:5.2f} s ({n / t:,.0f} images/s)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--images", type=int, default=2000, help="retrieval gallery size")
    parser.add_argument("--zeroshot-images", type=int, default=4096)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    bench_steps(args.steps, args.rounds)
    bench_retrieval(args.images)
    bench_zeroshot(args.zeroshot_images)


if __name__ == "__main__":
    main()

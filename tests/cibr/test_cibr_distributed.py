"""Two gloo processes (torchrun) give the single-process loss and gradients of the full batch.

Run as a script by torchrun, each rank computes ``CIBRLoss`` on its half of the batch with
``gather_with_grad=True`` (both ``local_loss`` modes, both estimators), averages the loss terms
and the parameter gradients over ranks (what DDP does), and compares with one process on the
full batch. The pytest test launches it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

N, D_IN, D = 12, 6, 8


def _setup(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x_img, x_txt = torch.randn(N, D_IN, generator=gen), torch.randn(N, D_IN, generator=gen)
    w_img, w_txt = torch.randn(D_IN, D, generator=gen), torch.randn(D_IN, D, generator=gen)
    return x_img, x_txt, w_img, w_txt


def _step(loss_fn, x_img, x_txt, w_img, w_txt):
    """Loss terms and gradients of (w_img, w_txt, logit_scale, estimator parameters)."""
    params = [w_img.clone().requires_grad_(), w_txt.clone().requires_grad_()]
    scale = torch.tensor(4.0, requires_grad=True)
    img = F.normalize(x_img @ params[0], dim=-1)
    txt = F.normalize(x_txt @ params[1], dim=-1)
    torch.manual_seed(123)  # the same noise draw for the batch-level estimator everywhere
    out = loss_fn(img, txt, scale, output_dict=True)
    loss_fn.zero_grad()
    sum(out.values()).backward()
    grads = [params[0].grad, params[1].grad, scale.grad]
    grads += [p.grad if p.grad is not None else torch.zeros_like(p) for p in loss_fn.parameters()]
    return {k: v.detach() for k, v in out.items()}, grads


def _worker(out_path: str) -> None:
    import torch.distributed as dist

    from cibr_lab.cibr import CIBRLoss

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    x_img, x_txt, w_img, w_txt = _setup()
    rows = slice(rank * N // world, (rank + 1) * N // world)
    report = {}
    for estimator in ("ceb", "mine"):
        for local_loss in (True, False):
            kw = {"lam": 0.5, "estimator": estimator, "embed_dim": D}
            torch.manual_seed(0)
            single = CIBRLoss(**kw)
            torch.manual_seed(0)
            multi = CIBRLoss(
                **kw, local_loss=local_loss, gather_with_grad=True, rank=rank, world_size=world
            )
            ref_out, ref_grads = _step(single, x_img, x_txt, w_img, w_txt)
            out, grads = _step(multi, x_img[rows], x_txt[rows], w_img, w_txt)
            loss_err, grad_err = 0.0, 0.0
            for key, value in out.items():
                dist.all_reduce(value)
                loss_err = max(loss_err, float((value / world - ref_out[key]).abs()))
            for g, r in zip(grads, ref_grads, strict=True):
                dist.all_reduce(g)
                grad_err = max(grad_err, float((g / world - r).abs().max()))
            report[f"{estimator}-local{local_loss}"] = {
                "loss_err": loss_err,
                "grad_err": grad_err,
                "ref_grad_norm": float(sum(r.abs().sum() for r in ref_grads)),
                "keys": sorted(out),
            }
    if rank == 0:
        Path(out_path).write_text(json.dumps(report))
    dist.destroy_process_group()


def test_two_processes_match_the_full_batch(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed beside this python")
    out = tmp_path / "report.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", __file__, str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert len(report) == 4
    for name, entry in report.items():
        assert entry["loss_err"] < 1e-5, name
        assert entry["grad_err"] < 1e-5, name
        assert entry["ref_grad_norm"] > 1e-2, name
    assert report["mine-localTrue"]["keys"] == ["cibr_aux_loss", "cibr_loss", "contrastive_loss"]


if __name__ == "__main__":
    _worker(sys.argv[1])

"""CLIP training steps in bf16 autocast with a CIBR penalty: images/s, FLOPs and MFU."""

from __future__ import annotations

from typing import Any

import torch

from cibr_lab.cibr.loss import training_loss
from cibr_lab.cibr.model import create_model
from cibr_lab.cibr.train import train_step
from cibr_lab.gpucheck.context import CheckContext
from cibr_lab.gpucheck.flops import count_flops, mfu, peak_tflops
from cibr_lab.gpucheck.sync import no_host_sync

#: penalty weight and noise scale of the checked loss (values of the CIBR chapter's grid)
LAM, SIGMA = 0.1, 0.25


def device_name(device: torch.device) -> str:
    """``torch.cuda.get_device_name`` on CUDA, else the device type."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type


def clip_step(ctx: CheckContext, estimator: str) -> dict[str, Any]:
    """Time ``clip_steps`` steps (forward, backward, AdamW) of a random-weight open_clip model
    with ``CIBRLoss(estimator)`` on a fixed device batch, after ``clip_warmup`` steps."""
    s, device = ctx.sizes, ctx.device
    torch.manual_seed(0)
    model = create_model(s.clip_model, device=device).train()
    loss_fn = training_loss(model, estimator, LAM, SIGMA).to(device)
    optimizer = torch.optim.AdamW([*model.parameters(), *loss_fn.parameters()], lr=1e-4)
    size = model.visual.image_size
    size = (size, size) if isinstance(size, int) else tuple(size)
    images = torch.randn(s.clip_batch, 3, *size, device=device)
    tokens = torch.randint(1, model.vocab_size, (s.clip_batch, model.context_length), device=device)

    def step() -> dict[str, torch.Tensor]:
        optimizer.zero_grad(set_to_none=True)
        terms = train_step(model, loss_fn, images, tokens, 1, device)
        optimizer.step()
        return terms

    for _ in range(s.clip_warmup):
        step()
    flops = count_flops(step)
    start = ctx.wait()
    with no_host_sync(f"clip_{estimator} training step", ctx.check_sync):
        for _ in range(s.clip_steps):
            terms = step()
    seconds = ctx.wait() - start
    loss = float(sum(terms.values()))
    if not torch.isfinite(torch.tensor(loss)):
        raise FloatingPointError(f"the {estimator} training loss is {loss}")
    peak = peak_tflops(device_name(device))
    utilisation = mfu(flops, s.clip_steps, seconds, peak)
    images_per_s = s.clip_batch * s.clip_steps / seconds
    return {
        "model": s.clip_model,
        "batch": s.clip_batch,
        "autocast": "bf16" if device.type == "cuda" else "off (fp32)",
        "steps": s.clip_steps,
        "seconds": seconds,
        "images_per_s": images_per_s,
        "flops_per_step": flops,
        "tflops_per_s": flops * s.clip_steps / seconds / 1e12,
        "peak_bf16_tflops": peak,
        "mfu": utilisation,
        "loss": loss,
        "summary": f"{images_per_s:.1f} img/s, MFU "
        + ("n/a" if utilisation is None else f"{100 * utilisation:.1f}%"),
    }

"""The implicit-IB toy: linear-Gaussian "CLIP" encoders whose information terms are exact."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F

from cibr_lab.info import linear_encoder_terms
from cibr_lab.runtime import seed_everything


def toy_covariance(
    shared: int, nuisance: int, signal_noise: float, nuisance_scale: float
) -> torch.Tensor:
    """Joint covariance of ``X_v = [S + s e_v, a N_v]`` and ``X_t = [S + s e_t, a N_t]``."""
    d = shared + nuisance
    block = torch.diag(
        torch.cat(
            [
                torch.full((shared,), 1.0 + signal_noise**2),
                torch.full((nuisance,), nuisance_scale**2),
            ]
        )
    )
    cross = torch.zeros(d, d)
    cross[:shared, :shared] = torch.eye(shared)
    return torch.cat([torch.cat([block, cross], 1), torch.cat([cross.T, block], 1)], 0).double()


def implicit_ib(
    lam: float,
    *,
    shared: int,
    nuisance: int,
    embed: int,
    signal_noise: float,
    nuisance_scale: float,
    noise_std: float,
    steps: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    eval_every: int,
    seed: int,
) -> pd.DataFrame:
    """Train linear stochastic encoders with the CLIP loss (+ ``lam`` x CEB penalty).

    The encoders are ``Z_m = W_m X_m + noise_std * xi``; the critic scores the means,
    ``mu_v . mu_t`` (CLIP with temperature 1), and weight decay bounds the capacity. The
    penalty is the CEB bound with identity backward maps and equal variances,
    ``||W_v x_v - W_t x_t||^2 / (2 s^2)``. Returns the exact information terms
    (``linear_encoder_terms``) every ``eval_every`` steps.
    """
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    cov = toy_covariance(shared, nuisance, signal_noise, nuisance_scale)
    chol = torch.linalg.cholesky(cov).float()
    d = shared + nuisance
    w_v = torch.nn.Parameter(torch.randn(embed, d, generator=gen) / math.sqrt(d))
    w_t = torch.nn.Parameter(torch.randn(embed, d, generator=gen) / math.sqrt(d))
    opt = torch.optim.AdamW([w_v, w_t], lr=lr, weight_decay=weight_decay)
    labels = torch.arange(batch_size)
    rows = []
    for step in range(steps + 1):
        if step % eval_every == 0 or step == steps:
            terms = linear_encoder_terms(w_v.detach(), w_t.detach(), cov, noise_std)
            rows.append({"lam": lam, "step": step, **terms})
        if step == steps:
            break
        x = torch.randn(batch_size, 2 * d, generator=gen) @ chol.T
        mu_v, mu_t = x[:, :d] @ w_v.T, x[:, d:] @ w_t.T
        logits = mu_v @ mu_t.T
        loss = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
        if lam:
            loss = loss + lam * (mu_v - mu_t).pow(2).sum(1).mean() / (2 * noise_std**2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return pd.DataFrame(rows)


def implicit_ib_metrics(traces: pd.DataFrame, lam: float) -> dict[str, float]:
    """Per-seed scalars of the implicit-IB run: start, end and change of each term."""
    clip = traces[traces["lam"] == 0].sort_values("step")
    cibr = traces[traces["lam"] == lam].sort_values("step")
    first, last, last_cibr = clip.iloc[0], clip.iloc[-1], cibr.iloc[-1]
    return {
        "relevance_init": first["relevance"],
        "redundancy_init": first["redundancy"],
        "relevance_final_clip": last["relevance"],
        "redundancy_final_clip": last["redundancy"],
        "relevance_gain_clip": last["relevance"] - first["relevance"],
        "redundancy_change_clip": last["redundancy"] - first["redundancy"],
        "redundancy_share_init": first["redundancy"] / first["compression"],
        "redundancy_share_clip": last["redundancy"] / last["compression"],
        "relevance_final_cibr": last_cibr["relevance"],
        "redundancy_final_cibr": last_cibr["redundancy"],
        "redundancy_share_cibr": last_cibr["redundancy"] / last_cibr["compression"],
    }


def implicit_ib_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`implicit_ib` taken from a theory profile section."""
    keys = (
        "shared",
        "nuisance",
        "embed",
        "signal_noise",
        "nuisance_scale",
        "noise_std",
        "steps",
        "batch_size",
        "lr",
        "weight_decay",
        "eval_every",
    )
    return {k: cfg[f"ib_{k}"] for k in keys}

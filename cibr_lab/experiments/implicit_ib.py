"""The implicit-IB toy: linear-Gaussian "CLIP" encoders whose information terms are exact.

Several training arms run in one batched loop on the same batches from the same initial
weights (a paired design): CLIP with and without weight decay, weight decay alone (the
control that separates what the contrastive objective discards from what weight decay
discards), and CLIP plus the CEB penalty over a sweep of ``lambda``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F

from cibr_lab.errors import ConfigError
from cibr_lab.info import ceb_bound, ceb_bound_gap, linear_encoder_terms
from cibr_lab.runtime import seed_everything

TERMS = ("relevance", "redundancy", "ceb_bound", "ceb_gap")


@dataclass(frozen=True)
class Arm:
    """One training arm: ``contrastive x CLIP + lam x CEB penalty``, decoupled weight decay."""

    name: str
    lam: float = 0.0
    weight_decay: float = 0.0
    contrastive: bool = True


def ib_arms(cfg: Mapping[str, Any]) -> list[Arm]:
    """The arms of a theory profile section: ``clip``, ``clip_no_wd``, ``wd_only`` and one
    ``ceb-<lam>`` per ``ib_lams`` (with CLIP's weight decay); ``ib_lam`` must be among them."""
    lams, wd = list(cfg["ib_lams"]), cfg["ib_weight_decay"]
    if cfg["ib_lam"] not in lams:
        raise ConfigError(f"theory.ib_lam ({cfg['ib_lam']}) must be one of theory.ib_lams {lams}")
    return [
        Arm("clip", weight_decay=wd),
        Arm("clip_no_wd"),
        Arm("wd_only", weight_decay=wd, contrastive=False),
        *(Arm(arm_name(lam), lam=lam, weight_decay=wd) for lam in lams),
    ]


def arm_name(lam: float) -> str:
    """The name of the CEB arm with weight ``lam`` (``ceb-0.3``), as the palette knows it."""
    return f"ceb-{lam:g}"


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


def _exact_terms(w_v: torch.Tensor, w_t: torch.Tensor, cov: torch.Tensor, s: float) -> dict:
    terms = linear_encoder_terms(w_v, w_t, cov, s)
    return {
        **terms,
        "ceb_bound": ceb_bound(w_v, w_t, cov, s),
        "ceb_gap": ceb_bound_gap(w_v, w_t, cov, s),
    }


def implicit_ib(
    arms: Sequence[Arm],
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
    eval_every: int,
    seed: int,
) -> pd.DataFrame:
    """Train linear stochastic encoders, one pair per arm, in one batched loop.

    The encoders are ``Z_m = W_m X_m + noise_std * xi``; the critic scores the means,
    ``mu_v . mu_t`` (CLIP with temperature 1). An arm's loss is ``CLIP`` (if contrastive) plus
    ``lam`` times the CEB bound with identity backward maps and equal variances,
    ``||W_v x_v - W_t x_t||^2 / (2 s^2)``; Adam with decoupled weight decay (AdamW's rule,
    ``w <- (1 - lr wd) w`` before each step). Every arm sees the same batches and starts from
    the same weights. Returns, every ``eval_every`` steps and per arm, the exact information
    terms (:func:`~cibr_lab.info.linear_encoder_terms`), the CEB bound and its gap over the
    exact redundancy, in nats.
    """
    if not arms:
        raise ValueError("implicit_ib needs at least one arm")
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    cov = toy_covariance(shared, nuisance, signal_noise, nuisance_scale)
    chol = torch.linalg.cholesky(cov).float()
    d, k = shared + nuisance, len(arms)
    init_v = torch.randn(embed, d, generator=gen) / math.sqrt(d)
    init_t = torch.randn(embed, d, generator=gen) / math.sqrt(d)
    w_v = torch.nn.Parameter(init_v.expand(k, -1, -1).clone())
    w_t = torch.nn.Parameter(init_t.expand(k, -1, -1).clone())
    opt = torch.optim.Adam([w_v, w_t], lr=lr)
    lam = torch.tensor([a.lam for a in arms])
    contrastive = torch.tensor([float(a.contrastive) for a in arms])
    decay = (1.0 - lr * torch.tensor([a.weight_decay for a in arms]))[:, None, None]
    labels = torch.arange(batch_size).repeat(k)
    rows = []
    for step in range(steps + 1):
        if step % eval_every == 0 or step == steps:
            for i, arm in enumerate(arms):
                terms = _exact_terms(w_v[i].detach(), w_t[i].detach(), cov, noise_std)
                rows.append({"arm": arm.name, "lam": arm.lam, "step": step, **terms})
        if step == steps:
            break
        x = torch.randn(batch_size, 2 * d, generator=gen) @ chol.T
        mu_v = torch.einsum("bd,kpd->kbp", x[:, :d], w_v)
        mu_t = torch.einsum("bd,kpd->kbp", x[:, d:], w_t)
        logits = mu_v @ mu_t.transpose(1, 2)  # [k, B, B]
        rows_ce = F.cross_entropy(logits.flatten(0, 1), labels, reduction="none")
        cols_ce = F.cross_entropy(logits.transpose(1, 2).flatten(0, 1), labels, reduction="none")
        clip = 0.5 * (rows_ce + cols_ce).view(k, batch_size).mean(1)
        penalty = (mu_v - mu_t).pow(2).sum(-1).mean(1) / (2 * noise_std**2)
        loss = (contrastive * clip + lam * penalty).sum()  # arms share no parameter
        opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            w_v.mul_(decay)
            w_t.mul_(decay)
        opt.step()
    return pd.DataFrame(rows)


def implicit_ib_metrics(traces: pd.DataFrame) -> dict[str, float]:
    """Per-seed scalars: the shared initial terms, and per arm the final terms, the change of
    relevance and redundancy, and the smallest excess of the CEB bound over the exact
    redundancy during training (nats; the bound holds when it is >= 0)."""
    traces = traces.sort_values("step")
    first = traces[traces["step"] == traces["step"].min()].iloc[0]
    out = {"relevance_init": first["relevance"], "redundancy_init": first["redundancy"]}
    for name, arm in traces.groupby("arm", sort=False):
        last = arm.iloc[-1]
        out.update({f"{term}_final_{name}": last[term] for term in TERMS})
        out[f"relevance_change_{name}"] = last["relevance"] - first["relevance"]
        out[f"redundancy_change_{name}"] = last["redundancy"] - first["redundancy"]
        out[f"ceb_excess_min_{name}"] = (arm["ceb_bound"] - arm["redundancy"]).min()
    return {k: float(v) for k, v in out.items()}


def implicit_ib_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
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
        "eval_every",
    )
    return {k: cfg[f"ib_{k}"] for k in keys}

"""Experiments of the theory chapter: MI bounds on Gaussians, the chain rule, implicit IB.

Each function is pure given its arguments and a seed; :func:`run` executes the whole chapter
for a profile and writes one record per experiment and seed. The implicit-IB toy lives in
:mod:`cibr_lab.experiments.implicit_ib`, the CEB-as-InfoNCE identity in
:mod:`cibr_lab.experiments.ceb_infonce`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import pandas as pd
import torch
from tqdm.auto import tqdm

from cibr_lab.experiments.implicit_ib import (
    ib_arms,
    implicit_ib,
    implicit_ib_config,
    implicit_ib_metrics,
)
from cibr_lab.info import (
    conditional_mutual_information,
    gaussian_log_ratio,
    gaussian_pair_log_ratio,
    get_objective,
    infonce,
    infonce_floor,
    mutual_information,
    rho_for_mi,
    sample_correlated,
)
from cibr_lab.info.critics import SeparableCritic, fit_critic
from cibr_lab.results import write_record
from cibr_lab.runtime import WHOLE, Profile, Shard, torch_threads

CHAPTER = "theory"


def infonce_ceiling(
    batch_sizes: Sequence[int], mi_levels: Sequence[float], dim: int, trials: int, seed: int
) -> pd.DataFrame:
    """InfoNCE with the optimal critic on correlated Gaussians, one row per trial.

    With the true log density ratio as critic the only gap left is the bound itself, so the
    estimate shows the ``min(I, log N)`` ceiling directly. Trials are one batched call.
    """
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for n in batch_sizes:
        for mi in mi_levels:
            rho = rho_for_mi(mi, dim)
            rhos = torch.full((trials,), rho)
            x, y = sample_correlated(n, dim, rhos, gen)
            estimates = infonce(gaussian_log_ratio(x, y, rho)).tolist()
            rows += [
                {"batch_size": n, "true_mi": mi, "trial": t, "estimate": e}
                for t, e in enumerate(estimates)
            ]
    return pd.DataFrame(rows)


def infonce_floors(
    batch_sizes: Sequence[int],
    mi_levels: Sequence[float],
    dim: int,
    samples: int,
    seed: int,
    chunks: int = 20,
) -> pd.DataFrame:
    """The Jensen floor of the optimal-critic InfoNCE (:func:`~cibr_lab.info.infonce_floor`)
    per batch size and MI level, with its Monte-Carlo standard error over ``chunks`` chunks
    of the ``samples`` joint draws. Columns ``batch_size, true_mi, floor, floor_se`` (nats)."""
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for mi in mi_levels:
        rho = rho_for_mi(mi, dim)
        x, y = sample_correlated(samples // chunks * chunks, dim, rho, gen)
        log_r = gaussian_pair_log_ratio(x.double(), y.double(), rho).view(chunks, -1)
        for n in batch_sizes:
            per_chunk = infonce_floor(log_r, n)
            rows.append(
                {
                    "batch_size": n,
                    "true_mi": mi,
                    "floor": float(per_chunk.mean()),
                    "floor_se": float(per_chunk.std() / math.sqrt(chunks)),
                }
            )
    return pd.DataFrame(rows)


def infonce_sandwich(ceiling: pd.DataFrame, floors: pd.DataFrame) -> pd.DataFrame:
    """Per (batch size, MI level): the mean optimal-critic estimate and its standard error
    over the trials of ``ceiling``, the floor below it and ``upper = min(I, log N)`` above it.

    ``z_upper = (mean - upper) / se`` and ``z_lower = (floor - mean) / sqrt(se^2 +
    floor_se^2)``: both are negative when the mean lies inside, and a value above about 3
    says the sandwich is violated (by the estimator or by the derivation).
    """
    cells = (
        ceiling.groupby(["batch_size", "true_mi"])["estimate"]
        .agg(mean="mean", se=lambda e: e.std() / math.sqrt(len(e)))
        .reset_index()
        .merge(floors, on=["batch_size", "true_mi"], validate="one_to_one")
    )
    cells["upper"] = [min(mi, math.log(n)) for n, mi in zip(cells["batch_size"], cells["true_mi"])]
    cells["z_upper"] = (cells["mean"] - cells["upper"]) / cells["se"]
    spread = (cells["se"] ** 2 + cells["floor_se"] ** 2) ** 0.5
    cells["z_lower"] = (cells["floor"] - cells["mean"]) / spread
    return cells


def trained_bounds(
    estimators: Sequence[str],
    mi_levels: Sequence[float],
    dim: int,
    steps: int,
    batch_size: int,
    eval_batches: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train one separable critic per (estimator, MI level), all groups in one batched network.

    Returns (evaluations, traces): one row per fresh evaluation batch after training, and the
    training-time estimate per step.
    """
    groups = [(name, mi) for name in estimators for mi in mi_levels]
    rhos = torch.tensor([rho_for_mi(mi, dim) for _, mi in groups])
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    critic = SeparableCritic(dim, dim, groups=len(groups))
    sample = lambda n: sample_correlated(n, dim, rhos, gen)
    trace = fit_critic(critic, [get_objective(n) for n, _ in groups], sample, steps, batch_size)
    with torch.no_grad():
        scores = torch.stack([critic(*sample(batch_size)) for _ in range(eval_batches)], 1)
    evals, traces = [], []
    for k, (name, mi) in enumerate(groups):
        estimates, _ = get_objective(name)(scores[k])
        evals += [
            {"estimator": name, "true_mi": mi, "batch": b, "estimate": float(e)}
            for b, e in enumerate(estimates)
        ]
        traces.append(
            pd.DataFrame(
                {"estimator": name, "true_mi": mi, "step": range(steps), "estimate": trace[:, k]}
            )
        )
    return pd.DataFrame(evals), pd.concat(traces, ignore_index=True)


def chain_rule_example(flip: float = 0.1) -> pd.DataFrame:
    """Exact IB terms for three encoders of a two-bit image ``X_v = (S, A)``.

    ``X_t = (S', B)`` with ``S'`` a copy of ``S`` flipped with probability ``flip``; ``A`` and
    ``B`` are private fair bits. Encoders: keep only ``S``, keep everything, keep only ``A``,
    keep nothing (a constant).
    Returns one row per encoder with ``I(X_v;Z)``, ``I(Z;X_t)``, ``I(Z;X_v|X_t)`` and the
    chain-rule residual.
    """
    p_s = torch.tensor([0.5, 0.5], dtype=torch.float64)
    p_flip = torch.tensor([[1 - flip, flip], [flip, 1 - flip]], dtype=torch.float64)
    half = torch.full((2,), 0.5, dtype=torch.float64)
    # p[s, a, s', b] -> joint of X_v = 2s + a and X_t = 2s' + b
    p = torch.einsum("s,a,st,b->satb", p_s, half, p_flip, half).reshape(4, 4)
    encoders = {
        "keep shared S": lambda xv: xv // 2,
        "keep all (S, A)": lambda xv: xv,
        "keep private A": lambda xv: xv % 2,
        "constant": lambda xv: 0,
    }
    rows = []
    for name, f in encoders.items():
        q = torch.zeros(4, 4, dtype=torch.float64)  # deterministic channel q[z | x_v]
        q[torch.arange(4), torch.tensor([f(x) for x in range(4)])] = 1.0
        p_zvt = torch.einsum("vt,vz->zvt", p, q)  # p[z, x_v, x_t]
        i_xz = mutual_information(p_zvt.sum(2))
        i_zt = mutual_information(p_zvt.sum(1))
        i_zv_given_t = conditional_mutual_information(p_zvt)
        rows.append(
            {
                "encoder": name,
                "I(X_v;Z_v)": float(i_xz),
                "I(Z_v;X_t)": float(i_zt),
                "I(Z_v;X_v|X_t)": float(i_zv_given_t),
                "residual": float(i_xz - i_zt - i_zv_given_t),
            }
        )
    return pd.DataFrame(rows)


def run(profile: Profile, shard: Shard = WHOLE) -> dict[str, pd.DataFrame]:
    """Run every theory experiment for every seed of ``profile`` (``shard``: this slice of the
    seeds); write records; return tables (``floors`` is seed-free: one fixed draw).

    The bounds experiments run over the profile's seeds; the implicit-IB toy, cheap and the
    basis of the chapter's claims, over the section's own ``ib_seeds``. Runs with ``threads``
    torch threads (these small problems are slower with more on a shared
    machine) and restores the caller's setting afterwards.
    """
    cfg = profile.section(CHAPTER)
    with torch_threads(cfg["threads"]):
        return _run(profile, shard, cfg)


def _run(profile: Profile, shard: Shard, cfg: dict) -> dict[str, pd.DataFrame]:
    ib_kwargs, arms = implicit_ib_config(cfg), ib_arms(cfg)
    floors = infonce_floors(
        cfg["batch_sizes"], cfg["mi_levels"], cfg["dim"], cfg["floor_samples"], seed=10_000
    )
    tables: dict[str, list[pd.DataFrame]] = {"ceiling": [], "bounds": [], "traces": [], "ib": []}
    for seed in tqdm(shard.take(profile.seeds), desc="theory seeds"):
        start = time.perf_counter()
        ceiling = infonce_ceiling(
            cfg["batch_sizes"], cfg["mi_levels"], cfg["dim"], cfg["trials"], seed
        )
        cells = infonce_sandwich(ceiling, floors)
        ceiling_metrics = {
            "sandwich_max_z": float(cells[["z_upper", "z_lower"]].max().max()),
            "sandwich_max_width": float((cells["upper"] - cells["floor"]).max()),
        }
        _record("infonce_ceiling", profile, seed, cfg, ceiling_metrics, start)

        start = time.perf_counter()
        evals, traces = trained_bounds(
            cfg["estimators"],
            cfg["critic_mi_levels"],
            cfg["dim"],
            cfg["critic_steps"],
            cfg["critic_batch"],
            cfg["eval_batches"],
            seed,
        )
        grouped = evals.groupby(["estimator", "true_mi"])["estimate"]
        bound_metrics = {
            f"{name}_mi{mi:g}_{stat}": value
            for (name, mi), mean, std in zip(grouped.mean().index, grouped.mean(), grouped.std())
            for stat, value in (("bias", mean - mi), ("std", std))
        }
        _record("trained_bounds", profile, seed, cfg, bound_metrics, start)
        for key, df in (("ceiling", ceiling), ("bounds", evals), ("traces", traces)):
            tables[key].append(df.assign(seed=seed))

    for seed in tqdm(shard.take(cfg["ib_seeds"]), desc="implicit-IB seeds"):
        start = time.perf_counter()
        ib = implicit_ib(arms, seed=seed, **ib_kwargs)
        _record("implicit_ib", profile, seed, cfg, implicit_ib_metrics(ib), start)
        tables["ib"].append(ib.assign(seed=seed))
    out = {k: pd.concat(v, ignore_index=True) for k, v in tables.items()}
    return {**out, "floors": floors}


def _record(name: str, profile: Profile, seed: int, cfg: dict, metrics: dict, start: float) -> None:
    write_record(
        CHAPTER,
        name,
        profile=profile.label,
        seed=seed,
        config=cfg,
        metrics=metrics,
        wall_time_s=time.perf_counter() - start,
    )

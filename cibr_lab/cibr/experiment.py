"""The chapter's experiment: CLIP (lambda = 0) against CIBR-ceb and CIBR-mine, paired per seed.

Lambda is chosen per estimator on validation seeds (disjoint from the test seeds); the test
seeds then run CLIP and each estimator at its chosen lambda. For every seed the data and the
initial weights are shared by all methods (a paired design); each (method, seed) run is a
record (``cached_run``: an interrupted sweep resumes), with its learning curve beside it as
CSV. A ``compare`` record per test seed holds the metrics of CLIP and of each chosen arm under
``<method>/<metric>`` names, which the claims in ``configs/claims/cibr.yaml`` difference per
seed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike

from cibr_lab.cibr.captioned import TEXT_NUISANCE, head
from cibr_lab.cibr.evaluate import evaluate_suite
from cibr_lab.cibr.loss import training_loss
from cibr_lab.cibr.model import create_model, get_tokenizer
from cibr_lab.cibr.scenes import IMAGE_NUISANCE
from cibr_lab.cibr.suite import CURVE, PROBES, build_data, evaluate_embedded
from cibr_lab.cibr.train import CaptionBatches, TrainConfig, train
from cibr_lab.errors import ConfigError
from cibr_lab.results import cached_run, find_record, load_records, write_record
from cibr_lab.runtime import WHOLE, Profile, Shard, get_device, results_dir

CHAPTER = "cibr"
_TRAIN_KEYS = ("steps", "batch_size", "accum", "lr", "weight_decay", "warmup", "log_every")


#: The last fraction of the steps over which a run must be flat to count as a plateau.
PLATEAU_WINDOW = 0.2
#: A run is on a plateau when its curve moves by at most this much over that window: one
#: accuracy point, the smallest zero-shot effect the chapter's power analysis aims at.
PLATEAU_GAIN = 0.01


def plateau_window(steps: ArrayLike, total: int) -> np.ndarray:
    """Which of the evaluation ``steps`` fall in the last :data:`PLATEAU_WINDOW` of ``total``."""
    return np.asarray(steps, dtype=float) >= (1 - PLATEAU_WINDOW) * total


def late_gain(steps: ArrayLike, values: ArrayLike, total: int) -> float:
    """How much a learning curve still rises over its last :data:`PLATEAU_WINDOW` of ``total``
    steps: the least-squares slope through the evaluations in that window times the window's
    length in steps. For three evenly spaced evaluations that is the difference of the window's
    ends; more of them average out more noise. Fewer than two are a ``ValueError``."""
    x, y = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"{x.size} steps for {y.size} values")
    inside = plateau_window(x, total)
    if inside.sum() < 2:
        raise ValueError(
            f"the last {PLATEAU_WINDOW:.0%} of {total} steps hold {int(inside.sum())} "
            "evaluations; the late gain needs two"
        )
    slope = np.polyfit(x[inside], y[inside], 1)[0]
    return float(slope * PLATEAU_WINDOW * total)


@dataclass(frozen=True)
class Method:
    """One arm of the comparison: an estimator and its weight (lam = 0 is CLIP);
    ``fine_tune=False`` is the untouched pretrained model (full profile)."""

    estimator: str
    lam: float
    fine_tune: bool = True

    @property
    def label(self) -> str:
        if not self.fine_tune:
            return "pretrained"
        return "clip" if self.lam == 0 else f"{self.estimator}-{self.lam:g}"


def methods(cfg: Mapping[str, Any]) -> list[Method]:
    """The untouched model (when ``cfg["pretrained"]``), CLIP, then every (estimator, lambda)
    of ``cfg["lams"]``."""
    arms = [Method("ceb", 0.0, fine_tune=False)] if cfg["pretrained"] else []
    arms += [Method("ceb", 0.0)]
    arms += [Method(est, float(lam)) for est, lams in cfg["lams"].items() for lam in lams]
    return arms


@lru_cache(maxsize=2)  # jobs run seed by seed: keep the current seed's data
def _data(cfg_items: tuple, seed: int):
    return build_data(dict(cfg_items), seed)


def curves_path(profile: str, label: str, seed: int) -> Path:
    """Where the learning curve of one run is stored (CSV)."""
    return results_dir() / profile / CHAPTER / "curves" / f"{label}-seed{seed}.csv"


def train_and_evaluate(
    cfg: Mapping[str, Any], method: Method, seed: int, device: torch.device, profile: str
) -> dict[str, float]:
    """Train one model and return its metrics; writes its learning curve as CSV."""
    train_set, suite = _data(tuple(sorted((k, _hashable(v)) for k, v in cfg.items())), seed)
    tokenizer = get_tokenizer(cfg["model"])
    torch.manual_seed(seed)
    model = create_model(cfg["model"], cfg["pretrained"], device)
    loss_fn = training_loss(model, method.estimator, method.lam, cfg["sigma"])
    batches = CaptionBatches(
        train_set, tokenizer(train_set.captions), torch.Generator().manual_seed(seed)
    )
    config = TrainConfig(**{k: cfg[k] for k in _TRAIN_KEYS})
    curve_suite = {s: head(suite[s], cfg["curve_n"]) for s in {s for s, _, _ in CURVE}}

    def quick(model, step):
        m = evaluate_suite(model, tokenizer, curve_suite, CURVE, (), (), device, seed)
        return {"curve_zs_acc1": float(np.mean([v for k, v in m.items() if k.endswith("_acc1")]))}

    history = train(model, loss_fn, batches, config, device, None, quick, cfg["eval_every"])
    metrics = evaluate_embedded(model, tokenizer, suite, cfg, device, seed)
    curve = pd.DataFrame(history)
    path = curves_path(profile, method.label, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    curve.to_csv(path, index=False)
    evals = curve[curve["kind"] == "eval"]
    trains = curve[curve["kind"] == "train"]
    metrics["curve_auc_zs_acc1"] = float(evals["curve_zs_acc1"].mean())
    metrics["curve_late_gain"] = late_gain(evals["step"], evals["curve_zs_acc1"], cfg["steps"])
    metrics["s_per_step"] = float(
        trains["s_per_step"].iloc[1:].mean() if len(trains) > 1 else trains["s_per_step"].mean()
    )
    metrics["final_contrastive_loss"] = float(trains["contrastive_loss"].iloc[-1])
    return metrics | summary_metrics(metrics)


def summary_metrics(m: Mapping[str, float]) -> dict[str, float]:
    """Means over tasks: zero-shot acc1, retrieval R@1 (both ways), and the nuisance probes'
    accuracy above chance (``probe_<image|text>_nuisance``, mean over each modality's factors)."""
    zs = [v for k, v in m.items() if k.startswith("zs_") and k.endswith("_acc1")]
    ret = [v for k, v in m.items() if k.startswith("ret_") and k.endswith("recall@1")]
    out = {"zs_mean_acc1": float(np.mean(zs)), "ret_mean_recall@1": float(np.mean(ret))}
    for side, factors in (("image", IMAGE_NUISANCE), ("text", TEXT_NUISANCE)):
        keys = [f"probe_{PROBES[0]}_{side}_{f}" for f in factors]
        out[f"probe_{side}_nuisance"] = float(np.mean([m[k] - m[f"{k}_chance"] for k in keys]))
    return out


def _hashable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    return v


def _full(cfg: Mapping[str, Any], method: Method, seed: int, device: torch.device, profile: str):
    from cibr_lab.cibr.full_run import train_and_evaluate_full

    return train_and_evaluate_full(
        cfg, method.estimator, method.lam, method.fine_tune, seed, device
    )


#: How each data source trains and evaluates one arm.
RUNNERS = {"embedded": train_and_evaluate, "coco": _full}


def job_config(cfg: Mapping[str, Any], method: Method) -> dict[str, Any]:
    """The configuration that keys one arm's record."""
    return {**cfg, "estimator": method.estimator, "lam": method.lam, "method": method.label}


def _job(profile: Profile, method: Method, seed: int, device: str | None) -> dict[str, Any]:
    cfg = profile.section(CHAPTER)
    if cfg["data"] not in RUNNERS:
        raise ConfigError(
            f"unknown data source {cfg['data']!r}; valid sources: {', '.join(RUNNERS)}"
        )
    torch.set_num_threads(cfg["threads"])
    config = job_config(cfg, method)
    runner = RUNNERS[cfg["data"]]
    return cached_run(
        CHAPTER,
        method.label,
        profile=profile.label,
        seed=seed,
        config=config,
        run=lambda: runner(cfg, method, seed, get_device(device), profile.label),
        timer=time.perf_counter,
    )


def check_seeds(cfg: Mapping[str, Any]) -> None:
    """Refuse validation seeds that are also test seeds (lambda must be chosen on unseen data)."""
    shared = sorted(set(cfg["validation_seeds"]) & set(cfg["test_seeds"]))
    if shared:
        raise ConfigError(
            f"cibr.validation_seeds and cibr.test_seeds must be disjoint; both hold {shared}"
        )
    if not cfg["validation_seeds"]:
        raise ConfigError("cibr.validation_seeds is empty: lambda needs validation runs")


def check_curve(cfg: Mapping[str, Any]) -> None:
    """Refuse an embedded schedule whose last :data:`PLATEAU_WINDOW` of the steps holds fewer
    than two evaluations (training evaluates every ``eval_every`` steps and at the end; the
    coco runner keeps no learning curve)."""
    if cfg["data"] != "embedded":
        return
    limit = int(PLATEAU_WINDOW * cfg["steps"])
    if not 1 <= cfg["eval_every"] <= limit:
        raise ConfigError(
            f"cibr.eval_every must be between 1 and {limit} ({PLATEAU_WINDOW:.0%} of the "
            f"{cfg['steps']} steps, so that window holds two evaluations for the plateau "
            f"check), got {cfg['eval_every']}"
        )


def validation_grid(cfg: Mapping[str, Any]) -> list[tuple[Method, int]]:
    """Every (estimator, lambda) of ``cfg["lams"]`` on every validation seed; an estimator with
    a single lambda has nothing to choose and no validation runs."""
    return [
        (Method(est, float(lam)), seed)
        for seed in cfg["validation_seeds"]
        for est, lams in cfg["lams"].items()
        if len(lams) > 1
        for lam in lams
    ]


def select_lambdas(
    records: Sequence[Mapping[str, Any]], cfg: Mapping[str, Any]
) -> dict[str, float]:
    """Each estimator's lambda with the highest mean ``cfg["select_metric"]`` over the
    validation seeds (ties: the smallest lambda); a single lambda is chosen as it is.

    ``records`` are run records (``experiment``, ``seed``, ``metrics``); records of any other
    seed, test seeds included, are ignored. A missing validation run is a ``ValueError``.
    """
    key, seeds = cfg["select_metric"], set(cfg["validation_seeds"])
    scores: dict[tuple[str, int], float] = {
        (r["experiment"], int(r["seed"])): float(r["metrics"][key])
        for r in records
        if int(r["seed"]) in seeds
    }
    chosen = {}
    for est, lams in cfg["lams"].items():
        if len(lams) == 1:
            chosen[est] = float(lams[0])
            continue
        means = {}
        for lam in sorted(float(v) for v in lams):
            label = Method(est, lam).label
            missing = sorted(s for s in seeds if (label, s) not in scores)
            if missing:
                raise ValueError(f"no validation record of {label} for seeds {missing}")
            means[lam] = float(np.mean([scores[(label, s)] for s in seeds]))
        best = max(means.values())
        chosen[est] = min(lam for lam, v in means.items() if v == best)
    return chosen


def chosen_arms(cfg: Mapping[str, Any], chosen: Mapping[str, float]) -> list[Method]:
    """The arms run on the test seeds: the untouched model (full profile), CLIP and each
    estimator at its chosen lambda."""
    arms = [m for m in methods(cfg) if m.lam == 0]
    return arms + [Method(est, float(lam)) for est, lam in chosen.items()]


def write_comparison(
    profile: Profile, seed: int, chosen: Mapping[str, float], runs: Mapping[str, Mapping]
) -> None:
    """The per-seed ``compare`` record: CLIP's and each chosen arm's metrics, prefixed by
    ``clip/`` or the estimator name, plus ``<estimator>/lam`` (the chosen lambda).

    ``runs`` maps a method label to this seed's record of that method."""
    arms = {"clip": "clip", **{est: Method(est, lam).label for est, lam in chosen.items()}}
    metrics = {f"{est}/lam": float(lam) for est, lam in chosen.items()}
    for name, label in arms.items():
        metrics |= {f"{name}/{k}": v for k, v in runs[label]["metrics"].items()}
    for name in arms:
        metrics[f"{name}/step_cost_ratio"] = (
            metrics[f"{name}/s_per_step"] / metrics["clip/s_per_step"]
        )
    write_record(
        CHAPTER,
        "compare",
        profile=profile.label,
        seed=seed,
        config={"arms": arms, "runs": sorted(r["config_hash"] for r in runs.values())},
        metrics=metrics,
        wall_time_s=0.0,
    )


def _find(profile: Profile, method: Method, seed: int) -> dict[str, Any] | None:
    cfg = profile.section(CHAPTER)
    return find_record(
        CHAPTER, method.label, profile=profile.label, seed=seed, config=job_config(cfg, method)
    )


def _run_jobs(
    profile: Profile, jobs: Sequence[tuple[Method, int]], device: str | None, workers: int
) -> None:
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            args = zip(*[(profile, m, s, device) for m, s in jobs], strict=True)
            list(pool.map(_job, *args))
    else:
        for m, s in jobs:
            _job(profile, m, s, device)


def _curves(profile: Profile, grid: Sequence[tuple[Method, int]]) -> pd.DataFrame:
    paths = [(curves_path(profile.label, m.label, s), m.label, s) for m, s in grid]
    return pd.concat(
        [pd.read_csv(p).assign(method=label, seed=s) for p, label, s in paths if p.exists()]
        or [pd.DataFrame(columns=["step", "kind", "method", "seed"])],
        ignore_index=True,
    )


def run(profile: Profile, device: str | None = None, shard: Shard = WHOLE) -> dict[str, Any]:
    """Choose lambda on the validation seeds, then run CLIP and the chosen arms on the test
    seeds (``shard``: this slice of each phase's method x seed grid); return tidy tables.

    Phase 1 trains every (estimator, lambda) of ``cfg["lams"]`` on ``cfg["validation_seeds"]``;
    :func:`select_lambdas` picks each estimator's lambda from those records alone. Phase 2
    trains :func:`chosen_arms` on ``cfg["test_seeds"]`` and writes each seed's ``compare``
    record once all its arms are done. A shard that finds another shard's validation runs
    unfinished stops after phase 1. Tables: ``validation`` and ``metrics`` (one row per run and
    metric), ``chosen`` (estimator -> lambda, empty until phase 1 is complete), ``curves`` (the
    training logs of the test runs), ``cost`` (seconds per step per test run).
    """
    cfg = profile.section(CHAPTER)
    check_seeds(cfg)
    check_curve(cfg)
    val_grid = validation_grid(cfg)
    _run_jobs(profile, shard.take(val_grid), device, cfg["workers"])
    val_records = [_find(profile, m, s) for m, s in val_grid]
    records = load_records(profile=profile.label, chapter=CHAPTER)
    val_labels = {m.label for m, _ in val_grid}
    validation = records[
        records["seed"].isin(cfg["validation_seeds"]) & records["experiment"].isin(val_labels)
    ]
    tables: dict[str, Any] = {"validation": validation, "chosen": {}}
    if any(r is None for r in val_records):
        return tables | {"metrics": records.iloc[:0], "curves": _curves(profile, []), "cost": None}
    chosen = select_lambdas(val_records, cfg)
    test_grid = [(m, s) for s in cfg["test_seeds"] for m in chosen_arms(cfg, chosen)]
    _run_jobs(profile, shard.take(test_grid), device, cfg["workers"])
    for seed in cfg["test_seeds"]:
        runs = {m.label: _find(profile, m, seed) for m in chosen_arms(cfg, chosen)}
        if all(r is not None for r in runs.values()):
            write_comparison(profile, seed, chosen, runs)
    records = load_records(profile=profile.label, chapter=CHAPTER)
    test_labels = {m.label for m, _ in test_grid}
    metrics = records[
        records["seed"].isin(cfg["test_seeds"]) & records["experiment"].isin(test_labels)
    ]
    cost = metrics[metrics["metric"] == "s_per_step"][["method", "seed", "value"]]
    return tables | {
        "chosen": chosen,
        "metrics": metrics,
        "curves": _curves(profile, test_grid),
        "cost": cost.rename(columns={"value": "s_per_step"}),
    }

"""The chapter's experiment: CLIP (lambda = 0) against CIBR-ceb and CIBR-mine, paired per seed.

For every seed the data and the initial weights are shared by all methods (a paired design);
each (method, seed) run is a record (``cached_run``: an interrupted sweep resumes), with its
learning curve beside it as CSV. A ``compare`` record per seed holds the metrics of CLIP and of
each estimator's headline lambda under ``<method>/<metric>`` names, which the claims in
``configs/claims/cibr.yaml`` difference per seed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from cibr_lab.cibr.captioned import CaptionedSet
from cibr_lab.cibr.evaluate import evaluate_suite
from cibr_lab.cibr.loss import training_loss
from cibr_lab.cibr.model import create_model, get_tokenizer
from cibr_lab.cibr.suite import CURVE, PROBES, RETRIEVAL, ZEROSHOT, build_data
from cibr_lab.cibr.train import CaptionBatches, TrainConfig, train
from cibr_lab.errors import ConfigError
from cibr_lab.results import cached_run, find_record, load_records, write_record
from cibr_lab.runtime import WHOLE, Profile, Shard, get_device, results_dir

CHAPTER = "cibr"
_TRAIN_KEYS = ("steps", "batch_size", "accum", "lr", "weight_decay", "warmup", "log_every")


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
    curve_suite = {s: _head(suite[s], cfg["curve_n"]) for s in {s for s, _, _ in CURVE}}

    def quick(model, step):
        m = evaluate_suite(model, tokenizer, curve_suite, CURVE, (), (), device, seed)
        return {"curve_zs_acc1": float(np.mean([v for k, v in m.items() if k.endswith("_acc1")]))}

    history = train(model, loss_fn, batches, config, device, None, quick, cfg["eval_every"])
    metrics = evaluate_suite(model, tokenizer, suite, ZEROSHOT, RETRIEVAL, PROBES, device, seed)
    curve = pd.DataFrame(history)
    path = curves_path(profile, method.label, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    curve.to_csv(path, index=False)
    evals = curve[curve["kind"] == "eval"]
    trains = curve[curve["kind"] == "train"]
    metrics["curve_auc_zs_acc1"] = float(evals["curve_zs_acc1"].mean())
    metrics["s_per_step"] = float(
        trains["s_per_step"].iloc[1:].mean() if len(trains) > 1 else trains["s_per_step"].mean()
    )
    metrics["final_contrastive_loss"] = float(trains["contrastive_loss"].iloc[-1])
    return metrics | summary_metrics(metrics)


def summary_metrics(m: Mapping[str, float]) -> dict[str, float]:
    """Means over tasks: zero-shot acc1, retrieval R@1 (both ways), nuisance-probe accuracy."""
    zs = [v for k, v in m.items() if k.startswith("zs_") and k.endswith("_acc1")]
    ret = [v for k, v in m.items() if k.startswith("ret_") and k.endswith("recall@1")]
    img_nuis = [m[f"probe_scenes_shift_image_{f}"] for f in ("texture", "noise", "mark")]
    txt_nuis = [m[f"probe_scenes_shift_text_{f}"] for f in ("filler", "synonym", "style")]
    return {
        "zs_mean_acc1": float(np.mean(zs)),
        "ret_mean_recall@1": float(np.mean(ret)),
        "probe_image_nuisance": float(np.mean(img_nuis)),
        "probe_text_nuisance": float(np.mean(txt_nuis)),
    }


def _hashable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    return v


def _head(data: CaptionedSet, n: int) -> CaptionedSet:
    """The first ``n`` images of a set with their captions and factors."""
    keep = data.text_to_image < n
    return replace(
        data,
        images=data.images[:n],
        captions=[c for c, k in zip(data.captions, keep.tolist(), strict=True) if k],
        text_to_image=data.text_to_image[keep],
        labels=data.labels[:n],
        image_factors={k: v[:n] for k, v in data.image_factors.items()},
        text_factors={k: v[keep] for k, v in data.text_factors.items()},
    )


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


def write_comparison(profile: Profile, seed: int, runs: Mapping[str, Mapping[str, Any]]) -> None:
    """The per-seed ``compare`` record: CLIP's and each headline method's metrics, prefixed.

    ``runs`` maps a method label to this seed's record of that method."""
    cfg = profile.section(CHAPTER)
    arms = {
        "clip": "clip",
        **{est: f"{est}-{float(lam):g}" for est, lam in cfg["headline"].items()},
    }
    metrics = {}
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


def _finished_arms(profile: Profile, seed: int) -> dict[str, dict[str, Any]] | None:
    """Every arm's current record of ``seed`` (from any shard), or None if one is missing."""
    cfg = profile.section(CHAPTER)
    runs = {}
    for method in methods(cfg):
        found = find_record(
            CHAPTER,
            method.label,
            profile=profile.label,
            seed=seed,
            config=job_config(cfg, method),
        )
        if found is None:
            return None
        runs[method.label] = found
    return runs


def run(
    profile: Profile, device: str | None = None, shard: Shard = WHOLE
) -> dict[str, pd.DataFrame]:
    """Run (or resume) every method and seed (``shard``: this slice of the method x seed grid);
    return tidy tables of the records on disk.

    Each seed's ``compare`` record is written by the shard that finds all of its arms done.
    Tables: ``metrics`` (one row per run and metric, with ``method``, ``estimator``, ``lam``),
    ``curves`` (the training logs of the embedded runs), ``cost`` (seconds per step per run).
    """
    cfg = profile.section(CHAPTER)
    grid = [(m, s) for s in profile.seeds for m in methods(cfg)]
    jobs = shard.take(grid)
    if cfg["workers"] > 1:
        with ProcessPoolExecutor(cfg["workers"], mp_context=get_context("spawn")) as pool:
            args = zip(*[(profile, m, s, device) for m, s in jobs], strict=True)
            list(pool.map(_job, *args))
    else:
        for m, s in jobs:
            _job(profile, m, s, device)
    for seed in profile.seeds:
        runs = _finished_arms(profile, seed)
        if runs is not None:
            write_comparison(profile, seed, runs)
    records = load_records(profile=profile.label, chapter=CHAPTER)
    records = records[records["seed"].isin(profile.seeds)]
    metrics = records[records["experiment"] != "compare"]
    paths = [(curves_path(profile.label, m.label, s), m.label, s) for m, s in grid]
    curves = pd.concat(
        [pd.read_csv(p).assign(method=label, seed=s) for p, label, s in paths if p.exists()]
        or [pd.DataFrame(columns=["step", "kind", "method", "seed"])],
        ignore_index=True,
    )
    cost = metrics[metrics["metric"] == "s_per_step"][["method", "seed", "value"]]
    return {
        "metrics": metrics,
        "curves": curves,
        "cost": cost.rename(columns={"value": "s_per_step"}),
    }

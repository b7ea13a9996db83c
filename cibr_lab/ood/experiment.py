"""The chapter's experiment: every score x shaping x OOD set, raw and OOD-R-rectified.

Per seed: train (or load) the ID classifier and the annotator committee, extract features once,
flag contamination with the committee, score every method from the cached features (input-level
methods from the inputs) and store the metrics as one record (``cached_run``). Metric names are
``score/shaping/ood_set/variant/metric`` with variant ``raw`` or ``rectified`` and ood_set
``mean`` for the average over sets (score x shaping pairs that equal another pair on any data
are left out: :func:`~cibr_lab.ood.registry.method_grid`); OOD-R metrics are
``oodr/ood_set/{precision,recall,...}``.
Shapings named ``<name>_val`` had their parameters tuned on the validation split (ID
validation images against the validation OOD split, both apart from every test set); the
chosen values are ``tuned/score/shaping/param``. All other methods use the defaults of
``methods.yaml``.

The ``benchmark`` key picks the seed preparer (:data:`PREPARERS`): ``embedded`` builds the data
here; ``openood_cifar10`` / ``openood_imagenet`` read the OpenOOD v1.5 protocols from disk
(:mod:`cibr_lab.ood.full`), where OOD sets carry no injected ground truth, so OOD-R reports
counts only.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from cibr_lab.errors import ConfigError
from cibr_lab.ood.base import Shaping
from cibr_lab.ood.embedded import Benchmark, build_benchmark
from cibr_lab.ood.features import Extracted, FeatureCache
from cibr_lab.ood.metrics import METRICS, ood_metrics
from cibr_lab.ood.models import SplitModel
from cibr_lab.ood.oodr import Committee, annotate, committee_filter, precision_recall
from cibr_lab.ood.registry import get_scorer, get_shaping, method_grid
from cibr_lab.ood.train import load_or_train
from cibr_lab.ood.tuning import tune_shaping
from cibr_lab.results import cached_run, load_records
from cibr_lab.runtime import WHOLE, Profile, Shard, get_device, get_profile, results_dir

CHAPTER = "ood"
#: every metric of :func:`ood_metrics`, both conventions
REPORTED = METRICS


@dataclass
class SeedRun:
    """Everything one seed's scoring needs: data, model, cached features, committee decisions.

    ``bench`` is an embedded :class:`Benchmark` (tensors) or a full-profile benchmark whose
    splits and OOD sets are loaders (:class:`cibr_lab.ood.full.data.FullBenchmark`).
    """

    cfg: dict
    bench: Any
    model: SplitModel
    features: dict[str, Extracted]
    committees: dict[str, Committee]
    annotators: list[SplitModel]
    #: score parameters the data imply, by score name (e.g. ODIN's ``input_std``: the std of
    #: the inputs' normalisation on the OpenOOD protocols)
    score_params: dict[str, dict[str, Any]] = field(default_factory=dict)


def _root(label: str) -> Path:
    return results_dir() / label / CHAPTER


@cache
def _benchmark(cfg_json: str) -> Benchmark:
    cfg = json.loads(cfg_json)
    return build_benchmark(cfg, seed=cfg["data_seed"])


def prepare_embedded(cfg: dict, root: Path, seed: int, device: torch.device) -> SeedRun:
    """The embedded benchmark's seed: train (or load) the classifier and the annotators under
    ``root``, extract (or load) their features, run the committee."""
    bench = _benchmark(json.dumps(cfg, sort_keys=True))
    ckpt = root / "checkpoints"
    n_classes = len(bench.classes)
    model = load_or_train(
        ckpt / f"classifier-seed{seed}.pt",
        cfg["model"],
        n_classes,
        bench.train,
        cfg["train"],
        seed,
        device,
    )
    annotators = [
        load_or_train(
            ckpt / f"annotator{j}-seed{seed}.pt",
            spec,
            n_classes + 1,
            bench.annotator_train,
            cfg["train"],
            1000 * (j + 1) + seed,
            device,
        )
        for j, spec in enumerate(cfg["annotators"])
    ]
    # keyed by the whole config: a retrained model never reads stale features
    fingerprint = hashlib.sha1(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]
    cache_ = FeatureCache(root / "features" / f"seed{seed}-{fingerprint}")
    sets = {"id_train": bench.train[0], "id_val": bench.val[0], "id_test": bench.test[0]}
    sets["val_ood"] = bench.val_ood
    sets.update({name: s.images for name, s in bench.ood.items()})
    features = {
        name: cache_.get("classifier", name, model, images, cfg["batch_size"])
        for name, images in sets.items()
    }
    committees = {
        name: committee_filter(
            annotate(annotators, s.images)[..., :n_classes],  # drop "none of the ID classes"
            cfg["committee_k"],
            cfg["committee_threshold"],
        )
        for name, s in bench.ood.items()
    }
    return SeedRun(cfg, bench, model, features, committees, annotators)


#: Seed preparers by the profile's ``benchmark`` key, as ``"module:function"`` taking
#: ``(cfg, root, seed, device)`` (imported lazily: the full profile's loaders stay unloaded).
PREPARERS = {
    "embedded": "cibr_lab.ood.experiment:prepare_embedded",
    "openood_cifar10": "cibr_lab.ood.full.driver:prepare_full",
    "openood_imagenet": "cibr_lab.ood.full.driver:prepare_full",
}


def prepare(
    profile: str | Profile,
    seed: int,
    device: str | torch.device | None = None,
    label: str | None = None,
) -> SeedRun:
    """Load or train the models of one seed and extract (or load) their features.

    ``profile``: a name or a :class:`Profile` (overrides kept); ``label``: the results folder
    (default the profile's label).
    """
    profile = get_profile(profile) if isinstance(profile, str) else profile
    cfg = profile.section(CHAPTER)
    if cfg["benchmark"] not in PREPARERS:
        raise ConfigError(f"unknown benchmark {cfg['benchmark']!r}; valid: {', '.join(PREPARERS)}")
    module, name = PREPARERS[cfg["benchmark"]].split(":")
    preparer = getattr(import_module(module), name)
    return preparer(cfg, _root(label or profile.label), seed, get_device(device))


def _input_batches(data: torch.Tensor | Any, batch_size: int) -> Any:
    """Input batches of a set: chunks of a tensor, or the inputs of a loader's batches."""
    if isinstance(data, torch.Tensor):
        return data.split(batch_size)
    return (x for x, _ in data)


def method_scores(
    run: SeedRun, score: str, shaping: str | Shaping, input_level: bool
) -> dict[str, torch.Tensor]:
    """Scores ``[N]`` of one method on the ID test set and every OOD set, by set name; a shaping
    given by name takes the profile's ``shaping_params``, the score the run's ``score_params``."""
    head, train = run.model.head, run.features["id_train"]
    if isinstance(shaping, str):
        shaping = get_shaping(shaping, **run.cfg["shaping_params"].get(shaping, {}))
    scorer = get_scorer(score, shaping, **run.score_params.get(score, {}))
    scorer.fit(train.features, run.bench.train[1], head)
    names = ["id_test", *run.bench.ood]
    if input_level:
        inputs = {"id_test": run.bench.test[0], **{n: s.images for n, s in run.bench.ood.items()}}
        bs = run.cfg["batch_size"]
        return {
            n: torch.cat(
                [scorer.score_inputs(run.model, x, bs) for x in _input_batches(inputs[n], bs)]
            )
            for n in names
        }
    return {n: scorer.score(run.features[n].features, head) for n in names}


def _set_metrics(run: SeedRun, scores: dict[str, torch.Tensor], prefix: str) -> dict[str, float]:
    out: dict[str, float] = {}
    per_variant: dict[str, list[dict[str, float]]] = {"raw": [], "rectified": []}
    for name in run.bench.ood:
        keep = torch.as_tensor(~run.committees[name].flagged, device=scores[name].device)
        for variant, ood in (("raw", scores[name]), ("rectified", scores[name][keep])):
            m = ood_metrics(scores["id_test"], ood)
            per_variant[variant].append(m)
            out.update({f"{prefix}/{name}/{variant}/{k}": m[k] for k in REPORTED})
    for variant, ms in per_variant.items():
        out.update(
            {f"{prefix}/mean/{variant}/{k}": float(np.mean([m[k] for m in ms])) for k in REPORTED}
        )
    return out


def oodr_metrics(run: SeedRun) -> dict[str, float]:
    """The committee's precision and recall against the injected contamination, per OOD set
    and over all (``all``), each only where defined, with the counts; where no ground truth
    exists (``injected`` is None, the full profile) only the flagged and total counts."""
    out: dict[str, float] = {}
    sets = {name: (run.committees[name].flagged, s.injected) for name, s in run.bench.ood.items()}
    truths = [injected for _, injected in sets.values()]
    sets["all"] = (
        np.concatenate([flagged for flagged, _ in sets.values()]),
        None if any(t is None for t in truths) else np.concatenate(truths),
    )
    for name, (flagged, injected) in sets.items():
        if injected is None:
            stats = {"n_flagged": float(flagged.sum()), "n_items": float(flagged.size)}
        else:  # precision is undefined with no flag, recall with no injection: left out
            stats = {k: v for k, v in precision_recall(flagged, injected).items() if np.isfinite(v)}
        out.update({f"oodr/{name}/{k}": v for k, v in stats.items()})
    return out


def benchmark_metrics(run: SeedRun) -> dict[str, float]:
    """All metrics of one seed: ID accuracy (from the cached logits), OOD-R statistics, every
    method's metrics."""
    cfg = run.cfg
    predicted = run.features["id_test"].logits.argmax(dim=1).cpu()
    out = {"id_accuracy": float((predicted == run.bench.test[1]).float().mean())}
    out.update(oodr_metrics(run))
    for score, shaping in method_grid(cfg["scores"], cfg["shapings"]):
        scores = method_scores(run, score, shaping, input_level=False)
        out.update(_set_metrics(run, scores, f"{score}/{shaping}"))
    for score in cfg["tuned"]["scores"]:
        for shaping in cfg["tuned"]["shapings"]:
            params, _ = tune_shaping(
                score,
                shaping,
                (run.features["id_train"].features, run.bench.train[1]),
                run.features["id_val"].features,
                run.features["val_ood"].features,
                run.model.head,
            )
            tuned = get_shaping(shaping, **params)
            scores = method_scores(run, score, tuned, input_level=False)
            out.update(_set_metrics(run, scores, f"{score}/{shaping}_val"))
            out.update({f"tuned/{score}/{shaping}/{k}": float(v) for k, v in params.items()})
    for score, shaping in cfg["input_level"]:
        scores = method_scores(run, score, shaping, input_level=True)
        out.update(_set_metrics(run, scores, f"{score}/{shaping}"))
    return out


def sensitivity_metrics(run: SeedRun) -> dict[str, float]:
    """ActFun's cap percentile x sigma grid for the sensitivity scores (mean over OOD sets)."""
    cfg, out = run.cfg, {}
    for score in cfg["sensitivity_scores"]:
        for p in cfg["sensitivity_percentiles"]:
            for s in cfg["sensitivity_sigmas"]:
                shaping = get_shaping("actfun", percentile=p, sigma=s)
                metrics = _set_metrics(run, method_scores(run, score, shaping, False), "x")
                for variant in ("raw", "rectified"):
                    for k in ("auroc", "fpr95"):
                        out[f"{score}/p{p}/s{s}/{variant}/{k}"] = metrics[f"x/mean/{variant}/{k}"]
    return out


EXPERIMENTS = {"benchmark": benchmark_metrics, "actfun_sensitivity": sensitivity_metrics}


def run(
    profile: Profile, device: str | None = None, label: str | None = None, shard: Shard = WHOLE
) -> dict[str, pd.DataFrame]:
    """Run (or resume) every experiment for every seed of ``profile``; return the chapter's
    tables: ``records`` (tidy records), ``benchmark``, ``oodr`` and ``sensitivity``.

    ``label`` names the results folder and the records' profile (default ``profile.label``);
    ``shard`` runs a slice of the seeds (a seed's experiments share its trained models).
    """
    from cibr_lab.ood.frames import benchmark_frame, oodr_frame, sensitivity_frame

    cfg = profile.section(CHAPTER)
    label = label or profile.label
    seeds = shard.take(profile.seeds)
    for seed in seeds:
        prepared: dict[str, SeedRun] = {}

        def lazy(fn, seed=seed, prepared=prepared):
            if "run" not in prepared:
                prepared["run"] = prepare(profile, seed, device, label)
            return fn(prepared["run"])

        for name, fn in EXPERIMENTS.items():
            cached_run(
                CHAPTER,
                name,
                profile=label,
                seed=seed,
                config=cfg,
                run=lambda fn=fn, lazy=lazy: lazy(fn),
                timer=time.perf_counter,
            )
    records = load_records(profile=label, chapter=CHAPTER)
    records = records[records["seed"].isin(seeds)].reset_index(drop=True)
    return {
        "records": records,
        "benchmark": benchmark_frame(records),
        "oodr": oodr_frame(records),
        "sensitivity": sensitivity_frame(records),
    }

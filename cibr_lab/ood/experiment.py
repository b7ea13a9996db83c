"""The chapter's experiment: every score x shaping x OOD set, raw and OOD-R-rectified.

Per seed: train (or load) the ID classifier and the annotator committee, extract features once,
flag contamination with the committee, score every method from the cached features (input-level
methods from the inputs) and store the metrics as one record (``cached_run``). Metric names are
``score/shaping/ood_set/variant/metric`` with variant ``raw`` or ``rectified`` and ood_set
``mean``, ``near`` or ``far`` for the averages over all sets and over OpenOOD's groups (score x
shaping pairs that equal another pair on any data are left out:
:func:`~cibr_lab.ood.registry.method_grid`); OOD-R metrics are
``oodr/ood_set/{precision,recall,...}``, the committee's parameters chosen on the validation
OOD split (its own injected ID images, apart from every test set) ``committee/{k,threshold}``.
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
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
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
from cibr_lab.ood.oodr import (
    Committee,
    annotate,
    committee_filter,
    precision_recall,
    select_committee,
)
from cibr_lab.ood.registry import get_scorer, get_shaping, method_grid
from cibr_lab.ood.train import load_or_train
from cibr_lab.ood.tuning import tune_shaping
from cibr_lab.results import cached_run, load_records
from cibr_lab.runtime import (
    WHOLE,
    Profile,
    Shard,
    get_device,
    get_profile,
    results_dir,
    torch_threads,
)

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
    #: the validation OOD images kept by the committee (``[M]`` booleans; None: all kept)
    val_keep: np.ndarray | None = None
    #: the committee's parameters chosen on the validation OOD split and its scores there
    committee_params: dict[str, float] = field(default_factory=dict)


def _root(label: str) -> Path:
    return results_dir() / label / CHAPTER


@cache
def _benchmark(cfg_json: str) -> Benchmark:
    cfg = json.loads(cfg_json)
    return build_benchmark(cfg, seed=cfg["data_seed"])


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def prepare_embedded(cfg: dict, root: Path, seed: int, device: torch.device) -> SeedRun:
    """The embedded benchmark's seed: train (or load) the classifier and the annotators under
    ``root``, extract (or load) their features, choose the committee's ``k`` and threshold
    (candidates: ``committee_k``, ``committee_threshold``, a value or a list) on the validation
    OOD split and run it on the test OOD sets."""
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
            ckpt / f"annotator{j}.pt",  # one committee for every seed, as in the full profile
            spec,
            n_classes + 1,
            bench.annotator_train,
            cfg["train"],
            1000 * (j + 1),
            device,
        )
        for j, spec in enumerate(cfg["annotators"])
    ]
    # keyed by the whole config: a retrained model never reads stale features
    fingerprint = hashlib.sha1(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]
    cache_ = FeatureCache(root / "features" / f"seed{seed}-{fingerprint}")
    sets = {"id_train": bench.train[0], "id_val": bench.val[0], "id_test": bench.test[0]}
    sets["val_ood"] = torch.cat([s.images for s in bench.val_ood.values()])
    sets.update({name: s.images for name, s in bench.ood.items()})
    features = {
        name: cache_.get("classifier", name, model, images, cfg["batch_size"])
        for name, images in sets.items()
    }
    # committee parameters from the validation OOD split only; "none of the ID classes" dropped
    val_probs = annotate(annotators, sets["val_ood"])[..., :n_classes]
    val_truth = np.concatenate([s.injected for s in bench.val_ood.values()])
    k, threshold, f1 = select_committee(
        val_probs, val_truth, _as_list(cfg["committee_k"]), _as_list(cfg["committee_threshold"])
    )
    committees = {
        name: committee_filter(annotate(annotators, s.images)[..., :n_classes], k, threshold)
        for name, s in bench.ood.items()
    }
    val_committee = committee_filter(val_probs, k, threshold)
    run = SeedRun(cfg, bench, model, features, committees, annotators)
    run.val_keep = ~val_committee.flagged
    run.committee_params = {"k": float(k), "threshold": threshold, "val_f1": f1}
    run.committee_params.update(
        {f"val_{n}": v for n, v in precision_recall(val_committee.flagged, val_truth).items()}
    )
    return run


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
    """Metrics per OOD set and variant, and their means over all sets (``mean``) and over
    each OpenOOD group present (``near``, ``far``)."""
    out: dict[str, float] = {}
    per_set: dict[tuple[str, str], dict[str, float]] = {}
    for name in run.bench.ood:
        keep = torch.as_tensor(~run.committees[name].flagged, device=scores[name].device)
        for variant, ood in (("raw", scores[name]), ("rectified", scores[name][keep])):
            m = ood_metrics(scores["id_test"], ood)
            per_set[name, variant] = m
            out.update({f"{prefix}/{name}/{variant}/{k}": m[k] for k in REPORTED})
    groups = {"mean": list(run.bench.ood)}
    for name, s in run.bench.ood.items():
        groups.setdefault(s.group, []).append(name)
    for group, names in groups.items():
        for variant in ("raw", "rectified"):
            for k in REPORTED:
                values = [per_set[n, variant][k] for n in names]
                out[f"{prefix}/{group}/{variant}/{k}"] = float(np.mean(values))
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
    out.update({f"committee/{k}": float(v) for k, v in run.committee_params.items()})
    val_ood = run.features["val_ood"].features
    if run.val_keep is not None:  # the rectified validation split
        val_ood = val_ood[torch.as_tensor(run.val_keep, device=val_ood.device)]
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
                val_ood,
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


#: section keys that say how to run, not what: left out of the records' configuration
RUN_KEYS = ("workers", "test_seeds")


def test_seeds(profile: Profile) -> tuple[int, ...]:
    """The chapter's test seeds: the section's ``test_seeds``, or the profile's seeds if empty."""
    return tuple(profile.section(CHAPTER)["test_seeds"]) or profile.seeds


def _run_seed(profile: Profile, seed: int, device: str | None, label: str) -> None:
    """Every experiment of one seed (records cached on disk); the seed's models are prepared
    only if some record is missing."""
    cfg = profile.section(CHAPTER)
    config = {k: v for k, v in cfg.items() if k not in RUN_KEYS}
    prepared: dict[str, SeedRun] = {}

    def lazy(fn):
        if "run" not in prepared:
            prepared["run"] = prepare(profile, seed, device, label)
        return fn(prepared["run"])

    for name, fn in EXPERIMENTS.items():
        cached_run(
            CHAPTER,
            name,
            profile=label,
            seed=seed,
            config=config,
            run=lambda fn=fn: lazy(fn),
            timer=time.perf_counter,
        )


def run(
    profile: Profile, device: str | None = None, label: str | None = None, shard: Shard = WHOLE
) -> dict[str, pd.DataFrame]:
    """Run (or resume) every experiment for every test seed of ``profile``; return the
    chapter's tables: ``records`` (tidy records), ``benchmark``, ``oodr`` and ``sensitivity``.

    ``label`` names the results folder and the records' profile (default ``profile.label``);
    ``shard`` runs a slice of the seeds (a seed's experiments share its trained models). The
    first seed runs here (it trains the committee the seeds share) with at least ``workers``
    torch threads, since no worker runs yet; the others in the section's ``workers`` processes.
    """
    from cibr_lab.ood.frames import benchmark_frame, oodr_frame, sensitivity_frame

    cfg = profile.section(CHAPTER)
    label = label or profile.label
    seeds = shard.take(test_seeds(profile))
    if seeds:  # it runs before the workers start, so it may use their threads too
        with torch_threads(max(torch.get_num_threads(), cfg["workers"])):
            _run_seed(profile, seeds[0], device, label)
    rest = list(seeds[1:])
    if cfg["workers"] > 1 and len(rest) > 1:
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(
            cfg["workers"], mp_context=context, initializer=torch.set_num_threads, initargs=(1,)
        )
        with pool:
            list(pool.map(_run_seed, *zip(*[(profile, s, device, label) for s in rest])))
    else:
        for seed in rest:
            _run_seed(profile, seed, device, label)
    records = load_records(profile=label, chapter=CHAPTER)
    records = records[records["seed"].isin(seeds)].reset_index(drop=True)
    return {
        "records": records,
        "benchmark": benchmark_frame(records),
        "oodr": oodr_frame(records),
        "sensitivity": sensitivity_frame(records),
    }

"""The chapter's experiments: every method and ablation on every dataset and seed, the MMD-weight
and snapshot-count sweeps, each curve stored as a record (``cached_run``) and resumable.

Records (chapter ``al``): one per curve, experiment ``<dataset>-<method>`` (main comparison),
``<dataset>-mpts-mmd<w>`` or ``<dataset>-mpts-snapshots<k>`` (sweeps), with metrics ``aubc``,
``final_accuracy`` and per round ``acc_r<r>``, ``n_labels_r<r>``, ``train_s_r<r>``,
``query_s_r<r>`` (wall clock), ``cpu_s`` (process CPU seconds of the whole curve, robust to
a busy machine; a resumed curve counts only the resumed part); and one summary per dataset
and seed, experiment ``<dataset>-summary``, with ``aubc_<method>`` for every method, so the
claims registry can pair methods per seed.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import re
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd
import torch

from cibr_lab.al.datasets import ALData, load_al_data
from cibr_lab.al.loop import Method, Protocol, run_active_learning
from cibr_lab.al.metrics import aubc
from cibr_lab.al.preflight import check_runs
from cibr_lab.al.train import TrainConfig
from cibr_lab.results import (
    cached_run,
    chapter_dir,
    config_hash,
    find_record,
    load_records,
    write_record,
)
from cibr_lab.runtime import WHOLE, Profile, Shard, get_device, get_profile

CHAPTER = "al"


def build_method(
    spec: Mapping[str, Any], base_train: Mapping[str, Any], **train_overrides
) -> Method:
    """A :class:`Method` from a profile entry: the dataset's training recipe + the method's."""
    train = {**base_train, **spec.get("train", {}), **train_overrides}
    return Method(spec["strategy"], TrainConfig(**train), dict(spec.get("strategy_options", {})))


def build_protocol(ds: Mapping[str, Any]) -> Protocol:
    """The loop protocol of a dataset entry."""
    return Protocol(
        ds["n_initial"],
        ds["query_size"],
        ds["n_rounds"],
        ds["net"],
        dict(ds.get("net_options", {})),
    )


def curve_metrics(history: pd.DataFrame) -> dict[str, float]:
    """Flat record metrics of one curve (see the module docstring)."""
    out = {
        "aubc": aubc(history["n_labels"], history["accuracy"]),
        "final_accuracy": float(history["accuracy"].iloc[-1]),
    }
    for row in history.itertuples():
        out[f"acc_r{row.round}"] = row.accuracy
        out[f"n_labels_r{row.round}"] = row.n_labels
        out[f"train_s_r{row.round}"] = row.train_s
        if np.isfinite(row.query_s):
            out[f"query_s_r{row.round}"] = row.query_s
    return out


def _run_curve(
    profile: str,
    experiment: str,
    config: dict,
    data: ALData,
    method: Method,
    protocol: Protocol,
    seed: int,
    device: torch.device,
    progress: bool,
) -> dict:
    digest = hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    ckpt = chapter_dir(profile, CHAPTER) / "checkpoints"
    ckpt = ckpt / f"{experiment}-seed{seed}-{digest[:10]}.json"

    def run() -> dict[str, float]:
        start = time.process_time()
        history = run_active_learning(data, method, protocol, seed, device, ckpt, progress)
        return {**curve_metrics(history), "cpu_s": time.process_time() - start}

    return cached_run(
        CHAPTER,
        experiment,
        profile=profile,
        seed=seed,
        config=config,
        run=run,
        timer=time.perf_counter,
    )


@dataclass(frozen=True)
class Job:
    """One curve to run: dataset entry, method spec (with its name), overrides, seed."""

    profile: str
    dataset: str
    experiment: str
    group: str
    dataset_settings: dict
    spec: dict
    overrides: dict
    seed: int
    split_seed: int


def _jobs(profile: str, settings: Mapping[str, Any], seeds: Iterable[int]) -> list[Job]:
    """Every curve of the profile: each method on each dataset, then the MPTS sweeps."""
    out = []
    for seed in seeds:
        todo = [
            (name, f"{name}-{m}", "main", {**spec, "name": m}, {})
            for name in settings["datasets"]
            for m, spec in settings["methods"].items()
        ]
        name = settings["sweep_dataset"]
        mpts = {**settings["methods"]["mpts"], "name": "mpts"}
        todo += [
            (name, f"{name}-mpts-mmd{w:g}", "sweep_mmd", mpts, {"mmd_weight": float(w)})
            for w in settings["mmd_weights"]
        ]
        todo += [
            (name, f"{name}-mpts-snapshots{k}", "sweep_snapshots", mpts, {"n_snapshots": int(k)})
            for k in settings["snapshot_counts"]
        ]
        out += [
            Job(
                profile,
                n,
                e,
                g,
                dict(settings["datasets"][n]),
                sp,
                ov,
                seed,
                settings["split_seed"],
            )
            for n, e, g, sp, ov in todo
        ]
    return out


@cache
def _data(source: str, pool_size: int | None, test_size: int | None, split_seed: int) -> ALData:
    return load_al_data(source, pool_size, test_size, split_seed)


def _job_data(job: Job) -> ALData:
    ds = job.dataset_settings
    return _data(ds["source"], ds["pool_size"], ds["test_size"], job.split_seed)


def _job_config(job: Job) -> tuple[Method, dict[str, Any]]:
    """The method of one curve and the configuration that keys its record."""
    ds = job.dataset_settings
    method = build_method(job.spec, ds["train"], **job.overrides)
    return method, {
        "dataset": job.dataset,
        "method": job.spec["name"],
        "group": job.group,
        "strategy": method.strategy,
        "mmd_weight": method.train.mmd_weight,
        "swa": method.train.swa,
        "n_snapshots": method.train.n_snapshots,
        "net": ds["net"],
        "setup": {**method.as_dict(), **ds},
    }


def _run_job(job: Job, device: str | None, progress: bool, threads: int | None) -> float:
    """Run (or load) one curve; returns its AUBC."""
    if threads is not None:
        torch.set_num_threads(threads)
    ds = job.dataset_settings
    method, config = _job_config(job)
    record = _run_curve(
        job.profile,
        job.experiment,
        config,
        _job_data(job),
        method,
        build_protocol(ds),
        job.seed,
        get_device(device),
        progress,
    )
    return record["metrics"]["aubc"]


def run(
    profile: Profile | str = "embedded",
    *,
    seeds: Iterable[int] | None = None,
    device: str | None = None,
    workers: int = 1,
    progress: bool = False,
    overrides: Mapping[str, Any] | None = None,
    shard: Shard = WHOLE,
) -> dict[str, pd.DataFrame]:
    """Run (or load) every curve of the profile; return ``{"curves": ..., "aubc": ...}``
    (:func:`curves_frame`, :func:`aubc_frame`). The ``cibr-lab run al`` entry point.

    ``profile`` is a :class:`Profile` or a name (then ``seeds`` and ``overrides``, keys of the
    ``al`` section, apply). ``workers > 1`` runs curves in that many processes (one torch
    thread each; for CPU runs); the records are the same whatever the number of workers.
    ``shard`` runs one slice of the curve grid; a (seed, dataset) summary record is written by
    the shard that finds all of its curves done, and the tables hold the curves on disk.
    Every curve of the shard is checked (:func:`cibr_lab.al.preflight.check_runs`) before the
    first one trains.
    """
    prof = (
        profile
        if isinstance(profile, Profile)
        else get_profile(profile, {CHAPTER: dict(overrides)} if overrides else None, seeds)
    )
    settings = prof.section(CHAPTER)
    grid = _jobs(prof.label, settings, prof.seeds)
    jobs = shard.take(grid)
    check_runs(
        {
            j.experiment: (_job_config(j)[0], build_protocol(j.dataset_settings), _job_data(j))
            for j in jobs
        }
    )
    if workers == 1:
        for job in jobs:
            _run_job(job, device, progress, None)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            list(pool.map(_run_job, jobs, repeat(device), repeat(False), repeat(1)))
    for seed in prof.seeds:
        for name in settings["datasets"]:
            parts = [j for j in grid if j.seed == seed and j.dataset == name and j.group == "main"]
            found = [find_record(CHAPTER, j.experiment, profile=j.profile, seed=j.seed,
                                 config=_job_config(j)[1]) for j in parts]  # fmt: skip
            if any(rec is None for rec in found):
                continue  # another shard has curves of this summary still to run
            metrics = {
                f"aubc_{job.spec['name']}": rec["metrics"]["aubc"]
                for job, rec in zip(parts, found, strict=True)
            }
            write_record(
                CHAPTER,
                f"{name}-summary",
                profile=prof.label,
                seed=seed,
                config={"dataset": name, "group": "summary", "settings": config_hash(settings)},
                metrics=metrics,
                wall_time_s=0.0,
            )
    records = load_records(prof.label, CHAPTER)
    wanted = pd.MultiIndex.from_tuples([(job.experiment, job.seed) for job in grid])
    records = records[pd.MultiIndex.from_frame(records[["experiment", "seed"]]).isin(wanted)]
    curves = curves_frame(records)  # only this run's curves, not stale records beside them
    return {"curves": curves, "aubc": aubc_frame(curves)}


_ROUND = re.compile(r"^(acc|n_labels|train_s|query_s)_r(\d+)$")


def curves_frame(records: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, group, experiment, method, seed, round): n_labels, accuracy,
    train_s, query_s; from a tidy records table (``load_records``)."""
    rows = records[records["metric"].str.match(_ROUND)].copy()
    parts = rows["metric"].str.extract(_ROUND)
    rows["quantity"], rows["round"] = parts[0], parts[1].astype(int)
    keys = [
        "dataset",
        "group",
        "experiment",
        "method",
        "mmd_weight",
        "n_snapshots",
        "seed",
        "round",
    ]
    wide = rows.pivot_table(index=keys, columns="quantity", values="value").reset_index()
    wide.columns.name = None
    return wide.rename(columns={"acc": "accuracy"})


def aubc_frame(curves: pd.DataFrame) -> pd.DataFrame:
    """AUBC per (dataset, group, experiment, method, mmd_weight, n_snapshots, seed)."""
    keys = ["dataset", "group", "experiment", "method", "mmd_weight", "n_snapshots", "seed"]
    return (
        curves.sort_values("round")
        .groupby(keys)
        .apply(lambda g: aubc(g["n_labels"], g["accuracy"]), include_groups=False)
        .rename("aubc")
        .reset_index()
    )

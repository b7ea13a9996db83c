"""The chapter's experiments: validation tuning, then every method on every dataset and test
seed, each curve stored as a record (``cached_run``) and resumable.

Two stages, each a grid of curves run in parallel:

1. **Tuning** on the validation task of ``tune_dataset`` (:func:`validation_split`: a test set
   carved out of the pool, the real test set untouched) with ``validation_seeds`` (disjoint from
   ``test_seeds``). First the shared recipe (``tune_lrs`` x ``tune_steps``, random picks, the
   recipe's own SWA model), then MPTS (``tune_mmd_weights`` x ``tune_trajectories`` of
   ``[n_snapshots, cycle_steps]``, evaluated with the shared recipe). :func:`select_best` keeps
   the highest mean validation AUBC; the chosen values feed stage 2 (nothing typed).
2. **Test curves**: each dataset's ``run_methods``. All methods train with the shared recipe
   (SWA trajectory, the chosen ``n_snapshots`` / ``cycle_steps``; on ``tune_dataset`` also the
   chosen ``lr`` / ``steps``); methods with ``mmd: true`` add the chosen MMD weight; every
   labelled set is evaluated with the shared recipe (:class:`~cibr_lab.al.loop.Method`).

Records (chapter ``al``): experiment ``<dataset>-<method>`` (group ``main``) or
``<dataset>-tune-<stage>-<candidate>`` (groups ``tune_recipe`` / ``tune_mpts``), metrics ``aubc``
(evaluation recipe), ``own_aubc`` (the method's own model), ``final_accuracy``, ``cpu_s`` and per
round ``acc_r<r>``, ``own_acc_r<r>``, ``n_labels_r<r>``, ``train_s_r<r>``, ``query_s_r<r>`` and
the :data:`~cibr_lab.al.diagnostics.DIAGNOSTICS` (finite values only); and one summary per dataset
and test seed, experiment ``<dataset>-summary``, with ``aubc_<method>`` and ``own_aubc_<method>``,
so the claims registry pairs methods per seed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd
import torch

from cibr_lab.al.datasets import ALData, load_al_data, validation_split
from cibr_lab.al.diagnostics import DIAGNOSTICS
from cibr_lab.al.loop import Method, Protocol, run_active_learning
from cibr_lab.al.metrics import aubc
from cibr_lab.al.preflight import check_runs
from cibr_lab.al.train import TrainConfig
from cibr_lab.errors import ConfigError
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
RECIPE_KEYS = ("lr", "steps")
TRAJECTORY_KEYS = ("n_snapshots", "cycle_steps")


def build_method(
    spec: Mapping[str, Any], shared: Mapping[str, Any], mmd_weight: float = 0.0
) -> Method:
    """A :class:`Method` from a profile entry: the shared recipe (also the evaluation recipe),
    plus ``mmd_weight`` when the entry says ``mmd: true``."""
    train = {**shared, "mmd_weight": float(mmd_weight) if spec.get("mmd", False) else 0.0}
    return Method(
        spec["strategy"],
        TrainConfig(**train),
        dict(spec.get("strategy_options", {})),
        evaluation=TrainConfig(**shared),
    )


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
    """Flat record metrics of one curve (see the module docstring); NaN values are left out."""
    out = {
        "aubc": aubc(history["n_labels"], history["accuracy"]),
        "own_aubc": aubc(history["n_labels"], history["own_accuracy"]),
        "final_accuracy": float(history["accuracy"].iloc[-1]),
    }
    names = {"accuracy": "acc", "own_accuracy": "own_acc"}
    for row in history.to_dict("records"):
        for col, value in row.items():
            if col != "round" and np.isfinite(value):
                out[f"{names.get(col, col)}_r{int(row['round'])}"] = float(value)
    return out


@dataclass(frozen=True)
class Job:
    """One curve to run: where its data comes from, its method, protocol, seed and record key."""

    profile: str
    experiment: str
    data_key: tuple
    method: Method
    protocol: Protocol
    seed: int
    config: dict


def _data_key(ds: Mapping[str, Any], split_seed: int, validation_test_size: int | None) -> tuple:
    return (ds["source"], ds["pool_size"], ds["test_size"], split_seed, validation_test_size)


@cache
def _data(
    source: str,
    pool_size: int | None,
    test_size: int | None,
    split_seed: int,
    validation_test_size: int | None,
) -> ALData:
    data = load_al_data(source, pool_size, test_size, split_seed)
    if validation_test_size is None:
        return data
    return validation_split(data, validation_test_size, split_seed)


def _job_data(job: Job) -> ALData:
    return _data(*job.data_key)


def _job(
    profile: str,
    dataset: str,
    ds: Mapping[str, Any],
    experiment: str,
    group: str,
    name: str,
    method: Method,
    seed: int,
    data_key: tuple,
    candidate: str = "",
) -> Job:
    config = {
        "dataset": dataset,
        "method": name,
        "group": group,
        "candidate": candidate,
        "strategy": method.strategy,
        "mmd_weight": method.train.mmd_weight,
        "n_snapshots": method.train.n_snapshots,
        "cycle_steps": method.train.cycle_steps,
        "lr": method.train.lr,
        "steps": method.train.steps,
        "net": ds["net"],
        "setup": {**method.as_dict(), **ds},
    }
    return Job(profile, experiment, data_key, method, build_protocol(ds), seed, config)


def _shared(ds: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The dataset's recipe with SWA on and the given (tuned) values."""
    return {**ds["train"], "swa": True, **values}


def recipe_candidates(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Stage-1 grid: every ``{lr, steps}`` of ``tune_lrs`` x ``tune_steps``."""
    return [
        {"lr": float(lr), "steps": int(steps)}
        for lr, steps in itertools.product(settings["tune_lrs"], settings["tune_steps"])
    ]


def mpts_candidates(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Stage-2 grid: every ``{mmd_weight, n_snapshots, cycle_steps}`` of ``tune_mmd_weights``
    x ``tune_trajectories``."""
    for traj in settings["tune_trajectories"]:
        if len(traj) != 2:
            raise ConfigError(
                f"tune_trajectories entries must be [n_snapshots, cycle_steps], got {traj!r}"
            )
    return [
        {"mmd_weight": float(w), "n_snapshots": int(k), "cycle_steps": int(c)}
        for w, (k, c) in itertools.product(
            settings["tune_mmd_weights"], settings["tune_trajectories"]
        )
    ]


def candidate_label(values: Mapping[str, Any]) -> str:
    """A short stable name of one grid point, e.g. ``lr0.003-steps100``."""
    short = {"mmd_weight": "mmd", "n_snapshots": "k", "cycle_steps": "cycle"}
    return "-".join(f"{short.get(k, k)}{v:g}" for k, v in values.items())


def _tuning_jobs(
    profile: str, settings: Mapping[str, Any], stage: str, chosen_recipe: Mapping | None
) -> list[Job]:
    name = settings["tune_dataset"]
    ds = settings["datasets"][name]
    key = _data_key(ds, settings["split_seed"], settings["validation_test_size"])
    jobs = []
    for seed in settings["validation_seeds"]:
        if stage == "recipe":
            for values in recipe_candidates(settings):
                method = build_method({"strategy": "random"}, _shared(ds, values))
                label = candidate_label(values)
                jobs.append(_job(profile, name, ds, f"{name}-tune-recipe-{label}", "tune_recipe",
                                 "random", method, seed, key, label))  # fmt: skip
        else:
            for values in mpts_candidates(settings):
                picked = {k: chosen_recipe[k] for k in RECIPE_KEYS}
                picked.update({k: values[k] for k in TRAJECTORY_KEYS})
                method = build_method(
                    {"strategy": "mpts", "mmd": True},
                    _shared(ds, picked),
                    values["mmd_weight"],
                )
                label = candidate_label(values)
                jobs.append(_job(profile, name, ds, f"{name}-tune-mpts-{label}", "tune_mpts",
                                 "mpts", method, seed, key, label))  # fmt: skip
    return jobs


def select_best(
    aubcs: pd.DataFrame, validation_seeds: Sequence[int], candidates: Sequence[str]
) -> str:
    """The candidate with the highest mean AUBC over ``validation_seeds`` (ties: the first in
    ``candidates`` order).

    ``aubcs`` has columns candidate, seed, aubc; rows of other seeds (test seeds) are ignored
    and never read. A candidate lacking a validation seed is a ConfigError.
    """
    val = aubcs[aubcs["seed"].isin(list(validation_seeds))]
    means = []
    for c in candidates:
        rows = val[val["candidate"] == c]
        missing = sorted(set(validation_seeds) - set(rows["seed"]))
        if missing:
            raise ConfigError(
                f"tuning candidate {c!r} has no validation record for seeds {missing}"
            )
        means.append(float(rows["aubc"].mean()))
    return candidates[int(np.argmax(means))]


def _run_curve(job: Job, device: torch.device, progress: bool) -> dict:
    digest = hashlib.sha1(json.dumps(job.config, sort_keys=True, default=str).encode()).hexdigest()
    ckpt = chapter_dir(job.profile, CHAPTER) / "checkpoints"
    ckpt = ckpt / f"{job.experiment}-seed{job.seed}-{digest[:10]}.json"
    data = _job_data(job)

    def run() -> dict[str, float]:
        start = time.process_time()
        history = run_active_learning(
            data, job.method, job.protocol, job.seed, device, ckpt, progress
        )
        return {**curve_metrics(history), "cpu_s": time.process_time() - start}

    return cached_run(
        CHAPTER,
        job.experiment,
        profile=job.profile,
        seed=job.seed,
        config=job.config,
        run=run,
        timer=time.perf_counter,
    )


def _run_job(job: Job, device: str | None, progress: bool, threads: int | None) -> float:
    """Run (or load) one curve; returns its AUBC."""
    if threads is not None:
        torch.set_num_threads(threads)
    return _run_curve(job, get_device(device), progress)["metrics"]["aubc"]


def _run_all(jobs: list[Job], device: str | None, workers: int, progress: bool) -> list[float]:
    """Check every curve (:func:`check_runs`), then run them (in ``workers`` processes)."""
    check_runs({j.experiment: (j.method, j.protocol, _job_data(j)) for j in jobs})
    if workers == 1:
        return [_run_job(job, device, progress, None) for job in jobs]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(_run_job, jobs, repeat(device), repeat(False), repeat(1)))


def _select(jobs: list[Job], scores: list[float], seeds: Sequence[int]) -> tuple[str, pd.DataFrame]:
    frame = pd.DataFrame(
        {
            "candidate": [j.config["candidate"] for j in jobs],
            "seed": [j.seed for j in jobs],
            "aubc": scores,
        }
    )
    order = list(dict.fromkeys(frame["candidate"]))
    return select_best(frame, seeds, order), frame


def tune(
    profile: str, settings: Mapping[str, Any], device: str | None, workers: int
) -> dict[str, Any]:
    """Run (or load) both tuning stages; ``{"chosen": {lr, steps, mmd_weight, n_snapshots,
    cycle_steps}, "grid": frame}`` (frame: stage, candidate, seed, aubc, chosen)."""
    seeds = settings["validation_seeds"]
    clash = sorted(set(seeds) & set(settings["test_seeds"]))
    if clash:
        raise ConfigError(f"validation_seeds and test_seeds must be disjoint; both hold {clash}")
    frames, chosen = [], {}
    stages = (("recipe", recipe_candidates(settings)), ("mpts", mpts_candidates(settings)))
    for stage, candidates in stages:
        jobs = _tuning_jobs(profile, settings, stage, chosen)
        best, frame = _select(jobs, _run_all(jobs, device, workers, False), seeds)
        chosen.update(candidates[[candidate_label(c) for c in candidates].index(best)])
        frames.append(frame.assign(stage=stage, chosen=frame["candidate"] == best))
    return {"chosen": chosen, "grid": pd.concat(frames, ignore_index=True)}


def _test_jobs(
    profile: str, settings: Mapping[str, Any], seeds: Iterable[int], chosen: Mapping[str, Any]
) -> list[Job]:
    """Every test curve: each dataset's ``run_methods`` on each seed, with the chosen values."""
    out = []
    for name, ds in settings["datasets"].items():
        for seed in list(seeds)[: ds["n_seeds"]]:
            keys = TRAJECTORY_KEYS + (RECIPE_KEYS if name == settings["tune_dataset"] else ())
            shared = _shared(ds, {k: chosen[k] for k in keys})
            key = _data_key(ds, settings["split_seed"], None)
            for m in ds["run_methods"]:
                if m not in settings["methods"]:
                    raise ConfigError(
                        f"dataset {name!r}: unknown method {m!r} in run_methods; valid: "
                        f"{', '.join(settings['methods'])}"
                    )
                method = build_method(settings["methods"][m], shared, chosen["mmd_weight"])
                out.append(_job(profile, name, ds, f"{name}-{m}", "main", m, method, seed, key))
    return out


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
    """Tune on validation seeds, then run (or load) every test curve of the profile; return
    ``{"curves", "aubc", "tuning", "chosen"}`` (:func:`curves_frame`, :func:`aubc_frame`, the
    tuning grid frame, a one-row frame of the chosen values). The ``cibr-lab run al`` entry.

    Test seeds are the section's ``test_seeds`` unless ``seeds`` is given. ``workers > 1`` runs
    curves in that many processes (one torch thread each); the records do not depend on it.
    ``shard`` runs one slice of the test grid (every shard runs, or loads, the tuning stage); a
    (seed, dataset) summary record is written by the shard that finds all its curves done.
    Every curve of the grid (test curves with the first grid point's values) is checked
    (:func:`cibr_lab.al.preflight.check_runs`) before the first one trains.
    """
    prof = (
        profile
        if isinstance(profile, Profile)
        else get_profile(profile, {CHAPTER: dict(overrides)} if overrides else None)
    )
    settings = prof.section(CHAPTER)
    test_seeds = list(settings["test_seeds"] if seeds is None else seeds)
    preview = {**recipe_candidates(settings)[0], **mpts_candidates(settings)[0]}
    check_runs(
        {
            j.experiment: (j.method, j.protocol, _job_data(j))
            for j in _tuning_jobs(prof.label, settings, "mpts", preview)
            + _test_jobs(prof.label, settings, test_seeds, preview)
        }
    )  # the whole grid, before the tuning stage trains anything
    tuning = tune(prof.label, {**settings, "test_seeds": test_seeds}, device, workers)
    grid = _test_jobs(prof.label, settings, test_seeds, tuning["chosen"])
    _run_all(shard.take(grid), device, workers, progress)
    for seed in test_seeds:
        for name in settings["datasets"]:
            parts = [j for j in grid if j.seed == seed and j.config["dataset"] == name]
            found = [find_record(CHAPTER, j.experiment, profile=j.profile, seed=j.seed,
                                 config=j.config) for j in parts]  # fmt: skip
            if not parts or any(rec is None for rec in found):
                continue  # another shard has curves of this summary still to run
            metrics = {}
            for job, rec in zip(parts, found, strict=True):
                metrics[f"aubc_{job.config['method']}"] = rec["metrics"]["aubc"]
                metrics[f"own_aubc_{job.config['method']}"] = rec["metrics"]["own_aubc"]
            write_record(
                CHAPTER,
                f"{name}-summary",
                profile=prof.label,
                seed=seed,
                config={
                    "dataset": name,
                    "group": "summary",
                    "settings": config_hash(settings),
                    "chosen": tuning["chosen"],
                },  # fmt: skip
                metrics=metrics,
                wall_time_s=0.0,
            )
    records = load_records(prof.label, CHAPTER)
    wanted = {(j.experiment, j.seed, config_hash(j.config)) for j in grid}
    keys = zip(records["experiment"], records["seed"], records["config_hash"], strict=True)
    records = records[[k in wanted for k in keys]]  # only this run's curves
    curves = curves_frame(records)
    return {
        "curves": curves,
        "aubc": aubc_frame(curves),
        "tuning": tuning["grid"],
        "chosen": pd.DataFrame([tuning["chosen"]]),
    }


ROUND_QUANTITIES = ("acc", "own_acc", "n_labels", "train_s", "query_s", *DIAGNOSTICS)
_ROUND = re.compile(rf"^({'|'.join(ROUND_QUANTITIES)})_r(\d+)$")
CURVE_KEYS = ["dataset", "group", "experiment", "method", "seed", "round"]


def curves_frame(records: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, group, experiment, method, seed, round): n_labels, accuracy
    (evaluation recipe), own_accuracy, train_s, query_s and the diagnostics (NaN where absent);
    from a tidy records table (``load_records``)."""
    rows = records[records["metric"].str.match(_ROUND)].copy()
    parts = rows["metric"].str.extract(_ROUND)
    rows["quantity"], rows["round"] = parts[0], parts[1].astype(int)
    wide = rows.pivot_table(index=CURVE_KEYS, columns="quantity", values="value").reset_index()
    wide.columns.name = None
    return wide.rename(columns={"acc": "accuracy", "own_acc": "own_accuracy"})


def aubc_frame(curves: pd.DataFrame) -> pd.DataFrame:
    """AUBC (evaluation recipe) and own AUBC per (dataset, group, experiment, method, seed)."""
    keys = CURVE_KEYS[:-1]
    ordered = curves.sort_values("round").groupby(keys)
    return pd.DataFrame(
        {
            "aubc": ordered.apply(
                lambda g: aubc(g["n_labels"], g["accuracy"]), include_groups=False
            ),
            "own_aubc": ordered.apply(
                lambda g: aubc(g["n_labels"], g["own_accuracy"]), include_groups=False
            ),
        }
    ).reset_index()

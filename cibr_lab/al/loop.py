"""The active-learning loop: retrain from scratch, evaluate, query, label; checkpoint each round.

Each round's randomness (weight init, shuffling, dropout, the query's draws) is seeded from
``(seed, round)`` alone, so a run interrupted after round r and resumed from its checkpoint
ends with the same labelled set and accuracies as an uninterrupted run (the wall-clock columns
naturally differ).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from cibr_lab.al.datasets import ALData
from cibr_lab.al.nets import get_net
from cibr_lab.al.pool import Pool
from cibr_lab.al.preflight import check_run
from cibr_lab.al.strategies import get_strategy
from cibr_lab.al.train import TrainConfig, accuracy, train
from cibr_lab.errors import RecordError
from cibr_lab.results import atomic_write_text

HISTORY_COLUMNS = ["round", "n_labels", "accuracy", "train_s", "query_s"]


@dataclass(frozen=True)
class Method:
    """A strategy plus the training recipe of its model (the same budget for all methods)."""

    strategy: str
    train: TrainConfig = field(default_factory=TrainConfig)
    strategy_options: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "train": self.train.as_dict()}


@dataclass(frozen=True)
class Protocol:
    """Initial labelled set, batch size of each query, number of query rounds, net."""

    n_initial: int
    query_size: int
    n_rounds: int
    net: str
    net_options: dict[str, Any] = field(default_factory=dict)


def _round_seed(seed: int, r: int, stream: int) -> int:
    return int(np.random.SeedSequence([seed, r, stream]).generate_state(1)[0])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _load_checkpoint(path: Path | None, key: dict) -> tuple[list[int], list[dict]] | None:
    if path is None or not path.exists():
        return None
    try:
        state = json.loads(path.read_text())
        stored_key, order, history = state["key"], state["labeled_order"], state["history"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RecordError(
            f"unreadable active-learning checkpoint {path} ({err}); delete it to restart that run"
        ) from None
    if stored_key != key:
        raise ValueError(
            f"checkpoint {path} was written by a different run configuration; delete it to "
            "start afresh"
        )
    return order, history


def run_active_learning(
    data: ALData,
    method: Method,
    protocol: Protocol,
    seed: int,
    device: torch.device,
    checkpoint: str | Path | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run (or resume) one active-learning curve.

    Round ``r = 0..n_rounds``: build a fresh net, train it on the labelled set (retrained from
    scratch every round), measure test accuracy, then (except after the last round) query
    ``query_size`` points and label them; the state is written atomically to ``checkpoint``
    after every round. Returns one row per round with columns :data:`HISTORY_COLUMNS`
    (``n_labels`` = labels the round trained on; ``query_s`` is NaN in the last round).
    An infeasible setup (:func:`cibr_lab.al.preflight.check_run`) is a ConfigError before
    round 0.
    """
    key = json.loads(
        json.dumps(
            {"data": data.name, "method": method.as_dict(), "protocol": asdict(protocol),
             "seed": seed},
            default=str,
        )
    )  # fmt: skip
    path = Path(checkpoint) if checkpoint is not None else None
    check_run(method, protocol, data)
    strategy = get_strategy(method.strategy, **method.strategy_options)
    resumed = _load_checkpoint(path, key)
    if resumed is None:
        pool = Pool.random_initial(
            data.x_pool.shape[0], protocol.n_initial, np.random.default_rng(seed)
        )
        history: list[dict] = []
    else:
        pool, history = Pool(data.x_pool.shape[0], resumed[0]), resumed[1]
    rounds = range(len(history), protocol.n_rounds + 1)
    for r in tqdm(rounds, desc=f"{data.name}/{method.strategy}/seed{seed}", disable=not progress):
        torch.manual_seed(_round_seed(seed, r, 0))
        net = get_net(protocol.net, data.in_shape, data.n_classes, **protocol.net_options)
        labeled, unlabeled = torch.as_tensor(pool.labeled), torch.as_tensor(pool.unlabeled)
        start = time.perf_counter()
        learner = train(
            net,
            data.x_pool[labeled],
            data.y_pool[labeled],
            data.x_pool[unlabeled],
            method.train,
            device,
            torch.Generator().manual_seed(_round_seed(seed, r, 1)),
        )
        _sync(device)
        train_s = time.perf_counter() - start
        row = {"round": r, "n_labels": pool.n_labeled, "train_s": train_s, "query_s": float("nan")}
        row["accuracy"] = accuracy(learner, data.x_test, data.y_test)
        if r < protocol.n_rounds:
            start = time.perf_counter()
            generator = torch.Generator().manual_seed(_round_seed(seed, r, 2))
            query = strategy.query(learner, data.x_pool, pool, protocol.query_size, generator)
            _sync(device)
            row["query_s"] = time.perf_counter() - start
            pool.label(query.indices)
        history.append(row)
        if path is not None:
            state = {"key": key, "labeled_order": pool.labeled_order.tolist(), "history": history}
            atomic_write_text(path, json.dumps(state))
    return pd.DataFrame(history, columns=HISTORY_COLUMNS)

"""The active-learning loop: retrain from scratch, evaluate, query, label; checkpoint each round.

One evaluation recipe per comparison: a :class:`Method` may name an ``evaluation`` training
recipe; each round's labelled set is then also scored by a fresh model trained with that recipe
(same seeds), and ``accuracy`` is that model's, while ``own_accuracy`` is the method's own
reported model. Methods whose training recipe equals the evaluation recipe reuse their model.

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
from cibr_lab.al.diagnostics import DIAGNOSTICS, round_diagnostics
from cibr_lab.al.learner import Learner
from cibr_lab.al.nets import get_net
from cibr_lab.al.pool import Pool
from cibr_lab.al.preflight import check_run
from cibr_lab.al.strategies import get_strategy
from cibr_lab.al.train import TrainConfig, accuracy, train
from cibr_lab.errors import RecordError
from cibr_lab.results import atomic_write_text

HISTORY_COLUMNS = [
    "round",
    "n_labels",
    "accuracy",
    "own_accuracy",
    "train_s",
    "query_s",
    *DIAGNOSTICS,
]


@dataclass(frozen=True)
class Method:
    """A strategy, the training recipe of its model and the recipe its labelled sets are
    evaluated with (None: its own model)."""

    strategy: str
    train: TrainConfig = field(default_factory=TrainConfig)
    strategy_options: dict[str, Any] = field(default_factory=dict)
    evaluation: TrainConfig | None = None

    @property
    def separate_evaluation(self) -> bool:
        """Whether each round trains a second (evaluation) model."""
        return self.evaluation is not None and self.evaluation != self.train

    def as_dict(self) -> dict[str, Any]:
        evaluation = None if self.evaluation is None else self.evaluation.as_dict()
        return {**asdict(self), "train": self.train.as_dict(), "evaluation": evaluation}


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


def _train_round(
    data: ALData,
    labeled: np.ndarray,
    unlabeled: np.ndarray,
    cfg: TrainConfig,
    protocol: Protocol,
    seed: int,
    r: int,
    device: torch.device,
) -> Learner:
    """A fresh net trained with ``cfg`` on round ``r``'s labelled set; init and shuffling are
    seeded from ``(seed, r)`` only, so two recipes of one round start from the same weights."""
    torch.manual_seed(_round_seed(seed, r, 0))
    net = get_net(protocol.net, data.in_shape, data.n_classes, **protocol.net_options)
    lab, unl = torch.as_tensor(labeled), torch.as_tensor(unlabeled)
    return train(
        net,
        data.x_pool[lab],
        data.y_pool[lab],
        data.x_pool[unl],
        cfg,
        device,
        torch.Generator().manual_seed(_round_seed(seed, r, 1)),
    )


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
    (``n_labels`` = labels the round trained on; ``accuracy`` of the evaluation recipe's model,
    ``own_accuracy`` of the method's; ``query_s`` and the query diagnostics are NaN in the last
    round; :mod:`cibr_lab.al.diagnostics` for the rest).
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
        labeled, unlabeled = pool.labeled, pool.unlabeled
        start = time.perf_counter()
        learner = _train_round(data, labeled, unlabeled, method.train, protocol, seed, r, device)
        _sync(device)
        train_s = time.perf_counter() - start
        row = {"round": r, "n_labels": pool.n_labeled, "train_s": train_s, "query_s": float("nan")}
        row["own_accuracy"] = accuracy(learner, data.x_test, data.y_test)
        row["accuracy"] = row["own_accuracy"]
        if method.separate_evaluation:
            judge = _train_round(
                data, labeled, unlabeled, method.evaluation, protocol, seed, r, device
            )
            row["accuracy"] = accuracy(judge, data.x_test, data.y_test)
        picks = None
        if r < protocol.n_rounds:
            start = time.perf_counter()
            generator = torch.Generator().manual_seed(_round_seed(seed, r, 2))
            picks = strategy.query(
                learner, data.x_pool, pool, protocol.query_size, generator
            ).indices
            _sync(device)
            row["query_s"] = time.perf_counter() - start
            pool.label(picks)
        row.update(
            round_diagnostics(
                learner,
                data.x_pool,
                data.y_pool,
                labeled,
                unlabeled,
                picks,
                data.n_classes,
                torch.Generator().manual_seed(_round_seed(seed, r, 3)),
            )
        )
        history.append(row)
        if path is not None:
            state = {"key": key, "labeled_order": pool.labeled_order.tolist(), "history": history}
            atomic_write_text(path, json.dumps(state))
    return pd.DataFrame(history, columns=HISTORY_COLUMNS)

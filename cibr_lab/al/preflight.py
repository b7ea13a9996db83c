"""Checks of active-learning runs before any training: the protocol against the pool, the
strategy against the run's net and training recipe.

Every problem is a :class:`~cibr_lab.errors.ConfigError` that names the bad value, raised before
round 0 of a run (``check_run``) or before the first curve of a grid (``check_runs``), so an
infeasible setup costs no training.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch

from cibr_lab.al.datasets import ALData
from cibr_lab.al.nets import get_net
from cibr_lab.al.strategies import get_strategy
from cibr_lab.errors import ConfigError

if TYPE_CHECKING:
    from cibr_lab.al.loop import Method, Protocol

MINIMA: dict[str, tuple[int, str]] = {
    "n_initial": (2, " (training needs 2 labelled points)"),
    "query_size": (1, ""),
    "n_rounds": (0, ""),
}


def check_protocol(protocol: Protocol, pool_size: int, mmd_weight: float = 0.0) -> None:
    """Raise a ConfigError unless ``protocol`` can run on a pool of ``pool_size`` points.

    Needs int ``n_initial >= 2``, ``query_size >= 1``, ``n_rounds >= 0`` and
    ``n_initial + n_rounds * query_size <= pool_size``; with MMD training (``mmd_weight > 0``)
    the last round must still leave at least 2 unlabelled points.
    """
    for name, (minimum, why) in MINIMA.items():
        value = getattr(protocol, name)
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
            raise ConfigError(f"protocol {name} must be an int >= {minimum}{why}, got {value!r}")
    n0, b, r = protocol.n_initial, protocol.query_size, protocol.n_rounds
    needed = n0 + r * b
    if needed > pool_size:
        raise ConfigError(
            f"protocol needs {n0} + {r} x {b} = {needed} labels but the pool has {pool_size} points"
        )
    if mmd_weight > 0 and pool_size - needed < 2:
        raise ConfigError(
            f"MMD training (mmd_weight {mmd_weight:g}) needs at least 2 unlabelled points in every "
            f"round, but the last round leaves {pool_size} - {needed} = {pool_size - needed}"
        )


def check_run(method: Method, protocol: Protocol, data: ALData) -> None:
    """Raise a ConfigError when ``method`` under ``protocol`` cannot run on ``data``.

    Checks the protocol against the pool size (:func:`check_protocol`), then the strategy
    against a net of the run, built on the meta device (no memory, no initialisation), and
    against the training recipe (``Strategy.check_setup``).
    """
    check_protocol(protocol, data.x_pool.shape[0], method.train.mmd_weight)
    strategy = get_strategy(method.strategy, **method.strategy_options)
    with torch.device("meta"):
        net = get_net(protocol.net, data.in_shape, data.n_classes, **protocol.net_options)
    strategy.check_setup(net, protocol.net, method.train)


def check_runs(runs: Mapping[str, tuple[Method, Protocol, ALData]]) -> None:
    """:func:`check_run` on every ``label -> (method, protocol, data)`` of a grid; one
    ConfigError lists every failing label with its problem."""
    problems = []
    for label, (method, protocol, data) in runs.items():
        try:
            check_run(method, protocol, data)
        except ConfigError as err:
            problems.append(f"{label}: {err}")
    if problems:
        raise ConfigError(
            f"{len(problems)} of the {len(runs)} runs cannot work (none was started):\n  "
            + "\n  ".join(problems)
        )

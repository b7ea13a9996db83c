"""The strategy contract and registry: a query returns pool indices and per-candidate utilities."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from cibr_lab.al.learner import Learner
from cibr_lab.al.pool import Pool
from cibr_lab.al.train import TrainConfig
from cibr_lab.errors import ConfigError


@dataclass(frozen=True)
class Query:
    """A strategy's answer.

    ``indices [budget]``: pool indices to label, in selection order. ``candidates [M]``: the
    unlabelled pool indices that were scored, and ``utilities [M]`` their utilities (higher =
    more wanted), or None for strategies without a per-candidate score (random, coreset, BADGE).
    """

    indices: np.ndarray
    candidates: np.ndarray
    utilities: np.ndarray | None = None


class Strategy(ABC):
    """Pick ``budget`` unlabelled points of ``pool`` given a trained ``learner``.

    ``x_pool [N, ...]`` holds the inputs of the whole pool (row i is pool index i).
    """

    name: ClassVar[str]

    def check_setup(self, net: nn.Module, net_name: str, cfg: TrainConfig) -> None:
        """Raise a ConfigError before any training when the run's net (``net``, a fresh
        instance of the net called ``net_name``) or its training recipe ``cfg`` cannot give
        this strategy what it needs (by default every net and recipe will do)."""
        return None

    def query(
        self, learner: Learner, x_pool: Tensor, pool: Pool, budget: int, generator: torch.Generator
    ) -> Query:
        if x_pool.shape[0] != pool.size:
            raise ValueError(
                f"x_pool has {x_pool.shape[0]} rows but the pool has {pool.size} points"
            )
        pool.check_budget(budget)
        return self._query(learner, x_pool, pool, budget, generator)

    @abstractmethod
    def _query(
        self, learner: Learner, x_pool: Tensor, pool: Pool, budget: int, generator: torch.Generator
    ) -> Query: ...


class ScoreStrategy(Strategy):
    """Top-``budget`` unlabelled points by a per-candidate utility ``score(learner, x) -> [M]``."""

    @abstractmethod
    def score(self, learner: Learner, x: Tensor) -> Tensor: ...

    def _query(
        self, learner: Learner, x_pool: Tensor, pool: Pool, budget: int, generator: torch.Generator
    ) -> Query:
        candidates = pool.unlabeled
        utilities = self.score(learner, x_pool[torch.as_tensor(candidates)])
        if not torch.isfinite(utilities).all():
            raise ValueError(f"strategy {self.name!r} produced NaN or infinite utilities")
        top = utilities.topk(budget).indices.numpy()
        return Query(candidates[top], candidates, utilities.numpy())


STRATEGIES: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator adding a strategy to the registry under ``cls.name``."""
    STRATEGIES[cls.name] = cls
    return cls


def get_strategy(name: str, **options: Any) -> Strategy:
    """A strategy by name; unknown names are a KeyError listing the valid ones."""
    if name not in STRATEGIES:
        raise ConfigError(
            f"unknown strategy {name!r}; valid strategies: {', '.join(sorted(STRATEGIES))}"
        )
    return STRATEGIES[name](**options)

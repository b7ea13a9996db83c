"""MPTS acquisition (our reconstruction): uncertainty over trajectory snapshots.

The MMD-regularised training and the SWA / cyclic trajectory that produces the snapshots live in
``cibr_lab.al.train`` (``mmd_weight``, ``swa``, ``n_snapshots``); this file is the acquisition:
the entropy of the mean snapshot prediction (default) or BALD across snapshots.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from cibr_lab.al import scores
from cibr_lab.al.learner import Learner, MissingCapability
from cibr_lab.al.strategies.base import ScoreStrategy, register
from cibr_lab.al.train import TrainConfig
from cibr_lab.errors import ConfigError


@dataclass(frozen=True)
class SnapshotScore:
    """A utility of snapshot predictions ``[K, N, C] -> [N]``, meaningful from ``min_snapshots``
    snapshots on (``why`` says what goes wrong below that)."""

    fn: Callable[[Tensor], Tensor]
    min_snapshots: int = 1
    why: str = ""


SNAPSHOT_SCORES: dict[str, SnapshotScore] = {
    "entropy": SnapshotScore(scores.mean_entropy),
    "bald": SnapshotScore(
        scores.bald,
        min_snapshots=2,
        why="BALD measures disagreement between snapshots and is identically zero over one",
    ),
}


@register
class TrajectorySampling(ScoreStrategy):
    """Top-b by ``score`` (``entropy`` or ``bald``) over the learner's trajectory snapshots."""

    name = "mpts"

    def __init__(self, score: str = "entropy") -> None:
        if score not in SNAPSHOT_SCORES:
            raise ConfigError(
                f"unknown snapshot score {score!r}; "
                f"valid scores: {', '.join(sorted(SNAPSHOT_SCORES))}"
            )
        self.score_name, self.snapshot_score = score, SNAPSHOT_SCORES[score]

    def _check_count(self, n_snapshots: int, error: type[Exception]) -> None:
        need = self.snapshot_score.min_snapshots
        if n_snapshots < need:
            raise error(
                f"strategy 'mpts' with score {self.score_name!r} needs at least {need} trajectory "
                f"snapshots, got {n_snapshots}: {self.snapshot_score.why}"
            )

    def check_setup(self, net: nn.Module, net_name: str, cfg: TrainConfig) -> None:
        if not cfg.swa:
            raise ConfigError(
                "strategy 'mpts' needs trajectory snapshots: train with swa: true (and n_snapshots)"
            )
        self._check_count(cfg.n_snapshots, ConfigError)

    def score(self, learner: Learner, x: Tensor) -> Tensor:
        samples = learner.snapshot_proba(x)
        self._check_count(samples.shape[0], MissingCapability)
        return self.snapshot_score.fn(samples)

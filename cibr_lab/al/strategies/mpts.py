"""MPTS acquisition (our reconstruction): uncertainty over trajectory snapshots.

The MMD-regularised training and the SWA / cyclic trajectory that produces the snapshots live in
``cibr_lab.al.train`` (``mmd_weight``, ``swa``, ``n_snapshots``); this file is the acquisition:
the entropy of the mean snapshot prediction (default) or BALD across snapshots.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from cibr_lab.al import scores
from cibr_lab.al.learner import Learner
from cibr_lab.al.strategies.base import ScoreStrategy, register
from cibr_lab.al.train import TrainConfig
from cibr_lab.errors import ConfigError

SNAPSHOT_SCORES: dict[str, Callable[[Tensor], Tensor]] = {
    "entropy": scores.mean_entropy,
    "bald": scores.bald,
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
        self.score_fn = SNAPSHOT_SCORES[score]

    def check_training(self, cfg: TrainConfig) -> None:
        if not cfg.swa:
            raise ValueError(
                "strategy 'mpts' needs trajectory snapshots: train with swa: true (and n_snapshots)"
            )

    def score(self, learner: Learner, x: Tensor) -> Tensor:
        return self.score_fn(learner.snapshot_proba(x))

"""BALD with MC dropout (Gal, Islam and Ghahramani 2017): label-parameter mutual information."""

from __future__ import annotations

from torch import Tensor

from cibr_lab.al import scores
from cibr_lab.al.learner import Learner
from cibr_lab.al.strategies.base import ScoreStrategy, register


@register
class BALD(ScoreStrategy):
    """Top-b by ``scores.bald`` over ``n_samples`` dropout passes (needs a net with dropout)."""

    name = "bald"

    def __init__(self, n_samples: int = 10) -> None:
        if n_samples < 2:
            raise ValueError(f"BALD needs n_samples >= 2, got {n_samples}")
        self.n_samples = n_samples

    def score(self, learner: Learner, x: Tensor) -> Tensor:
        return scores.bald(learner.mc_proba(x, self.n_samples))

"""Uncertainty sampling: predictive entropy of the reported model."""

from __future__ import annotations

from torch import Tensor

from cibr_lab.al import scores
from cibr_lab.al.learner import Learner
from cibr_lab.al.strategies.base import ScoreStrategy, register


@register
class Entropy(ScoreStrategy):
    """Top-b unlabelled points by ``scores.entropy`` of the reported model's probabilities."""

    name = "entropy"

    def score(self, learner: Learner, x: Tensor) -> Tensor:
        return scores.entropy(learner.predict_proba(x))

"""Uncertainty sampling: smallest gap between the two most probable classes."""

from __future__ import annotations

from torch import Tensor

from cibr_lab.al import scores
from cibr_lab.al.learner import Learner
from cibr_lab.al.strategies.base import ScoreStrategy, register


@register
class Margin(ScoreStrategy):
    """Top-b unlabelled points by ``scores.margin`` of the reported model's probabilities."""

    name = "margin"

    def score(self, learner: Learner, x: Tensor) -> Tensor:
        return scores.margin(learner.predict_proba(x))

"""Uncertainty sampling: 1 - max_c p_c of the reported model."""

from __future__ import annotations

from torch import Tensor

from cibr_lab.al import scores
from cibr_lab.al.learner import Learner
from cibr_lab.al.strategies.base import ScoreStrategy, register


@register
class LeastConfidence(ScoreStrategy):
    """Top-b unlabelled points by ``scores.least_confidence`` of the reported model."""

    name = "least_confidence"

    def score(self, learner: Learner, x: Tensor) -> Tensor:
        return scores.least_confidence(learner.predict_proba(x))

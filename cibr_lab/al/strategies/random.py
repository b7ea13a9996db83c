"""Random sampling: the baseline every strategy must beat."""

from __future__ import annotations

import torch
from torch import Tensor

from cibr_lab.al.learner import Learner
from cibr_lab.al.pool import Pool
from cibr_lab.al.strategies.base import Query, Strategy, register


@register
class RandomSampling(Strategy):
    """Uniform without replacement over the unlabelled points (the learner is not consulted)."""

    name = "random"

    def _query(
        self, learner: Learner, x_pool: Tensor, pool: Pool, budget: int, generator: torch.Generator
    ) -> Query:
        candidates = pool.unlabeled
        pick = torch.randperm(candidates.size, generator=generator)[:budget].numpy()
        return Query(candidates[pick], candidates)

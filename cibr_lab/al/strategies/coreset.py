"""Coreset (Sener and Savarese 2018): k-center greedy on the reported model's features."""

from __future__ import annotations

import torch
from torch import Tensor

from cibr_lab.al.kcenter import kcenter_greedy
from cibr_lab.al.learner import Learner
from cibr_lab.al.pool import Pool
from cibr_lab.al.strategies.base import Query, Strategy, register


@register
class Coreset(Strategy):
    """Greedy k-center over the whole pool's penultimate features, labelled points as centers."""

    name = "coreset"

    def _query(
        self, learner: Learner, x_pool: Tensor, pool: Pool, budget: int, generator: torch.Generator
    ) -> Query:
        feats = learner.features(x_pool).to(learner.device)  # select on the model's device
        mask = torch.as_tensor(pool.labeled_mask, device=learner.device)
        picked = kcenter_greedy(feats, mask, budget).cpu().numpy()
        return Query(picked, pool.unlabeled)

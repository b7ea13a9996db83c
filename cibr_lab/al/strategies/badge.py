"""BADGE (Ash et al. 2020): k-means++ seeding on last-layer gradient embeddings."""

from __future__ import annotations

import torch
from torch import Tensor

from cibr_lab.al.kmeanspp import badge_kmeanspp
from cibr_lab.al.learner import Learner
from cibr_lab.al.pool import Pool
from cibr_lab.al.strategies.base import Query, Strategy, register


@register
class BADGE(Strategy):
    """k-means++ on ``(p - onehot(argmax p)) h^T`` of the unlabelled points, in closed form."""

    name = "badge"

    def _query(
        self, learner: Learner, x_pool: Tensor, pool: Pool, budget: int, generator: torch.Generator
    ) -> Query:
        candidates = pool.unlabeled
        x = x_pool[torch.as_tensor(candidates)]
        probs, feats = learner.predict_proba(x), learner.features(x)  # select on the model's device
        pick = badge_kmeanspp(probs.to(learner.device), feats.to(learner.device), budget, generator)
        return Query(candidates[pick.cpu().numpy()], candidates)

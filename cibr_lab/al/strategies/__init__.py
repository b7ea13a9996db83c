"""Query strategies: one file each, behind one registry (``get_strategy``)."""

from cibr_lab.al.strategies import (  # noqa: F401  (imports register the strategies)
    badge,
    bald,
    coreset,
    entropy,
    least_confidence,
    margin,
    mpts,
    random,
)
from cibr_lab.al.strategies.base import STRATEGIES, Query, ScoreStrategy, Strategy, get_strategy

__all__ = ["STRATEGIES", "Query", "ScoreStrategy", "Strategy", "get_strategy"]

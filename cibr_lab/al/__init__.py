"""Active learning: pools, strategies (MPTS and baselines), the loop and budget metrics.

The experiments of the chapter live in ``cibr_lab.al.experiment`` (imported on demand).
"""

from cibr_lab.al.kcenter import kcenter_greedy
from cibr_lab.al.kmeanspp import badge_kmeanspp, gradient_embedding
from cibr_lab.al.learner import Learner, MissingCapability
from cibr_lab.al.loop import Method, Protocol, run_active_learning
from cibr_lab.al.metrics import aubc, labeling_efficiency
from cibr_lab.al.nets import ALNet, get_net
from cibr_lab.al.pool import Pool
from cibr_lab.al.strategies import STRATEGIES, Query, Strategy, get_strategy
from cibr_lab.al.train import TrainConfig, train

__all__ = [
    "ALNet",
    "Learner",
    "Method",
    "MissingCapability",
    "Pool",
    "Protocol",
    "Query",
    "STRATEGIES",
    "Strategy",
    "TrainConfig",
    "aubc",
    "badge_kmeanspp",
    "get_net",
    "get_strategy",
    "gradient_embedding",
    "kcenter_greedy",
    "labeling_efficiency",
    "run_active_learning",
    "train",
]

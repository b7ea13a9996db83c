"""OOD detection: post-hoc scores, activation shapings, metrics and the OOD-R filter.

Sign convention, stated once for the whole package: **every score is higher for samples that look
more in-distribution (ID)** (pytorch-ood uses the opposite sign). The metrics report both
conventions under distinct names: ``fpr95`` and ``aupr_*`` with ID as the positive class (the
ReAct / Energy / GradNorm papers), ``fpr95_openood`` and ``aupr_*_trapz`` as OpenOOD v1.5
computes them (OOD positive, trapezoid AUPR); see :mod:`cibr_lab.ood.metrics`.

Models are used through two attributes: ``model.features(x) -> [N, D]`` (penultimate features,
after the last non-linearity and pooling) and ``model.head`` (the final ``nn.Linear``).
"""

from cibr_lab.ood.base import Score, Scorer, Shaping
from cibr_lab.ood.metrics import METRICS, ood_metrics
from cibr_lab.ood.registry import defaults, get_scorer, get_shaping, method_grid, sweep_grid
from cibr_lab.ood.scores import SCORES
from cibr_lab.ood.shapings import SHAPINGS, actfun

__all__ = [
    "METRICS",
    "SCORES",
    "SHAPINGS",
    "Score",
    "Scorer",
    "Shaping",
    "actfun",
    "defaults",
    "get_scorer",
    "get_shaping",
    "method_grid",
    "ood_metrics",
    "sweep_grid",
]

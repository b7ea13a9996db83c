"""Redundancy estimators behind a registry: one file per estimator."""

from __future__ import annotations

from cibr_lab.cibr.estimators.base import RedundancyEstimator
from cibr_lab.cibr.estimators.ceb import CEBEstimator, ResidualPredictor, gaussian_kl
from cibr_lab.cibr.estimators.mine import MINEEstimator
from cibr_lab.errors import ConfigError

ESTIMATORS: dict[str, type[RedundancyEstimator]] = {
    "ceb": CEBEstimator,
    "mine": MINEEstimator,
}


def get_estimator(name: str, embed_dim: int, **params) -> RedundancyEstimator:
    """Build an estimator by name; an unknown name is a ``KeyError`` listing the valid ones."""
    if name not in ESTIMATORS:
        raise ConfigError(
            f"unknown CIBR estimator {name!r}; valid estimators: {', '.join(ESTIMATORS)}"
        )
    return ESTIMATORS[name](embed_dim, **params)


__all__ = [
    "ESTIMATORS",
    "CEBEstimator",
    "MINEEstimator",
    "RedundancyEstimator",
    "ResidualPredictor",
    "gaussian_kl",
    "get_estimator",
]

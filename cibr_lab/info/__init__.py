"""Information estimators: variational MI bounds, closed forms, and MMD."""

from cibr_lab.info.bounds import (
    MineObjective,
    donsker_varadhan,
    get_objective,
    infonce,
    nwj,
)
from cibr_lab.info.discrete import conditional_mutual_information, entropy, mutual_information
from cibr_lab.info.gaussian import (
    gaussian_log_ratio,
    gaussian_mi,
    linear_encoder_terms,
    rho_for_mi,
    sample_correlated,
)
from cibr_lab.info.mmd import median_bandwidths, mmd2

__all__ = [
    "MineObjective",
    "conditional_mutual_information",
    "donsker_varadhan",
    "entropy",
    "gaussian_log_ratio",
    "gaussian_mi",
    "get_objective",
    "infonce",
    "linear_encoder_terms",
    "median_bandwidths",
    "mmd2",
    "mutual_information",
    "nwj",
    "rho_for_mi",
    "sample_correlated",
]

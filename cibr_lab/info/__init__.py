"""Information estimators: variational MI bounds, closed forms, and MMD."""

from cibr_lab.info.bounds import (
    MineObjective,
    donsker_varadhan,
    get_objective,
    infonce,
    infonce_floor,
    nwj,
)
from cibr_lab.info.discrete import conditional_mutual_information, entropy, mutual_information
from cibr_lab.info.gaussian import (
    ceb_bound,
    ceb_bound_gap,
    gaussian_log_ratio,
    gaussian_mi,
    gaussian_pair_log_ratio,
    linear_encoder_terms,
    rho_for_mi,
    sample_correlated,
)
from cibr_lab.info.mmd import median_bandwidths, mmd2

__all__ = [
    "MineObjective",
    "ceb_bound",
    "ceb_bound_gap",
    "conditional_mutual_information",
    "donsker_varadhan",
    "entropy",
    "gaussian_log_ratio",
    "gaussian_mi",
    "gaussian_pair_log_ratio",
    "get_objective",
    "infonce",
    "infonce_floor",
    "linear_encoder_terms",
    "median_bandwidths",
    "mmd2",
    "mutual_information",
    "nwj",
    "rho_for_mi",
    "sample_correlated",
]

"""Runtime: device selection, seeding, profiles and paths."""

from cibr_lab.runtime.device import autocast, get_device
from cibr_lab.runtime.paths import data_dir, results_dir
from cibr_lab.runtime.profiles import Profile, get_profile, profile_names
from cibr_lab.runtime.seed import seed_everything

__all__ = [
    "Profile",
    "autocast",
    "data_dir",
    "get_device",
    "get_profile",
    "profile_names",
    "results_dir",
    "seed_everything",
]

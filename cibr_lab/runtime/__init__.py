"""Runtime: device selection, seeding, profiles and paths."""

from cibr_lab.runtime.device import autocast, fused_adam, get_device, torch_threads
from cibr_lab.runtime.paths import data_dir, results_dir
from cibr_lab.runtime.profiles import Profile, get_profile, profile_names
from cibr_lab.runtime.seed import seed_everything
from cibr_lab.runtime.shard import WHOLE, Shard

__all__ = [
    "Profile",
    "Shard",
    "WHOLE",
    "autocast",
    "check_environment",
    "data_dir",
    "fused_adam",
    "get_device",
    "get_profile",
    "profile_names",
    "results_dir",
    "seed_everything",
    "torch_threads",
]


def check_environment() -> None:
    """Validate every ``CIBR_LAB_*`` variable before work starts (a clear ``ConfigError``)."""
    from cibr_lab.results.records import reuse_policy

    get_device()
    data_dir()
    results_dir()
    reuse_policy()

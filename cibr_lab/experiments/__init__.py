"""Chapter experiments runnable without Jupyter (``cibr-lab run CHAPTER``).

The registry maps a chapter name to ``"module:function"``; the function takes a
:class:`~cibr_lab.runtime.Profile`, writes its records and returns its tables. Imports are
lazy so the command line starts fast.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from cibr_lab.errors import ConfigError

EXPERIMENTS: dict[str, str] = {
    "theory": "cibr_lab.experiments.theory:run",
    "cibr": "cibr_lab.cibr.experiment:run",
    "al": "cibr_lab.al.experiment:run",
    "ood": "cibr_lab.ood.experiment:run",
    "ood_imagenet": "cibr_lab.ood.full:run_imagenet",
}


def get_experiment(chapter: str) -> Callable:
    """The run function of a chapter; an unknown name lists the valid ones."""
    if chapter not in EXPERIMENTS:
        raise ConfigError(
            f"unknown chapter {chapter!r}; valid chapters: {', '.join(sorted(EXPERIMENTS))}"
        )
    module, func = EXPERIMENTS[chapter].split(":")
    return getattr(import_module(module), func)

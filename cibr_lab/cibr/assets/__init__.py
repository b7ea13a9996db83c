"""JSON data of the CIBR chapter: model configs, prompt templates, class names, caption words."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from cibr_lab.errors import ConfigError


def asset_path(name: str) -> Path:
    """Filesystem path of a file in this folder."""
    return Path(str(resources.files(__name__).joinpath(name)))


@cache
def load_asset(name: str) -> Any:
    """Parsed JSON of ``<name>.json``; an unknown name lists the available ones."""
    folder = resources.files(__name__)
    available = sorted(
        p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")
    )
    if name not in available:
        raise ConfigError(f"unknown asset {name!r}; available: {', '.join(available)}")
    return json.loads(folder.joinpath(f"{name}.json").read_text())

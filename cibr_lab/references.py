"""The numbers the book quotes from other papers and leaderboards, read from ``references.yaml``.

Each group of numbers carries its source (paper or leaderboard, URL or arXiv id, table or
figure), its unit and its kind (``published`` or ``our_estimate``). Chapters glue these values
instead of typing them: ``get("openood_v15_cifar10_resnet18.msp_near")`` is one number,
``reference("openood_v15_cifar10_resnet18")`` the whole group with its citation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from cibr_lab.errors import ConfigError

#: The fields every group must state, besides its values.
FIELDS = ("source", "url", "where", "unit", "kind")
KINDS = ("published", "our_estimate")


@dataclass(frozen=True)
class Reference:
    """One group of quoted numbers and where they come from."""

    key: str
    source: str
    url: str
    where: str
    unit: str
    kind: str
    values: Mapping[str, float]

    def citation(self) -> str:
        """``source (url), where``: what a chapter prints beside the numbers."""
        return f"{self.source} ({self.url}), {self.where}"


def _parse(key: str, entry: object) -> Reference:
    if not isinstance(entry, dict):
        raise ConfigError(f"references.yaml {key!r} must be a mapping, got {entry!r}")
    missing = [f for f in (*FIELDS, "values") if not entry.get(f)]
    if missing:
        raise ConfigError(f"references.yaml {key!r} lacks {', '.join(missing)}")
    if entry["kind"] not in KINDS:
        raise ConfigError(
            f"references.yaml {key!r} kind {entry['kind']!r}; valid kinds: {', '.join(KINDS)}"
        )
    values = entry["values"]
    bad = [n for n, v in values.items() if isinstance(v, bool) or not isinstance(v, int | float)]
    if bad:
        raise ConfigError(f"references.yaml {key!r} values {bad} are not numbers")
    return Reference(key, *(str(entry[f]) for f in FIELDS), dict(values))


@cache
def references() -> dict[str, Reference]:
    """Every group of ``references.yaml`` by key, validated (each has a source and a unit)."""
    text = resources.files("cibr_lab").joinpath("references.yaml").read_text()
    return {key: _parse(key, entry) for key, entry in (yaml.safe_load(text) or {}).items()}


def reference(group: str) -> Reference:
    """One group of quoted numbers, e.g. ``reference("open_clip_vit_b32_openai")``."""
    groups = references()
    if group not in groups:
        raise ConfigError(f"unknown reference {group!r}; known: {', '.join(groups)}")
    return groups[group]


def get(key: str) -> float:
    """One quoted number, ``"group.name"``, e.g. ``get("clip_training.batch_size")``."""
    group, dot, name = key.partition(".")
    if not dot:
        raise ConfigError(f"reference key {key!r} must read 'group.name'")
    values = reference(group).values
    if name not in values:
        raise ConfigError(f"unknown reference {key!r}; {group} has: {', '.join(values)}")
    return values[name]

"""Experiment profiles (``smoke``, ``embedded``, ``full``) as validated data.

The profiles live in ``configs/profiles/``: ``_profiles.yaml`` gives each profile's description
and seeds, and each other file ``<section>.yaml`` gives one chapter's settings for every
profile. Every profile must carry exactly the keys of the ``embedded`` profile, so a chapter
reads the same keys whatever the profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from cibr_lab.errors import ConfigError
from cibr_lab.results.version import config_hash
from cibr_lab.runtime.schema import validate_section

REFERENCE = "embedded"


@dataclass(frozen=True)
class Profile:
    """A named experiment configuration; ``section(chapter)`` gives one chapter's settings."""

    name: str
    description: str
    seeds: tuple[int, ...]
    sections: Mapping[str, Mapping[str, Any]] = field(repr=False)
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)

    def section(self, chapter: str) -> dict[str, Any]:
        """Settings for one chapter (a fresh dict: callers may modify it)."""
        if chapter not in self.sections:
            raise ConfigError(
                f"unknown chapter section {chapter!r} in profile {self.name!r}; "
                f"valid sections: {', '.join(sorted(self.sections))}"
            )
        return dict(self.sections[chapter])


@cache
def _schema() -> dict[str, dict[str, str]]:
    folder = resources.files("cibr_lab").joinpath("configs/profiles")
    return yaml.safe_load(folder.joinpath("_schema.yaml").read_text())


@cache
def _raw_profiles() -> dict[str, dict[str, Any]]:
    folder = resources.files("cibr_lab").joinpath("configs/profiles")
    raw = yaml.safe_load(folder.joinpath("_profiles.yaml").read_text())
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml") and not entry.name.startswith("_"):
            section = entry.name.removesuffix(".yaml")
            for name, values in yaml.safe_load(entry.read_text()).items():
                if name not in raw:
                    raise ConfigError(
                        f"{entry.name} names profile {name!r}, absent from _profiles.yaml"
                    )
                raw[name][section] = values
    return raw


def profile_names() -> list[str]:
    """Names of the available profiles."""
    return sorted(_raw_profiles())


def _check_keys(where: str, given: Mapping[str, Any], valid: Mapping[str, Any]) -> None:
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r} in {where}; valid keys: {', '.join(sorted(valid))}"
        )


def _check_seeds(name: str, seeds: Any) -> tuple[int, ...]:
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise ConfigError(f"profile {name!r}: seeds must be a non-empty list, got {seeds!r}")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if bad:
        raise ConfigError(f"profile {name!r}: seeds must be non-negative ints, got {bad[0]!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"profile {name!r}: seeds repeat: {list(seeds)}")
    return tuple(seeds)


def _build(
    name: str, raw: Mapping[str, Any], reference: Mapping[str, Any], label: str = ""
) -> Profile:
    _check_keys(f"profile {name!r}", raw, reference)
    missing = sorted(set(reference) - set(raw))
    if missing:
        raise ConfigError(f"profile {name!r} lacks key {missing[0]!r}")
    sections = {}
    for chapter, ref_section in reference.items():
        if not isinstance(ref_section, Mapping):
            continue
        section = raw[chapter]
        _check_keys(f"section {chapter!r} of profile {name!r}", section, ref_section)
        lacking = sorted(set(ref_section) - set(section))
        if lacking:
            raise ConfigError(f"section {chapter!r} of profile {name!r} lacks key {lacking[0]!r}")
        validate_section(name, chapter, section, _schema().get(chapter, {}))
        sections[chapter] = dict(section)
    seeds = _check_seeds(name, raw["seeds"])
    return Profile(
        name=name,
        description=str(raw["description"]),
        seeds=seeds,
        sections=sections,
        label=label or name,
    )


def get_profile(
    name: str, overrides: Mapping[str, Mapping[str, Any]] | None = None, seeds: Any = None
) -> Profile:
    """Load and validate a profile; ``overrides`` replace keys per section, ``seeds`` the seeds.

    An unknown profile, section or key, or a value of the wrong type or range, is a
    :class:`~cibr_lab.errors.ConfigError` that names it (and lists the valid names). With
    overrides the profile's ``label`` is ``<name>+<8 hex digits of their hash>``.
    """
    raw_all = _raw_profiles()
    if name not in raw_all:
        raise ConfigError(f"unknown profile {name!r}; valid profiles: {', '.join(profile_names())}")
    reference = raw_all[REFERENCE]
    raw = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in raw_all[name].items()}
    for chapter, values in (overrides or {}).items():
        if chapter not in raw or not isinstance(raw[chapter], dict):
            valid = sorted(k for k, v in reference.items() if isinstance(v, Mapping))
            raise ConfigError(
                f"unknown chapter section {chapter!r}; valid sections: {', '.join(valid)}"
            )
        _check_keys(f"section {chapter!r} of profile {name!r}", values, reference[chapter])
        raw[chapter].update(values)
    if seeds is not None:
        raw["seeds"] = list(seeds)
    label = f"{name}+{config_hash(overrides)[:8]}" if overrides else name
    return _build(name, raw, reference, label)

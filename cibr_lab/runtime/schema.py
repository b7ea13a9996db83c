"""Typed, ranged profile values: a tiny spec language read from ``configs/profiles/_schema.yaml``.

A spec is ``int``, ``float`` (optionally with ``>=N`` or ``>N``), ``prob`` (a number in [0, 1]),
``bool``, ``str``, ``null``, ``any``, ``list[SPEC]``, ``map`` (a mapping checked key by key
against the section's specs) or ``map[SPEC]``, with alternatives joined by ``|``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from cibr_lab.errors import ConfigError

_BOUND = re.compile(r"^(int|float)(?:(>=|>)(-?[0-9.]+))?$")


def _split_alternatives(spec: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(spec):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "|" and depth == 0:
            parts.append(spec[start:i])
            start = i + 1
    return [*parts, spec[start:]]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(
        value
    )


def _problem(spec: str, value: Any, path: str, keys: Mapping[str, str]) -> str | None:
    """None when ``value`` matches ``spec``, else what is wrong (a phrase naming the path)."""
    problems = [_one(alt.strip(), value, path, keys) for alt in _split_alternatives(spec)]
    if any(p is None for p in problems):
        return None
    nested = [p for p in problems if p and not p.startswith(f"{path}:")]
    return nested[0] if nested else f"{path}: expected {spec}, got {value!r}"


def _one(spec: str, value: Any, path: str, keys: Mapping[str, str]) -> str | None:
    bad = f"{path}: expected {spec}, got {value!r}"
    if spec == "any":
        return None
    if spec == "null":
        return None if value is None else bad
    if spec == "bool":
        return None if isinstance(value, bool) else bad
    if spec == "str":
        return None if isinstance(value, str) else bad
    if spec == "prob":
        return None if _is_number(value) and 0 <= value <= 1 else bad
    if match := _BOUND.match(spec):
        kind, op, bound = match.groups()
        ok = _is_int(value) if kind == "int" else _is_number(value)
        if ok and op is not None:
            ok = value >= float(bound) if op == ">=" else value > float(bound)
        return None if ok else bad
    if spec.startswith("list[") and spec.endswith("]"):
        if not isinstance(value, list):
            return bad
        inner = spec[5:-1]
        found = (_problem(inner, v, f"{path}[{i}]", keys) for i, v in enumerate(value))
        return next((p for p in found if p), None)
    if spec == "map":
        return check_mapping(value, path, keys) if isinstance(value, Mapping) else bad
    if spec.startswith("map[") and spec.endswith("]"):
        if not isinstance(value, Mapping):
            return bad
        inner = spec[4:-1]
        found = (_problem(inner, v, f"{path}.{k}", keys) for k, v in value.items())
        return next((p for p in found if p), None)
    raise ConfigError(f"schema: unknown spec {spec!r} (for {path})")


def check_mapping(values: Mapping[str, Any], path: str, keys: Mapping[str, str]) -> str | None:
    """Check every key of ``values`` against ``keys`` (key name -> spec); first problem or None."""
    for key, value in values.items():
        if key not in keys:
            return f"{path}.{key}: no schema entry for key {key!r} (add it to _schema.yaml)"
        problem = _problem(keys[key], value, f"{path}.{key}", keys)
        if problem:
            return problem
    return None


def validate_section(profile: str, section: str, values: Mapping[str, Any], keys: Mapping) -> None:
    """Raise :class:`ConfigError` naming the first invalid value of one profile section."""
    problem = check_mapping(values, section, keys)
    if problem:
        raise ConfigError(f"profile {profile!r}: {problem}")

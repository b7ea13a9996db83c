"""The entry point: ``get_scorer(name, shaping=None, **params)``; defaults and grids from YAML."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from cibr_lab.errors import ConfigError
from cibr_lab.ood.base import Scorer, Shaping
from cibr_lab.ood.scores import SCORES
from cibr_lab.ood.shapings import SHAPINGS

_KINDS = {"scores": SCORES, "shapings": SHAPINGS}


@cache
def _methods() -> dict[str, dict[str, Any]]:
    text = resources.files("cibr_lab.ood").joinpath("methods.yaml").read_text()
    methods = yaml.safe_load(text)
    for kind, registry in _KINDS.items():
        if set(methods[kind]) != set(registry):
            raise ConfigError(
                f"methods.yaml {kind} {sorted(methods[kind])} != registry {sorted(registry)}"
            )
    for pair, entry in methods["redundant"].items():
        score, _, shaping = pair.partition("+")
        if score not in SCORES or {shaping, entry["same_as"]} - set(SHAPINGS):
            raise KeyError(f"methods.yaml redundant {pair!r} names an unknown score or shaping")
    return methods


def redundant(score: str, shaping: str) -> dict[str, str] | None:
    """``{same_as, why}`` when ``score`` with ``shaping`` gives the scores of ``score`` with
    ``same_as`` on any data (``methods.yaml``'s ``redundant``), else ``None``."""
    return _methods()["redundant"].get(f"{score}+{shaping}")


def method_grid(scores: list[str], shapings: list[str]) -> list[tuple[str, str]]:
    """Every ``(score, shaping)`` of ``scores x shapings`` except the redundant pairs, in order."""
    return [(sc, sh) for sc in scores for sh in shapings if redundant(sc, sh) is None]


def _entry(kind: str, name: str) -> dict[str, Any]:
    registry = _KINDS[kind]
    if name not in registry:
        raise ConfigError(f"unknown {kind[:-1]} {name!r}; valid names: {', '.join(registry)}")
    return _methods()[kind][name]


def defaults(kind: str, name: str) -> dict[str, Any]:
    """Default parameters of a score (``kind="scores"``) or shaping (``kind="shapings"``)."""
    return dict(_entry(kind, name)["defaults"])


def sweep_grid(kind: str, name: str) -> dict[str, list[Any]]:
    """The values a hyperparameter sweep tries, per parameter."""
    return {k: list(v) for k, v in _entry(kind, name)["grid"].items()}


def _build(kind: str, name: str, params: dict[str, Any]) -> Any:
    base = defaults(kind, name)
    unknown = sorted(set(params) - set(base))
    if unknown:
        valid = ", ".join(sorted(base)) or "none"
        raise ConfigError(
            f"unknown parameter {unknown[0]!r} for {kind[:-1]} {name!r}; valid: {valid}"
        )
    cls = _KINDS[kind][name]
    return cls(**{**base, **params})


def get_shaping(name: str = "none", **params: Any) -> Shaping:
    """A fresh shaping by registry name (``"none"`` is the identity); params override defaults."""
    return _build("shapings", name, params)


def get_scorer(name: str, shaping: str | Shaping | None = None, **params: Any) -> Scorer:
    """A score composed with an optional shaping.

    Parameters
    ----------
    name : a key of :data:`cibr_lab.ood.scores.SCORES` (msp, maxlogit, energy, odin, gradnorm,
        mahalanobis, knn, vim).
    shaping : ``None``, a key of :data:`cibr_lab.ood.shapings.SHAPINGS` (with its default
        parameters) or a :class:`Shaping` built by :func:`get_shaping`.
    **params : parameters of the score, overriding the defaults in ``methods.yaml``.

    Raises
    ------
    ValueError for a pair whose scores equal another pair's on any data (``methods.yaml``'s
    ``redundant``, e.g. ``knn`` with ``dice``), naming the pair to use.

    Returns
    -------
    :class:`Scorer` with ``fit(features, labels, head)`` and ``score(features, head) -> [N]``
    (higher = more in-distribution), plus ``score_inputs(model, inputs)``.
    """
    score = _build("scores", name, params)
    if not isinstance(shaping, Shaping):
        shaping = get_shaping("none" if shaping is None else shaping)
    twin = redundant(name, shaping.name)
    if twin is not None:
        same = name if twin["same_as"] == "none" else f"{name}+{twin['same_as']}"
        raise ValueError(
            f"{name}+{shaping.name} gives the scores of {same} on any data ({twin['why']}): "
            f"use {same}"
        )
    return Scorer(score, shaping)

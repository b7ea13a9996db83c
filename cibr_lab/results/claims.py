"""The claims registry: paper claims as data, evaluated against experiment records.

Each chapter lists the claims it tests in ``configs/claims/<chapter>.yaml``. A claim names the
experiment and the per-seed metric that would support it (optionally minus a paired baseline
metric), the direction and the threshold. :func:`evaluate_claims` computes the mean over seeds,
a 95% t-interval and a verdict: *supported* when the whole interval lies on the claimed side of
the threshold, *not supported* otherwise, *not testable here* when the claim is marked so or
there are fewer than two seeds of records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from typing import Any

import pandas as pd
import yaml

from cibr_lab.results.stats import mean_ci

DIRECTIONS = ("greater", "less")
VERDICTS = ("supported", "not supported", "not testable here")


@dataclass(frozen=True)
class Claim:
    """One claim of a paper and the measurement that would support it."""

    id: str
    paper: str
    chapter: str
    claim: str
    source: str
    experiment: str
    metric: str
    direction: str
    threshold: float = 0.0
    baseline_metric: str | None = None
    where: Mapping[str, Any] = field(default_factory=dict)
    testable: bool = True
    note: str = ""

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(
                f"claim {self.id!r}: direction {self.direction!r} is not one of {DIRECTIONS}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Claim:
        """Build a claim from registry data, rejecting unknown keys."""
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise KeyError(
                f"claim {data.get('id', '?')!r}: unknown key {unknown[0]!r}; "
                f"valid keys: {', '.join(sorted(valid))}"
            )
        return cls(**data)


def load_claims(chapter: str | None = None) -> list[Claim]:
    """All registered claims (or one chapter's), in registry order; ids must be unique."""
    folder = resources.files("cibr_lab").joinpath("configs/claims")
    claims: list[Claim] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            claims.extend(Claim.from_dict(d) for d in yaml.safe_load(entry.read_text()) or [])
    ids = [c.id for c in claims]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ValueError(f"duplicated claim ids in the registry: {duplicated}")
    return [c for c in claims if chapter is None or c.chapter == chapter]


def claims_table(claims: list[Claim]) -> pd.DataFrame:
    """The claims as a table (for a chapter's 'what we test' section)."""
    return pd.DataFrame([asdict(c) for c in claims])


def _per_seed(records: pd.DataFrame, claim: Claim, metric: str) -> pd.Series:
    rows = records[(records["experiment"] == claim.experiment) & (records["metric"] == metric)]
    for key, value in claim.where.items():
        if key not in rows.columns:
            return pd.Series(dtype=float)
        rows = rows[rows[key] == value]
    return rows.groupby("seed")["value"].mean()


def evaluate_claim(claim: Claim, records: pd.DataFrame) -> dict[str, Any]:
    """Estimate, 95% interval, number of seeds and verdict for one claim."""
    out: dict[str, Any] = {
        "id": claim.id,
        "paper": claim.paper,
        "claim": claim.claim,
        "measure": claim.metric + (f" - {claim.baseline_metric}" if claim.baseline_metric else ""),
        "direction": claim.direction,
        "threshold": claim.threshold,
        "n": 0,
        "estimate": float("nan"),
        "ci_low": float("nan"),
        "ci_high": float("nan"),
    }
    if not claim.testable:
        return {
            **out,
            "verdict": "not testable here",
            "detail": claim.note or "marked not testable",
        }
    records = records[records["chapter"] == claim.chapter] if len(records) else records
    values = _per_seed(records, claim, claim.metric) if len(records) else pd.Series(dtype=float)
    if claim.baseline_metric is not None and len(values):
        base = _per_seed(records, claim, claim.baseline_metric)
        values = (values - base).dropna()
    mean, lo, hi = mean_ci(values.to_numpy())
    out.update(n=int(values.size), estimate=mean, ci_low=lo, ci_high=hi)
    if values.size < 2:
        return {
            **out,
            "verdict": "not testable here",
            "detail": f"needs records from at least 2 seeds, found {values.size}",
        }
    if claim.direction == "greater":
        ok, opposite = lo > claim.threshold, hi < claim.threshold
    else:
        ok, opposite = hi < claim.threshold, lo > claim.threshold
    if ok:
        return {
            **out,
            "verdict": "supported",
            "detail": "the 95% interval lies on the claimed side",
        }
    detail = (
        "the 95% interval lies on the opposite side"
        if opposite
        else "the 95% interval straddles the threshold"
    )
    return {**out, "verdict": "not supported", "detail": detail}


def evaluate_claims(records: pd.DataFrame, claims: list[Claim] | None = None) -> pd.DataFrame:
    """Evaluate every claim (default: the whole registry) against a tidy records table."""
    claims = load_claims() if claims is None else claims
    return pd.DataFrame([evaluate_claim(c, records) for c in claims])

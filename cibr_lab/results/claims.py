"""The claims registry: paper claims as data, evaluated against experiment records.

Each chapter lists the claims it tests in ``configs/claims/<chapter>.yaml``. A claim names the
experiment and the per-seed metric that would support it (optionally minus a paired baseline
metric), the direction, the threshold and the unit; it may be ``primary`` and may carry the
paper's stated magnitude (``paper_value``, in the claim's unit). :func:`evaluate_claims` computes
the mean over seeds, a 95% Student-t interval, the two-sided p-value against the threshold, the
smallest effect the test detects with 80% power (``mde``) and a verdict (:data:`VERDICTS`):

- *supported*: the mean differs from the threshold on the claimed side at level 0.05;
- *contradicted*: it differs on the opposite side;
- *inconclusive*: it does not differ (read the ``mde`` to tell a weak test from a small effect);
- *not testable here*: the claim is marked so, or fewer than two seeds have records.

Primary claims are tested with Holm's correction across each chapter's primary claims
(``p_holm``); the others are exploratory and tested at the nominal level, which is the same as
asking whether the 95% interval excludes the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml

from cibr_lab.errors import ConfigError
from cibr_lab.results.stats import holm, mean_ci, min_detectable_effect, t_test

DIRECTIONS = ("greater", "less")
VERDICTS = ("supported", "contradicted", "inconclusive", "not testable here")
ALPHA = 0.05
POWER = 0.8


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
    unit: str
    threshold: float = 0.0
    baseline_metric: str | None = None
    where: Mapping[str, Any] = field(default_factory=dict)
    testable: bool = True
    primary: bool = False
    paper_value: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ConfigError(
                f"claim {self.id!r}: direction {self.direction!r} is not one of {DIRECTIONS}"
            )
        if self.paper_value is not None and not isinstance(self.paper_value, (int, float)):
            raise ConfigError(f"claim {self.id!r}: paper_value must be a number or null")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Claim:
        """Build a claim from registry data, rejecting unknown or missing keys."""
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise ConfigError(
                f"claim {data.get('id', '?')!r}: unknown key {unknown[0]!r}; "
                f"valid keys: {', '.join(sorted(valid))}"
            )
        try:
            return cls(**data)
        except TypeError as err:
            raise ConfigError(f"claim {data.get('id', '?')!r}: {err}") from None


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
        raise ConfigError(f"duplicated claim ids in the registry: {duplicated}")
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


def claim_values(claim: Claim, records: pd.DataFrame) -> pd.Series:
    """The claim's per-seed measure (minus the paired baseline), indexed by seed."""
    if not len(records):
        return pd.Series(dtype=float)
    records = records[records["chapter"] == claim.chapter]
    values = _per_seed(records, claim, claim.metric)
    if claim.baseline_metric is not None and len(values):
        values = values - _per_seed(records, claim, claim.baseline_metric)
    return values[np.isfinite(values)]


def _side(estimate: float, claim: Claim) -> bool:
    """Whether ``estimate`` lies on the claimed side of the threshold."""
    if claim.direction == "greater":
        return estimate > claim.threshold
    return estimate < claim.threshold


def vs_paper(paper_value: float | None, low: float, high: float) -> str:
    """Where our interval lies relative to the paper's value: contains / below / above / ''."""
    if paper_value is None or not np.isfinite(low) or not np.isfinite(high):
        return ""
    if high < paper_value:
        return "below"
    if low > paper_value:
        return "above"
    return "contains"


def evaluate_claim(claim: Claim, records: pd.DataFrame) -> dict[str, Any]:
    """Estimate, interval, p-value, mde, comparison with the paper and nominal verdict of one
    claim (``p_holm`` and the primary verdict come from :func:`evaluate_claims`)."""
    out: dict[str, Any] = {
        "id": claim.id,
        "paper": claim.paper,
        "chapter": claim.chapter,
        "claim": claim.claim,
        "measure": claim.metric + (f" - {claim.baseline_metric}" if claim.baseline_metric else ""),
        "unit": claim.unit,
        "direction": claim.direction,
        "threshold": claim.threshold,
        "role": "primary" if claim.primary else "exploratory",
        "n": 0,
        "estimate": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "sd": np.nan,
        "p": np.nan,
        "mde": np.nan,
        "paper_value": np.nan if claim.paper_value is None else float(claim.paper_value),
        "vs_paper": "",
    }
    if not claim.testable:
        return {**out, "verdict": "not testable here", "detail": claim.note or "marked so"}
    values = claim_values(claim, records).to_numpy()
    mean, lo, hi = mean_ci(values)
    sd = float(values.std(ddof=1)) if values.size > 1 else np.nan
    out.update(n=int(values.size), estimate=mean, ci_low=lo, ci_high=hi, sd=sd)
    if values.size < 2:
        detail = f"needs records from at least 2 seeds, found {values.size}"
        return {**out, "verdict": "not testable here", "detail": detail}
    out.update(
        p=t_test(values, claim.threshold),
        mde=min_detectable_effect(values.size, sd, ALPHA, POWER),
        vs_paper=vs_paper(claim.paper_value, lo, hi),
    )
    return {**out, **_verdict(out["p"], mean, claim)}


def _verdict(p: float, estimate: float, claim: Claim, level: str = "p") -> dict[str, str]:
    if p < ALPHA:
        side = "claimed" if _side(estimate, claim) else "opposite"
        verdict = "supported" if side == "claimed" else "contradicted"
        return {
            "verdict": verdict,
            "detail": f"{level} {p:.2g}: the effect lies on the {side} side",
        }
    return {"verdict": "inconclusive", "detail": f"{level} {p:.2g}: no effect detected"}


def evaluate_claims(records: pd.DataFrame, claims: list[Claim] | None = None) -> pd.DataFrame:
    """Evaluate every claim (default: the whole registry) against a tidy records table.

    Columns: id, paper, chapter, claim, measure, unit, direction, threshold, role, n, estimate,
    ci_low, ci_high, sd, p, p_holm, mde, paper_value, vs_paper, verdict, detail. ``p_holm`` is
    set for primary claims (Holm over each chapter's testable primary claims).
    """
    claims = load_claims() if claims is None else claims
    table = pd.DataFrame([evaluate_claim(c, records) for c in claims])
    table["p_holm"] = np.nan
    by_id = {c.id: c for c in claims}
    tested = table["verdict"] != "not testable here"
    for _, rows in table[tested & (table["role"] == "primary")].groupby("chapter"):
        adjusted = holm(rows["p"].to_numpy())
        for index, p_adj in zip(rows.index, adjusted, strict=True):
            table.loc[index, "p_holm"] = p_adj
            claim = by_id[table.loc[index, "id"]]
            for key, value in _verdict(
                p_adj, table.loc[index, "estimate"], claim, "Holm p"
            ).items():
                table.loc[index, key] = value
    order = [c for c in table.columns if c not in ("p_holm", "mde")]
    order[order.index("p") + 1 : order.index("p") + 1] = ["p_holm", "mde"]
    return table[order]

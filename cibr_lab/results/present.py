"""Verdicts for the page: compact tables that fit the book's width, 3 significant figures."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd
from pandas.io.formats.style import Styler

VERDICT_ORDER = ("supported", "contradicted", "inconclusive", "not testable here")
#: Cell padding for the book's tables (the theme's default runs columns together).
TABLE_STYLE = [
    {"selector": "td, th", "props": "padding: 2px 6px; vertical-align: top; font-size: 0.9em;"}
]


def styled(frame: pd.DataFrame) -> Styler:
    """``frame`` as the book shows tables: no index, padded cells."""
    return frame.style.hide(axis="index").set_table_styles(TABLE_STYLE)


def sig3(x: float) -> str:
    """``x`` with 3 significant figures ('–' for nan)."""
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:.3g}"


def interval_text(estimate: float, low: float, high: float) -> str:
    """'estimate [low, high]' with 3 significant figures."""
    if not math.isfinite(estimate):
        return "–"
    if not (math.isfinite(low) and math.isfinite(high)):
        return sig3(estimate)
    return f"{sig3(estimate)} [{sig3(low)}, {sig3(high)}]"


def verdict_frame(verdicts: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: claim id, role, estimate [95% CI] (unit), n, mde, paper's value with
    where our interval lies, verdict. Reads :func:`~cibr_lab.results.evaluate_claims` output."""
    paper = [
        "–" if not math.isfinite(v) else f"{sig3(v)} ({where})" if where else sig3(v)
        for v, where in zip(verdicts["paper_value"], verdicts["vs_paper"], strict=True)
    ]
    return pd.DataFrame(
        {
            "claim": verdicts["id"],
            "role": verdicts["role"],
            "estimate [95% CI]": [
                interval_text(e, lo, hi)
                for e, lo, hi in zip(
                    verdicts["estimate"], verdicts["ci_low"], verdicts["ci_high"], strict=True
                )
            ],
            "unit": verdicts["unit"],
            "n": verdicts["n"],
            "mde": verdicts["mde"].map(sig3),
            "paper (ours vs it)": paper,
            "verdict": verdicts["verdict"],
        }
    )


def verdict_table(verdicts: pd.DataFrame) -> Styler:
    """:func:`verdict_frame` styled for the book (no index, wrapped claim ids)."""
    return styled(verdict_frame(verdicts)).set_properties(
        subset=["claim"], **{"word-break": "break-word", "max-width": "16em"}
    )


def verdict_counts(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Paper x verdict counts (every verdict a column, zeros included)."""
    counts = pd.crosstab(verdicts["paper"], verdicts["verdict"])
    counts = counts.reindex(columns=list(VERDICT_ORDER), fill_value=0)
    counts["claims"] = counts.sum(axis=1)
    return counts


def verdict_sentence(verdicts: pd.DataFrame) -> str:
    """'k supported, k contradicted, k inconclusive, k not testable here' (zeros left out), with
    the primary claims' count in front."""
    counts = verdicts["verdict"].value_counts()
    parts = [f"{int(counts[v])} {v}" for v in VERDICT_ORDER if counts.get(v, 0)]
    n_primary = int((verdicts["role"] == "primary").sum())
    noun = "claim" if len(verdicts) == 1 else "claims"
    return f"{len(verdicts)} {noun} ({n_primary} primary): " + ", ".join(parts)


def write_download(frame: pd.DataFrame, name: str) -> Path:
    """Write ``frame`` as ``<name>.csv`` for the page's ``{download}`` links; return the path.

    The folder is ``$CIBR_LAB_DOWNLOADS`` (the book build points it at ``downloads/`` beside the
    executed notebooks, so only this build's tables are staged), else ``downloads/`` here.
    A chapter links it as ``{download}`CSV <downloads/NAME.csv>```.
    """
    folder = Path(os.environ.get("CIBR_LAB_DOWNLOADS", "downloads"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


def headline_findings(verdicts: pd.DataFrame) -> str:
    """The primary claims as a Markdown list, paper by paper: the claim, our estimate with its
    95% interval and unit, the verdict and the test's mde (for the book's first page)."""
    primary = verdicts[verdicts["role"] == "primary"]
    lines = []
    for paper, rows in primary.groupby("paper", sort=False):
        lines.append(f"- **{paper}**: {verdict_sentence(verdicts[verdicts['paper'] == paper])}.")
        for r in rows.itertuples():
            if not r.n:
                lines.append(f"  - {r.claim.rstrip('.')}: **{r.verdict}** ({r.detail}).")
                continue
            measured = interval_text(r.estimate, r.ci_low, r.ci_high)
            power = f", mde {sig3(r.mde)}" if math.isfinite(r.mde) else ""
            lines.append(
                f"  - {r.claim.rstrip('.')}: {measured} {r.unit} over {r.n} seeds, "
                f"**{r.verdict}**{power}."
            )
    return "\n".join(lines) if lines else "- No primary claim has records under this profile."

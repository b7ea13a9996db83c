# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Report: every claim beside our measurement
#
# [Open this chapter in Colab](https://colab.research.google.com/github/cibr-lab/cibr_lab/blob/main/notebooks/99_report.ipynb)
#
# Each chapter registers the paper claims it tests as data (`cibr_lab/configs/claims/`): the
# claim, its source, the per-seed measurement that would support it and its unit, whether it is
# one of the chapter's few **primary** claims, and the paper's stated magnitude where there is
# one. This chapter reads the records that the chapters wrote in *this* build (records of other
# code versions or configurations are never read) and gives every claim one of four verdicts:
#
# - **supported**: the per-seed mean differs from the threshold on the claimed side (two-sided
#   Student-t test at level 0.05; for primary claims with Holm's correction across the chapter's
#   primary claims);
# - **contradicted**: it differs on the opposite side;
# - **inconclusive**: no difference detected. The **mde** column tells a weak test from a small
#   effect: it is the smallest true effect the test finds with 80% power, given its number of
#   seeds and their measured spread (noncentral t), in the claim's unit;
# - **not testable here**: the claim needs what this profile does not have (records from at
#   least two seeds, or data and models only the full profile uses).
#
# Where the paper states a magnitude, the table says whether our 95% interval contains it or lies
# below or above it. Nothing on this page is typed by hand.

# %% tags=["hide-cell"]
# On Colab or a fresh kernel: install cibr_lab when it is missing (a no-op otherwise).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("cibr_lab") is None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q",
         "cibr_lab @ git+https://github.com/cibr-lab/cibr_lab"],
        check=True,
    )

# %% tags=["parameters"]
profile = "embedded"  # the profile whose records are reported

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import HTML, Markdown, display
from markdown_it import MarkdownIt
from myst_nb import glue

from cibr_lab.plots import glue_figure, set_theme
from cibr_lab.results import evaluate_claims, load_claims, load_records
from cibr_lab.results.present import (
    headline_findings,
    sig3,
    styled,
    verdict_counts,
    verdict_frame,
    verdict_sentence,
    write_download,
)
from cibr_lab.runtime import get_profile

set_theme()
P = get_profile(profile)
records = load_records(profile=P.label)
claims = load_claims()
report = evaluate_claims(records, claims)
glue("verdict_summary", verdict_sentence(report), display=False)
glue("n_records", int(records["path"].nunique()) if len(records) else 0, display=False)
glue("profile_name", P.label, display=False)
# The first page glues this from another document, which takes HTML (not Markdown).
glue("headline_findings", HTML(MarkdownIt().render(headline_findings(report))), display=False)

# %% [markdown]
# Profile **{glue:text}`profile_name`**, {glue:text}`n_records` experiment records:
# {glue:text}`verdict_summary`.

# %% tags=["hide-input"]
counts = verdict_counts(report)
display(counts.rename_axis(index="paper", columns=None))


def _paper_sentences(rows: pd.DataFrame) -> str:
    primary = rows[rows["role"] == "primary"]
    tested = rows[rows["verdict"] != "not testable here"]
    parts = [f"{verdict_sentence(rows)}."]
    if len(primary):
        listed = "; ".join(f"{r.id} {r.verdict}" for r in primary.itertuples())
        parts.append(f"Primary claims: {listed}.")
    weak = tested[tested["verdict"] == "inconclusive"]
    if len(weak):
        parts.append(
            f"The inconclusive tests could detect true effects of {sig3(weak['mde'].min())} to "
            f"{sig3(weak['mde'].max())} (in each claim's unit) with 80% power."
        )
    return " ".join(parts)


for paper, rows in report.groupby("paper", sort=False):
    key = "".join(ch if ch.isalnum() else "_" for ch in paper)
    glue(f"sentences_{key}", _paper_sentences(rows), display=False)
    display(Markdown(f"**{paper}.** {_paper_sentences(rows)}"))

# %% [markdown]
# ## The claims, paper by paper
#
# One row per claim: its estimate with the 95% interval (the per-seed measure, paired with the
# baseline where the claim compares two methods), the number of seeds, the smallest detectable
# effect and, where the paper gives one, its value and where our interval lies. The primary
# claims are shown; the exploratory ones open below them. The full table with p-values and the
# test of each claim is the CSV linked below.

# %% tags=["hide-input"]
write_download(report, "report-claims")
compact = verdict_frame(report).drop(columns=["role"])
for paper, rows in compact.groupby(report["paper"], sort=False):
    display(Markdown(f"### {paper}"))
    primary = report.loc[rows.index, "role"] == "primary"
    display(styled(rows[primary]))
    if (~primary).any():
        table = styled(rows[~primary]).to_html()
        summary = f"{int((~primary).sum())} exploratory claims"
        display(HTML(f"<details><summary>{summary}</summary>{table}</details>"))

# %% [markdown]
# All columns, p-values included: {download}`report-claims.csv <downloads/report-claims.csv>`.

# %% tags=["hide-input"]
COLOURS = {"supported": "tab:green", "contradicted": "tab:red", "inconclusive": "tab:grey"}
testable = report.dropna(subset=["ci_low", "ci_high"])
if len(testable):
    units = list(dict.fromkeys(testable["unit"]))
    heights = [len(testable[testable["unit"] == u]) + 1.2 for u in units]
    fig, axes = plt.subplots(len(units), 1, figsize=(7.5, 0.32 * sum(heights) + 0.6),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, unit in zip(axes[:, 0], units):
        rows = testable[testable["unit"] == unit]
        y = np.arange(len(rows))
        ax.hlines(y, rows["ci_low"], rows["ci_high"], colors=rows["verdict"].map(COLOURS), lw=3)
        ax.scatter(rows["estimate"], y, color="k", zorder=3, s=12)
        ax.scatter(rows["paper_value"], y, marker="x", color="tab:purple", zorder=4, s=30)
        for yi, thr in zip(y, rows["threshold"]):
            ax.vlines(thr, yi - 0.4, yi + 0.4, colors="k", linestyles="--", lw=0.8)
        arrow = {"greater": ">", "less": "<"}
        ax.set_yticks(y, [f"{i} ({arrow[d]})" for i, d in zip(rows["id"], rows["direction"])],
                      fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(unit, fontsize=9)
        ax.xaxis.set_major_locator(plt.MaxNLocator(6))
    handles = [plt.Line2D([], [], color=c, lw=3, label=v) for v, c in COLOURS.items()]
    handles.append(plt.Line2D([], [], color="tab:purple", marker="x", ls="", label="paper"))
    axes[0, 0].legend(handles=handles, fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.02),
                      ncol=4, frameon=False)
    fig.suptitle("Claims: estimate and 95% interval by unit", fontsize=11)
else:
    fig, ax = plt.subplots(figsize=(6, 1))
    ax.axis("off")
    ax.text(0.5, 0.5, "No claim has records from two or more seeds under this profile.",
            ha="center", va="center")
glue_figure(fig, "claims_forest", P.label, "report")

# %% [markdown]
# ```{glue:figure} report-claims_forest
# :name: fig-report-claims-forest
#
# Every testable claim, one panel per unit: the bar is the 95% interval of the per-seed measure
# (coloured by verdict), the dot our estimate, the dashed tick the threshold the claim must
# clear (its direction in brackets after the id) and a cross the paper's value where it states
# one.
# ```

# %% [markdown]
# ## Provenance
#
# Every record carries its configuration hash, the code version that produced it (the last
# commit touching the package, a dirty flag and a hash of the package's sources) and the package
# versions. Wall time is per record (the median and the total over the chapter's records of
# each experiment; summary records that only combine others take no time).

# %% tags=["hide-input"]
if len(records):
    per_record = records.drop_duplicates("path")
    prov = (per_record.groupby(["chapter", "experiment"])
            .agg(seeds=("seed", "nunique"),
                 median_s=("wall_time_s", "median"), total_s=("wall_time_s", "sum"),
                 commits=("git_commit", lambda c: ", ".join(sorted({str(x)[:8] for x in c}))))
            .reset_index())
    prov[["median_s", "total_s"]] = prov[["median_s", "total_s"]].map(sig3)
    if len(prov) > 14:
        by_chapter = (per_record.groupby("chapter")
                      .agg(experiments=("experiment", "nunique"), records=("path", "count"),
                           total_s=("wall_time_s", "sum"))
                      .reset_index())
        by_chapter["total_s"] = by_chapter["total_s"].map(sig3)
        display(by_chapter.style.hide(axis="index"))
    else:
        display(prov.style.hide(axis="index"))
    write_download(prov, "report-provenance")
else:
    write_download(pd.DataFrame(columns=["chapter", "experiment"]), "report-provenance")

# %% [markdown]
# Per experiment: {download}`report-provenance.csv <downloads/report-provenance.csv>`.

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
# claim, its source, and the per-seed measurement that would support it. This chapter reads
# the records that the chapters wrote in *this* build and computes, for every claim, the mean
# over seeds, a 95% Student-t interval and a verdict:
#
# - **supported**: the whole interval lies on the claimed side of the threshold;
# - **not supported**: it does not (the detail says whether it straddles the threshold or lies
#   on the opposite side, which contradicts the claim);
# - **not testable here**: the claim needs what this profile does not have (records from at
#   least two seeds, or data and models only the full profile uses).
#
# Nothing in the table is typed by hand.

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
import pandas as pd
from IPython.display import Markdown, display
from myst_nb import glue

from cibr_lab.plots import save_figure, set_theme
from cibr_lab.results import evaluate_claims, load_claims, load_records

set_theme()
records = load_records(profile=profile)
claims = load_claims()
report = evaluate_claims(records, claims)
counts = report["verdict"].value_counts()
for verdict in ("supported", "not supported", "not testable here"):
    glue(f"n_{verdict.replace(' ', '_')}", int(counts.get(verdict, 0)), display=False)
glue("n_claims", len(report), display=False)
glue("n_records", int(records[["chapter", "experiment", "seed"]].drop_duplicates().shape[0]),
     display=False)
glue("profile_name", profile, display=False)

# %% [markdown]
# Profile **{glue:text}`profile_name`**: {glue:text}`n_claims` registered claims, evaluated on
# {glue:text}`n_records` experiment records. Verdicts: {glue:text}`n_supported` supported,
# {glue:text}`n_not_supported` not supported, {glue:text}`n_not_testable_here` not testable
# here.

# %% tags=["hide-input"]
def _interval(row: pd.Series) -> str:
    if pd.isna(row["estimate"]):
        return "–"
    if pd.isna(row["ci_low"]):
        return f"{row['estimate']:.4g}"
    return f"{row['estimate']:.4g} [{row['ci_low']:.4g}, {row['ci_high']:.4g}]"


sign = {"greater": ">", "less": "<"}
compact = pd.DataFrame({
    "id": report["id"],
    "claim": report["claim"],
    "test (per seed)": report["measure"] + " " + report["direction"].map(sign) + " "
    + report["threshold"].map("{:g}".format),
    "mean [95% CI]": report.apply(_interval, axis=1),
    "n": report["n"],
    "verdict": report["verdict"],
    "detail": report["detail"],
})
for paper, rows in compact.groupby(report["paper"], sort=False):
    display(Markdown(f"### {paper}"))
    display(rows.style.hide(axis="index").set_properties(
        subset=["claim", "detail"], **{"min-width": "14em"}))

# %% [markdown]
# The same estimates as a forest plot: each bar is the 95% interval of the per-seed measure,
# the dashed line the threshold the claim must clear (in the direction shown).

# %% tags=["hide-input"]
testable = report.dropna(subset=["ci_low", "ci_high"])
if len(testable):
    fig, ax = plt.subplots(figsize=(7, 0.55 * len(testable) + 1.2))
    y = range(len(testable))
    colors = testable["verdict"].map({"supported": "tab:green", "not supported": "tab:red"})
    ax.hlines(list(y), testable["ci_low"], testable["ci_high"], colors=colors, lw=3)
    ax.scatter(testable["estimate"], list(y), color="k", zorder=3)
    for yi, thr in zip(y, testable["threshold"]):
        ax.vlines(thr, yi - 0.4, yi + 0.4, colors="grey", linestyles="--")
    ax.set_yticks(list(y), [f"{i} ({d})" for i, d in zip(testable["id"], testable["direction"])])
    ax.invert_yaxis()
    ax.set(xlabel="per-seed measure: mean and 95% interval", title="Claims and measurements")
    save_figure(fig, "claims_forest", profile, "report")
    plt.show()
else:
    print("No claim has records from two or more seeds under this profile.")

# %% [markdown]
# ## Provenance
#
# Every record carries the git commit and package versions it was produced with.

# %% tags=["hide-input"]
if len(records):
    prov = (records.groupby(["chapter", "experiment"])
            .agg(seeds=("seed", "nunique"), wall_time_s=("wall_time_s", "sum"),
                 commits=("git_commit", lambda c: ", ".join(sorted({str(x)[:8] for x in c}))))
            .reset_index())
    display(prov.round(1))

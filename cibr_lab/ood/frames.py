"""Tidy tables and review outputs for the chapter, built from records and one seed's run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cibr_lab.ood.experiment import SeedRun, method_scores
from cibr_lab.ood.oodr import contact_sheet_html, counts_per_dataset, votes_table
from cibr_lab.results import summarise


def _split(records: pd.DataFrame, experiment: str, columns: list[str]) -> pd.DataFrame:
    rows = records[records["experiment"] == experiment]
    rows = rows[rows["metric"].str.count("/") == len(columns) - 1]
    parts = pd.DataFrame(rows["metric"].str.split("/").tolist(), columns=columns, index=rows.index)
    return pd.concat([rows[["seed"]], parts, rows[["value"]]], axis=1).reset_index(drop=True)


def benchmark_frame(records: pd.DataFrame) -> pd.DataFrame:
    """One row per (seed, score, shaping, ood_set, variant, metric) with its ``value``."""
    frame = _split(records, "benchmark", ["score", "shaping", "ood_set", "variant", "metric"])
    return frame[frame["score"] != "oodr"].reset_index(drop=True)


def oodr_frame(records: pd.DataFrame) -> pd.DataFrame:
    """The committee's precision, recall and counts per seed and OOD set."""
    frame = _split(records, "benchmark", ["kind", "ood_set", "stat"])
    return frame[frame["kind"] == "oodr"].drop(columns="kind").reset_index(drop=True)


def sensitivity_frame(records: pd.DataFrame) -> pd.DataFrame:
    """ActFun sweep: seed, score, percentile, sigma (fraction of the cap), variant, metric."""
    frame = _split(records, "actfun_sensitivity", ["score", "p", "s", "variant", "metric"])
    frame["percentile"] = frame.pop("p").str[1:].astype(float)
    frame["sigma"] = frame.pop("s").str[1:].astype(float)
    return frame


def method_table(frame: pd.DataFrame, variant: str = "rectified") -> pd.DataFrame:
    """AUROC and FPR95 (fractions: mean and 95% interval over seeds, the interval clipped to
    the metric's range [0, 1]) per score x shaping x OOD set (or group)."""
    rows = frame[(frame["variant"] == variant) & frame["metric"].isin(["auroc", "fpr95"])]
    out = summarise(rows, ["score", "shaping", "ood_set", "metric"])
    out[["ci_low", "ci_high"]] = out[["ci_low", "ci_high"]].clip(0.0, 1.0)
    return out


def heatmap_frame(
    frame: pd.DataFrame, metric: str = "auroc", variant: str = "rectified", ood_set: str = "mean"
) -> pd.DataFrame:
    """Mean over seeds of ``metric`` as a score (rows) x shaping (columns) table, for one OOD
    set or group; pairs left out of the grid are NaN. Rows and columns keep the records' order."""
    rows = frame[
        (frame["metric"] == metric) & (frame["variant"] == variant) & (frame["ood_set"] == ood_set)
    ]
    if rows.empty:
        raise ValueError(f"no records for {metric}/{variant}/{ood_set}")
    means = rows.groupby(["score", "shaping"], sort=False)["value"].mean().unstack("shaping")
    return means.reindex(columns=list(dict.fromkeys(rows["shaping"])))


def flagged_review(run: SeedRun) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, list[str]]:
    """One seed's committee outcome: the full votes table, the removed rows, their images
    ``[R, 1, 28, 28]`` and one caption each (item -> class (agreement/m))."""
    tables = [
        votes_table(run.committees[n], n, s.items, run.bench.classes, only_flagged=False)
        for n, s in run.bench.ood.items()
    ]
    full = pd.concat(tables, ignore_index=True)
    full["injected"] = np.concatenate([s.injected for s in run.bench.ood.values()])
    removed = full[full["flagged"]].reset_index(drop=True)
    images = np.concatenate(
        [s.images[run.committees[n].flagged].numpy() for n, s in run.bench.ood.items()]
    )
    captions = [
        f"{r['item']} -> {r['class']} ({r['agreement']}/{len(run.annotators)})"
        for _, r in removed.iterrows()
    ]
    return full, removed, images, captions


def review_outputs(run: SeedRun, out_dir: str | Path) -> dict[str, Path]:
    """Write the OOD-R outputs of one seed: removed items with votes (CSV), counts per dataset
    (CSV) and the HTML contact sheet of flagged images. Returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    full, removed, images, captions = flagged_review(run)
    paths = {"removed": out_dir / "removed.csv", "counts": out_dir / "counts.csv"}
    removed.to_csv(paths["removed"], index=False)
    counts_per_dataset(full).to_csv(paths["counts"], index=False)
    paths["sheet"] = contact_sheet_html(images, captions, out_dir / "contact_sheet.html")
    return paths


def score_samples(run: SeedRun, methods: list[tuple[str, str]]) -> pd.DataFrame:
    """Per-sample scores (score, shaping, set, injected, flagged, value) for distribution plots."""
    parts = []
    for score, shaping in methods:
        scores = method_scores(run, score, shaping, input_level=False)
        for name, values in scores.items():
            ood = run.bench.ood.get(name)
            n = len(values)
            parts.append(
                pd.DataFrame(
                    {
                        "score": score,
                        "shaping": shaping,
                        "set": name,
                        "injected": ood.injected if ood else np.zeros(n, bool),
                        "flagged": run.committees[name].flagged if ood else np.zeros(n, bool),
                        "value": values.cpu().numpy(),
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)

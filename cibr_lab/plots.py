"""One seaborn theme and the few plotting helpers the chapters share."""

from __future__ import annotations

from pathlib import Path

import seaborn as sns
from matplotlib.figure import Figure

from cibr_lab.results.stats import mean_ci
from cibr_lab.runtime.paths import results_dir


def t_interval(values) -> tuple[float, float]:
    """The 95% Student-t interval of the mean over seeds, the one the verdicts use.

    Pass it as seaborn's ``errorbar=`` so bands and error bars match the claims tables (seaborn's
    ``("ci", 95)`` bootstraps, which over three seeds is about their range); nan for one value.
    """
    _, low, high = mean_ci(values)
    return low, high


def set_theme() -> None:
    """The book's look: seaborn whitegrid, colour-blind palette, compact fonts."""
    sns.set_theme(
        style="whitegrid",
        palette="colorblind",
        context="notebook",
        rc={"figure.dpi": 110, "savefig.dpi": 150, "axes.titlesize": 11, "figure.autolayout": True},
    )


def save_figure(fig: Figure, name: str, profile: str, chapter: str) -> Path:
    """Save ``fig`` as PNG beside the chapter's records and return the path."""
    path = results_dir() / profile / chapter / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    return path


def facet_lines(data, x: str, y: str, hue: str, col: str | None = None, **kwargs) -> sns.FacetGrid:
    """Mean line with the 95% t-interval band over seeds/trials, one panel per ``col`` value."""
    return sns.relplot(
        data=data,
        x=x,
        y=y,
        hue=hue,
        col=col,
        kind="line",
        errorbar=t_interval,
        height=3.2,
        aspect=1.2,
        facet_kws={"sharey": False},
        **kwargs,
    )

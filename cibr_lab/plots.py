"""One seaborn theme, one colour per method and the few plotting helpers the chapters share."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.figure import Figure

from cibr_lab.errors import ConfigError
from cibr_lab.results.stats import mean_ci
from cibr_lab.runtime.paths import results_dir

#: One colour per method across the book (colour-blind palette first, its dark variant next):
#: active-learning strategies and ablations, CIBR arms, OOD scores, MI estimators.
METHOD_COLOURS = {
    # active learning (03): baselines, MPTS and its ablations
    "random": "#949494",
    "least_confidence": "#ca9161",
    "margin": "#56b4e9",
    "entropy": "#0173b2",
    "bald": "#029e73",
    "coreset": "#cc78bc",
    "badge": "#de8f05",
    "mpts": "#d55e00",
    "trajectory_no_mmd": "#a23582",
    "mmd_no_trajectory": "#b8850a",
    "random_swa": "#3c3c3c",
    "entropy_swa": "#001c7f",
    "random_mpts_recipe": "#7f7f00",
    # CIBR (01, 02): the untouched and the CLIP arms; `ceb-<lam>` / `mine-<lam>` below
    "pretrained": "#949494",
    "clip": "#0173b2",
    "CLIP": "#0173b2",
    "CLIP + CEB penalty": "#de8f05",
    # the implicit-IB toy's controls (01)
    "clip_no_wd": "#56b4e9",
    "wd_only": "#949494",
    # the embedded ceb grid: below 0.02 the `ceb-<lam>` shading saturates, so named here
    "ceb-0.003": "#de8f05",
    "ceb-0.01": "#b35806",
    "ceb-0.03": "#7f3b08",
    # MI estimators (01)
    "infonce": "#0173b2",
    "mine": "#029e73",
    "nwj": "#cc78bc",
    # OOD scores (04)
    "msp": "#0173b2",
    "maxlogit": "#56b4e9",
    "energy": "#de8f05",
    "odin": "#591e71",
    "gradnorm": "#d55e00",
    "mahalanobis": "#029e73",
    "knn": "#cc78bc",
    "vim": "#ca9161",
}

#: CIBR arms ``<estimator>-<lambda>``: a shade of the estimator's colour map, darker for larger
#: lambda, fixed by the value (the same arm has the same colour in every figure and profile).
ARM_COLOURMAPS = {"ceb": "Oranges", "mine": "Greens"}
_ARM = re.compile(r"(?P<estimator>[a-z]+)-(?P<lam>[0-9.eE+-]+)")


def method_colour(name: str) -> str:
    """The book's colour (hex) of method ``name``; unknown names raise, naming the method."""
    if name in METHOD_COLOURS:
        return METHOD_COLOURS[name]
    arm = _ARM.fullmatch(name)
    if arm and arm["estimator"] in ARM_COLOURMAPS:
        lam = float(arm["lam"])
        shade = min(0.95, max(0.3, 0.55 + 0.3 * math.log10(lam / 0.1))) if lam > 0 else 0.3
        return mpl.colors.to_hex(mpl.colormaps[ARM_COLOURMAPS[arm["estimator"]]](shade))
    raise ConfigError(
        f"no colour for method {name!r}: add it to cibr_lab.plots.METHOD_COLOURS "
        f"(or name a CIBR arm '<{'|'.join(ARM_COLOURMAPS)}>-<lambda>')"
    )


def method_palette(names: Iterable[str]) -> dict[str, str]:
    """``{name: colour}`` for seaborn's ``palette=``; each method's colour is the same in every
    figure, whatever else the figure shows."""
    return {name: method_colour(name) for name in dict.fromkeys(names)}


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


def glue_figure(fig: Figure, name: str, profile: str, chapter: str) -> None:
    """Save ``fig`` (as :func:`save_figure`), glue it under ``<chapter>-<name>`` and close it.

    The chapter then places it with a numbered, captioned ``{glue:figure}`` directive; the
    figure is not shown where it was drawn, and the call displays nothing (it returns None, so
    a cell may end with it).
    """
    from myst_nb import glue

    save_figure(fig, name, profile, chapter)
    glue(f"{chapter}-{name}", fig, display=False)
    plt.close(fig)


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

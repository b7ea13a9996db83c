"""One colour per method across the book."""

from __future__ import annotations

import re

import pytest

from cibr_lab.cibr.experiment import methods
from cibr_lab.errors import ConfigError
from cibr_lab.ood.scores import SCORES
from cibr_lab.plots import method_colour, method_palette
from cibr_lab.runtime import get_profile, profile_names


def _profile_methods(name: str) -> dict[str, list[str]]:
    p = get_profile(name)
    return {
        "al": list(p.section("al")["methods"]),
        "cibr": [m.label for m in methods(p.section("cibr"))],
        "ood": list(
            dict.fromkeys(
                [*p.section("ood")["scores"], *(s for s, _ in p.section("ood")["input_level"])]
            )
        ),
    }


@pytest.mark.parametrize("profile", profile_names())
def test_every_method_of_every_profile_has_one_distinct_colour(profile):
    for chapter, names in _profile_methods(profile).items():
        palette = method_palette(names)
        assert list(palette) == names
        assert len(set(palette.values())) == len(names), f"{profile}/{chapter}: colours repeat"
        assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in palette.values())


def test_every_registered_ood_score_has_a_colour():
    assert len(set(method_palette(SCORES).values())) == len(SCORES)


def test_same_method_same_colour_whatever_else_the_figure_shows():
    assert method_palette(["mpts", "random"])["mpts"] == method_palette(["mpts"])["mpts"]
    smoke, embedded = (method_palette(["clip", f"ceb-{lam}"]) for lam in ("0.5", "0.1"))
    assert smoke["clip"] == embedded["clip"]
    assert method_colour("ceb-0.1") == embedded["ceb-0.1"] != smoke["ceb-0.5"]
    assert method_colour("ceb-0.1") != method_colour("mine-0.1")


def test_unknown_method_is_named():
    with pytest.raises(ConfigError, match=r"no colour for method 'sota'"):
        method_palette(["random", "sota"])


def test_glue_figure_saves_glues_under_the_chapter_key_and_closes(monkeypatch, tmp_path):
    import matplotlib.pyplot as plt
    import myst_nb

    from cibr_lab.plots import glue_figure

    monkeypatch.setenv("CIBR_LAB_RESULTS", str(tmp_path))
    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda key, obj, display: glued.update({key: display}))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    assert (
        glue_figure(fig, "curves", "embedded", "al") is None
    )  # a cell ending with it shows nothing
    assert (tmp_path / "embedded" / "al" / "figures" / "curves.png").stat().st_size > 0
    assert glued == {"al-curves": False}
    assert not plt.fignum_exists(fig.number)

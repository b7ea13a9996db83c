"""The book: every chapter executes under `smoke`, the HTML builds offline, pairs are in sync."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext
import pytest
import yaml

from cibr_lab.book import ChapterError, build, chapter_sources, execute_chapter

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book") / "_build"
    html = build(ROOT, "smoke", out)
    return out, html


@pytest.mark.book
def test_every_chapter_executes_and_renders(built_book):
    out, html = built_book
    for src in chapter_sources(ROOT):
        executed = json.loads((out / "executed" / "smoke" / f"{src.stem}.ipynb").read_text())
        errors = [
            o
            for c in executed["cells"]
            for o in c.get("outputs", [])
            if o.get("output_type") == "error"
        ]
        assert not errors, f"{src.name} has error outputs"
        page = (html / "notebooks" / f"{src.stem}.html").read_text()
        assert "<h1>" in page
    assert (html / "index.html").exists()


@pytest.mark.book
def test_math_is_served_locally_and_glue_resolves(built_book):
    _, html = built_book
    pages_with_math = 0
    for page in (html / "notebooks").glob("*.html"):
        text = page.read_text()
        scripts = re.findall(r'<script[^>]+src="([^"]+)"', text)
        assert not [s for s in scripts if s.startswith(("http:", "https:", "//"))], page.name
        if 'class="math' in text:
            pages_with_math += 1
            assert any("_static/mathjax/" in s for s in scripts), f"no local MathJax: {page.name}"
        assert "{glue:" not in text, f"unresolved glue role in {page.name}"
        assert "cdn.jsdelivr.net" not in text and "mathjax@" not in text
    assert pages_with_math >= 1
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()


@pytest.mark.book
def test_failing_cell_names_the_chapter_and_cell(tmp_path):
    src = tmp_path / "book" / "05_broken.py"
    src.parent.mkdir()
    src.write_text(
        '# %% tags=["parameters"]\nprofile = "smoke"\n\n# %%\nraise ValueError("boom")\n'
    )
    with pytest.raises(ChapterError, match=r"05_broken.py: cell #\d+ .*ValueError: boom"):
        execute_chapter(src, tmp_path / "out" / "05_broken.ipynb", "smoke", timeout=60)


def test_toc_lists_every_chapter_and_pairs_are_in_sync():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = [c["file"] for c in toc["chapters"]]
    stems = [s.stem for s in chapter_sources(ROOT)]
    assert listed == [f"notebooks/{s}" for s in stems]
    for stem in stems:
        source = jupytext.read(ROOT / "book" / f"{stem}.py")
        paired = jupytext.read(ROOT / "notebooks" / f"{stem}.ipynb")
        assert [c.source for c in paired.cells] == [c.source for c in source.cells], (
            f"notebooks/{stem}.ipynb is out of date: run `make sync`"
        )
        assert not any(c.get("outputs") for c in paired.cells), f"{stem}.ipynb has outputs"


def test_every_chapter_has_a_parameters_cell_and_colab_link():
    for src in chapter_sources(ROOT):
        nb = jupytext.read(src)
        tags = [c.metadata.get("tags", []) for c in nb.cells]
        assert ["parameters"] in tags, f"{src.name} lacks a parameters cell"
        assert f"notebooks/{src.stem}.ipynb" in nb.cells[0].source, (
            f"{src.name} lacks its Colab link"
        )

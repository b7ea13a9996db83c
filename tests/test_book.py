"""The book: every chapter executes under `smoke`, the HTML builds offline, pairs are in sync."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import jupytext
import pytest
import yaml

from cibr_lab.book import (
    ChapterError,
    build,
    chapter_sources,
    chapter_toc,
    execute_chapter,
    heartbeat,
    main,
)

ROOT = Path(__file__).resolve().parents[1]


def _executed(out: Path, stem: str) -> dict:
    return json.loads((out / "executed" / "smoke" / f"{stem}.ipynb").read_text())


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
def test_executed_notebooks_carry_no_stderr_warnings_or_parameters_cell(built_book):
    out, html = built_book
    for src in chapter_sources(ROOT):
        cells = _executed(out, src.stem)["cells"]
        stderr = [
            "".join(o["text"])
            for c in cells
            for o in c.get("outputs", [])
            if o.get("output_type") == "stream" and o.get("name") == "stderr"
        ]
        assert not stderr, f"{src.name} writes to stderr: {stderr[0][:200]}"
        assert "No pretrained weights" not in json.dumps(cells), src.name
        results = [
            "".join(o["data"].get("text/plain", ""))
            for c in cells
            for o in c.get("outputs", [])
            if o.get("output_type") == "execute_result"
        ]
        assert not [r for r in results if r.startswith("PosixPath(")], src.name
        injected = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
        assert len(injected) == 1 and "remove-cell" in injected[0]["metadata"]["tags"], src.name
        own = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
        assert len(own) == 1 and "hide-cell" in own[0]["metadata"]["tags"], src.name
        assert "# Parameters" not in (html / "notebooks" / f"{src.stem}.html").read_text()


@pytest.mark.book
def test_one_chapter_builds_alone_and_stale_notebooks_are_not_staged(tmp_path, built_book):
    out = tmp_path / "_build"
    stale = out / "executed" / "smoke" / "04_ood.ipynb"
    stale.parent.mkdir(parents=True)
    shutil.copy2(built_book[0] / "executed" / "smoke" / "04_ood.ipynb", stale)
    assert (
        main(["--profile", "smoke", "--chapters", "01", "--root", str(ROOT), "--out", str(out)])
        == 0
    )
    assert sorted(p.name for p in stale.parent.glob("*.ipynb")) == [
        "01_information_bottleneck.ipynb"
    ]
    toc = yaml.safe_load((out / "src" / "_toc.yml").read_text())
    assert toc["chapters"] == [{"file": "notebooks/01_information_bottleneck"}]
    pages = sorted(p.name for p in (out / "html" / "notebooks").glob("*.html"))
    assert pages == ["01_information_bottleneck.html"]
    intro = (out / "html" / "book" / "intro.html").read_text()
    assert "Headline findings" not in intro and "99_report" not in intro


@pytest.mark.book
def test_first_page_glues_the_headline_findings_and_tables_are_downloads(built_book):
    _, html = built_book
    intro = (html / "book" / "intro.html").read_text()
    assert "Headline findings" in intro
    assert "&lt;IPython" not in intro and "{glue" not in intro
    assert re.search(r"<li>(<p>)?<strong>CIBR</strong>: \d+ claims \(\d+ primary\)", intro)
    report = (html / "notebooks" / "99_report.html").read_text()
    for name in ("report-claims.csv", "report-provenance.csv"):
        (link,) = re.findall(rf'href="(\.\./_downloads/[0-9a-f]+/{name})"', report)
        assert (html / "notebooks" / link).resolve().stat().st_size > 0


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


def test_chapter_toc_keeps_only_the_chosen_chapters_in_order():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    stems = ["99_report", "01_information_bottleneck"]
    kept = chapter_toc(toc, stems)
    assert kept["root"] == toc["root"]
    assert kept["chapters"] == [
        {"file": "notebooks/01_information_bottleneck"},
        {"file": "notebooks/99_report"},
    ]


def test_heartbeat_prints_while_the_block_runs_and_stops_after(capsys):
    with heartbeat("05_x.py", every_s=0.05):
        time.sleep(0.3)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 2
    assert all(re.fullmatch(r"\[book\] 05_x.py still running, \d+ s", line) for line in lines)
    time.sleep(0.1)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("jobs", "cpus", "threads"), [(2, 2, "1"), (2, 16, "8"), (3, 2, "1")])
def test_kernels_share_the_cores_unless_the_caller_set_threads(jobs, cpus, threads, monkeypatch):
    from cibr_lab.book import kernel_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert kernel_threads(jobs, cpus) == {"OMP_NUM_THREADS": threads}
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert kernel_threads(jobs, cpus) == {}


def _fake_chapters(root: Path, names: list[str]) -> None:
    (root / "book").mkdir(parents=True)
    for name in names:
        (root / "book" / f"{name}.py").write_text("")


def test_chapters_run_two_at_a_time_and_the_report_alone_after_them(tmp_path, monkeypatch):
    import threading

    import cibr_lab.book as book

    _fake_chapters(tmp_path, ["01_a", "02_b", "03_c", "04_d", "99_report"])
    spans, lock, running, peak = {}, threading.Lock(), [0], [0]

    def fake_execute(src, out, profile, timeout):
        assert os.environ["CIBR_LAB_DOWNLOADS"] == str(out.parent / book.DOWNLOADS)
        assert os.environ["OMP_NUM_THREADS"] == str(max(1, os.cpu_count() // 2))
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        start = time.perf_counter()
        time.sleep(0.3)
        with lock:
            running[0] -= 1
        spans[src.stem] = (start, time.perf_counter())
        return 0.3

    monkeypatch.setattr(book, "execute_chapter", fake_execute)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    book._execute_all(book.chapter_sources(tmp_path), tmp_path / "x", "smoke", 10, jobs=2)
    assert "OMP_NUM_THREADS" not in os.environ  # restored afterwards
    assert peak[0] == 2  # two chapters overlapped, never three
    # source order: the first two at once, then each as a slot frees
    order = sorted((start, stem) for stem, (start, _) in spans.items())
    stems = [stem for _, stem in order]
    assert set(stems[:2]) == {"01_a", "02_b"} and stems[2:] == ["03_c", "04_d", "99_report"]
    assert spans["99_report"][0] >= max(
        end for stem, (_, end) in spans.items() if stem != "99_report"
    )
    assert os.environ.get("CIBR_LAB_DOWNLOADS") != str(tmp_path / "x" / book.DOWNLOADS)


def test_a_failing_chapter_stops_the_build_and_no_chapter_starts_after_it(tmp_path, monkeypatch):
    import cibr_lab.book as book

    _fake_chapters(tmp_path, ["01_a", "02_b", "03_c", "99_report"])
    started = []

    def fake_execute(src, out, profile, timeout):
        started.append(src.stem)
        if src.stem == "01_a":
            raise ChapterError("01_a.py: cell #3 failed")
        time.sleep(0.2)
        return 0.2

    monkeypatch.setattr(book, "execute_chapter", fake_execute)
    with pytest.raises(ChapterError, match="01_a.py: cell #3"):
        book._execute_all(book.chapter_sources(tmp_path), tmp_path / "x", "smoke", 10, jobs=1)
    assert started == ["01_a"]
    with pytest.raises(SystemExit):
        main(["--jobs", "0", "--root", str(tmp_path)])

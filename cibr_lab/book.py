"""Build the book: convert each chapter with jupytext, execute it with papermill, render HTML.

Chapters are the jupytext percent files ``book/NN_*.py``. They execute under one profile,
``jobs`` at a time in their order (each in its own kernel; the 2-core default overlaps one
chapter's serial cells with another's worker processes), the report chapter last and alone,
since it reads the others' records; the notebooks executed in
this build (and no older ones) are staged with ``_config.yml``, a ``_toc.yml`` listing only
them, and the markdown pages, and Jupyter Book renders them with execution off. A failing cell
stops the build with the chapter and cell named. The console shows each chapter as it starts,
a heartbeat while it runs and its wall time; the executed notebooks carry no progress bars and
hide papermill's injected parameters cell.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import yaml

DEFAULT_TIMEOUT_S = 1800
#: Chapters executed at once (two kernels on the 2-core reference machine).
DEFAULT_JOBS = 2
#: Chapters whose name starts so run after every other chapter (they read its records).
LAST = ("99",)
HEARTBEAT_S = 60.0
#: A page's section that glues from the report chapter (dropped when the report is not built).
REPORT_SECTION = re.compile(r"<!-- headline:start.*?<!-- headline:end -->\n", re.DOTALL)
#: Folder beside the executed notebooks for the CSV tables their pages link (staged with them).
DOWNLOADS = "downloads"

#: Environment of the kernels that execute the chapters: no tqdm bars (``TQDM_DISABLE``) and no
#: warning that notebook bars need ipywidgets (tqdm.auto warns on import when they are absent).
KERNEL_ENV = {
    "TQDM_DISABLE": "1",
    "PYTHONWARNINGS": "ignore:IProgress not found:Warning:tqdm.auto",
}


def kernel_threads(jobs: int, cpus: int | None = None) -> dict[str, str]:
    """``OMP_NUM_THREADS`` for kernels that run ``jobs`` at a time: the cores shared out (at
    least one), unless the caller set it. Two kernels of two threads each on two cores wait on
    each other's threads: a small fit in a kernel took 1.8x as long at 2 threads as at 1 beside
    two busy processes."""
    if "OMP_NUM_THREADS" in os.environ:
        return {}
    return {"OMP_NUM_THREADS": str(max(1, (cpus or os.cpu_count() or 1) // jobs))}


def say(message: str) -> None:
    """Print ``[book] message`` as one write (chapters and heartbeats print from threads)."""
    sys.stdout.write(f"[book] {message}\n")
    sys.stdout.flush()


class ChapterError(RuntimeError):
    """A chapter failed to execute; the message names the notebook and the cell."""


def chapter_sources(root: Path) -> list[Path]:
    """The chapter sources in build order."""
    return sorted((root / "book").glob("[0-9][0-9]_*.py"))


@contextmanager
def kernel_env(env: dict[str, str] = KERNEL_ENV) -> Iterator[None]:
    """Set ``env`` for the kernels started inside (they inherit it), then restore the old one."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def heartbeat(name: str, every_s: float = HEARTBEAT_S) -> Iterator[None]:
    """Print ``[book] <name> still running, N s`` every ``every_s`` seconds until the block ends."""
    start, done = time.perf_counter(), threading.Event()

    def beat() -> None:
        while not done.wait(every_s):
            say(f"{name} still running, {time.perf_counter() - start:.0f} s")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def hide_injected_parameters(path: Path) -> None:
    """Tag papermill's ``injected-parameters`` cell of an executed notebook ``remove-cell`` and
    collapse the chapter's own ``parameters`` cell (``hide-cell``: one click shows it)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        elif "parameters" in tags and "hide-cell" not in tags:
            tags.append("hide-cell")
    nbformat.write(nb, path)


def execute_chapter(src: Path, out: Path, profile: str, timeout: int = DEFAULT_TIMEOUT_S) -> float:
    """Execute one chapter under ``profile`` into ``out`` (an .ipynb); return the wall time."""
    import jupytext
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_suffix(".source.ipynb")
    jupytext.write(jupytext.read(src), raw)
    start = time.perf_counter()
    try:
        downloads = {"CIBR_LAB_DOWNLOADS": str(out.parent / DOWNLOADS)}
        with kernel_env({**KERNEL_ENV, **downloads}), heartbeat(src.name):
            papermill.execute_notebook(
                str(raw),
                str(out),
                parameters={"profile": profile},
                kernel_name="python3",
                language="python",
                execution_timeout=timeout,
                progress_bar=False,
                cwd=str(src.parent.parent),
            )
    except PapermillExecutionError as err:
        first_line = (err.source or "").strip().splitlines()[:1]
        raise ChapterError(
            f"{src.name}: cell #{err.cell_index} {first_line} failed with {err.ename}: {err.evalue}"
        ) from None
    finally:
        raw.unlink(missing_ok=True)
    hide_injected_parameters(out)
    return time.perf_counter() - start


def chapter_toc(toc: dict, stems: list[str]) -> dict:
    """``toc`` (a parsed ``_toc.yml``) with only the chapters ``notebooks/<stem>`` of ``stems``."""
    listed = {f"notebooks/{s}" for s in stems}
    return {**toc, "chapters": [c for c in toc["chapters"] if c["file"] in listed]}


def stage(root: Path, executed: Path, stage_dir: Path) -> None:
    """Lay out the book sources with the executed notebooks in ``notebooks/`` and a toc of them."""
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    (stage_dir / "book").mkdir(parents=True)
    for name in ("_config.yml", "references.bib"):
        if (root / name).exists():
            shutil.copy2(root / name, stage_dir / name)
    stems = sorted(p.stem for p in executed.glob("*.ipynb"))
    toc = chapter_toc(yaml.safe_load((root / "_toc.yml").read_text()), stems)
    (stage_dir / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    for page in (root / "book").glob("*.md"):
        text = page.read_text()
        if "99_report" not in stems:
            text = REPORT_SECTION.sub("", text)
        (stage_dir / "book" / page.name).write_text(text)
    shutil.copytree(executed, stage_dir / "notebooks")


def build_html(stage_dir: Path, output_root: Path) -> Path:
    """Render the staged book with Jupyter Book; return ``<output_root>/_build/html``."""
    cmd = [
        str(Path(sys.executable).parent / "jupyter-book"),
        "build",
        str(stage_dir),
        "--path-output",
        str(output_root),
        "--warningiserror",
        "--keep-going",
    ]
    subprocess.run(cmd, check=True)
    return output_root / "_build" / "html"


def _execute_all(
    sources: list[Path], executed: Path, profile: str, timeout: int, jobs: int
) -> None:
    failed = threading.Event()

    def one(src: Path) -> None:
        if failed.is_set():
            return
        say(f"executing {src.name} (profile={profile})")
        try:
            seconds = execute_chapter(src, executed / f"{src.stem}.ipynb", profile, timeout)
        except BaseException:
            failed.set()
            raise
        say(f"{src.name}: {seconds:.1f} s")

    first = [s for s in sources if not s.stem.startswith(LAST)]
    # every kernel inherits one environment, set before any starts (no race between chapters)
    downloads = {"CIBR_LAB_DOWNLOADS": str(executed / DOWNLOADS)}
    with kernel_env({**KERNEL_ENV, **downloads, **kernel_threads(jobs)}):
        with ThreadPoolExecutor(jobs) as pool:  # after a failure, queued chapters return at once
            for future in [pool.submit(one, src) for src in first]:
                future.result()
        for src in sources:
            if src not in first:
                one(src)


def build(
    root: Path,
    profile: str,
    out: Path,
    timeout: int = DEFAULT_TIMEOUT_S,
    chapters: list[str] | None = None,
    jobs: int = DEFAULT_JOBS,
) -> Path:
    """Execute the chapters (all, or those whose names start with ``chapters``), ``jobs`` at a
    time with the report chapter last, and render.

    Only the notebooks executed by this call are staged: earlier ones under ``out`` are removed
    first, so a failed or stale chapter of another build never reaches the HTML. A failing
    chapter stops the build once the chapters running beside it end; none starts after it.
    """
    executed = out / "executed" / profile
    sources = chapter_sources(root)
    if chapters:
        sources = [s for s in sources if any(s.stem.startswith(c) for c in chapters)]
    if not sources:
        raise ChapterError(f"no chapter in {root / 'book'} starts with any of {chapters}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if executed.exists():
        shutil.rmtree(executed)
    start = time.perf_counter()
    _execute_all(sources, executed, profile, timeout, jobs)
    say(f"{len(sources)} chapters executed in {time.perf_counter() - start:.1f} s")
    stage_dir = out / "src"
    stage(root, executed, stage_dir)
    html = build_html(stage_dir, out.parent)
    say(f"open {html / 'index.html'}")
    return html


def main(argv: list[str] | None = None) -> int:
    """``python -m cibr_lab.book --profile embedded``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=os.environ.get("CIBR_LAB_PROFILE", "embedded"))
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT_S, help="per-cell seconds")
    parser.add_argument("--chapters", nargs="*", help="only chapters whose name starts so")
    parser.add_argument("--out", type=Path, help="the _build folder (default: <root>/_build)")
    parser.add_argument(
        "--jobs", type=int, default=DEFAULT_JOBS, help="chapters executed at once (>= 1)"
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    root = args.root.resolve()
    try:
        build(
            root,
            args.profile,
            (args.out or root / "_build").resolve(),
            args.timeout,
            args.chapters,
            args.jobs,
        )
    except ChapterError as err:
        print(f"[book] FAILED: {err}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError:
        print("[book] FAILED: Jupyter Book reported warnings or errors (above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

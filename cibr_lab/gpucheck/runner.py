"""Run the sections, print one table, write one JSON record (atomically); the command line."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from cibr_lab.errors import ConfigError
from cibr_lab.gpucheck.context import CheckContext
from cibr_lab.gpucheck.sizes import FULL, TINY
from cibr_lab.gpucheck.sync import HostSyncError
from cibr_lab.runtime import get_device, results_dir


def default_out(tiny: bool) -> Path:
    """``<results>/gpu_check/<tiny|full>.json``."""
    return results_dir() / "gpu_check" / f"{'tiny' if tiny else 'full'}.json"


def write_json(path: Path, record: dict[str, Any]) -> None:
    """Write ``record`` to ``path`` atomically (a temporary file in the folder, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, indent=2, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _run_section(name: str, fn, ctx: CheckContext) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        metrics = fn(ctx)
        status, error, sync = "ok", None, "passed" if ctx.check_sync else ctx.sync_label
    except HostSyncError as err:
        metrics, status, error, sync = {}, "failed", str(err), "failed"
    except Exception as err:  # a failing section is reported; the others still run
        metrics, status, error = {}, "failed", f"{type(err).__name__}: {err}"
        sync = "not reached" if ctx.check_sync else ctx.sync_label
        traceback.print_exc(file=sys.stderr)
    return {
        "status": status,
        "error": error,
        "sync_check": sync,
        "seconds": time.perf_counter() - start,
        "summary": metrics.pop("summary", error or ""),
        "metrics": metrics,
    }


def format_table(sections: dict[str, dict[str, Any]]) -> str:
    """One row per section: name, status, sync check, seconds, result (or the error)."""
    rows = [("section", "status", "sync check", "seconds", "result")]
    rows += [
        (name, r["status"], r["sync_check"], f"{r['seconds']:.1f}", r["summary"])
        for name, r in sections.items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def run_check(device: torch.device, tiny: bool, names: list[str] | None = None) -> dict[str, Any]:
    """Run the sections ``names`` (default: all) and return the record (see :func:`main`)."""
    from cibr_lab.gpucheck.sections import SECTIONS

    names = list(SECTIONS) if names is None else names
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise ConfigError(f"unknown section {unknown[0]!r}; valid sections: {', '.join(SECTIONS)}")
    ctx = CheckContext(device, TINY if tiny else FULL, check_sync=device.type == "cuda")
    start = time.perf_counter()
    sections = {name: _run_section(name, SECTIONS[name], ctx) for name in names}
    return {
        "mode": "tiny" if tiny else "full",
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "sync_check": ctx.sync_label,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": time.perf_counter() - start,
        "ok": all(r["status"] == "ok" for r in sections.values()),
        "sections": sections,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``cibr-lab gpu-check`` and ``benchmarks/gpu_check.py``."""
    parser.add_argument(
        "--tiny", action="store_true", help="tiny CPU-sized run (automatic without CUDA)"
    )
    parser.add_argument("--device", help="device to check (default: cuda if available, else cpu)")
    parser.add_argument("--out", type=Path, help="JSON record (default: results/gpu_check/)")
    parser.add_argument("--sections", nargs="+", help="subset of sections to run")
    parser.set_defaults(func=run_from_args)


def run_from_args(args: argparse.Namespace) -> int:
    """Run the check as the parsed options say; print the table; 0 when every section is ok."""
    device = get_device(args.device)
    tiny = args.tiny or device.type != "cuda"
    record = run_check(device, tiny, args.sections)
    out = args.out if args.out is not None else default_out(tiny)
    write_json(out, record)
    print(f"gpu-check ({record['mode']}) on {record['device_name']}, torch {record['torch']}")
    print(format_table(record["sections"]))
    print(f"total {record['seconds']:.1f} s; record written to {out}")
    return 0 if record["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m cibr_lab.gpucheck`` and ``benchmarks/gpu_check.py``."""
    parser = argparse.ArgumentParser(prog="gpu-check", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyError as err:
        print(f"gpu-check: {err.args[0]}", file=sys.stderr)
        return 2

"""The ``cibr-lab`` command: run a chapter's experiment, report the claims, build the book."""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd

from cibr_lab.errors import CibrLabError, ConfigError


def _run(args: argparse.Namespace) -> int:
    from cibr_lab.experiments import get_experiment
    from cibr_lab.runtime import Shard, get_profile

    profile = get_profile(args.profile, seeds=args.seeds)
    shard = Shard.parse(args.shard)
    experiment = get_experiment(args.chapter)
    tables = experiment(profile, shard=shard)
    for name, table in tables.items():
        print(f"{name}: {len(table)} rows")
    return 0


def _report(args: argparse.Namespace) -> int:
    from cibr_lab.results import evaluate_claims, load_records
    from cibr_lab.runtime import get_profile, results_dir

    profile = get_profile(args.profile)
    records = load_records(profile=profile.label)
    where = results_dir() / profile.label
    if records.empty:
        stale = records.attrs.get("stale", 0)
        hint = (
            f" ({stale} records of another code version were left out: rerun the chapters, "
            "or pass --reuse-stale)"
            if stale
            else ""
        )
        raise ConfigError(
            f"no records of profile {profile.label!r} under {where}{hint}; write them with "
            f"`cibr-lab run CHAPTER --profile {profile.name}`"
        )
    table = evaluate_claims(records)
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        cols = ["id", "role", "estimate", "ci_low", "ci_high", "mde", "n", "verdict"]
        print(table[cols].to_string(index=False, float_format="{:.3g}".format))
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0


def _book(args: argparse.Namespace) -> int:
    from cibr_lab.book import main as book_main

    return book_main(
        ["--profile", args.profile, *(["--chapters", *args.chapters] if args.chapters else [])]
    )


def _profiles(args: argparse.Namespace) -> int:
    from cibr_lab.runtime import get_profile, profile_names

    for name in profile_names():
        p = get_profile(name)
        print(f"{name:9s} seeds={list(p.seeds)}  {p.description}")
    return 0


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"seeds must be non-negative, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="cibr-lab", description=__doc__)
    parser.add_argument(
        "--reuse-stale",
        action="store_true",
        help="reuse and report records of the same configuration written by another code "
        "version (sets CIBR_LAB_REUSE=config)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a chapter's experiment and write its records")
    run.add_argument("chapter")
    run.add_argument("--profile", default="embedded")
    run.add_argument("--seeds", type=_non_negative, nargs="+", help="override the seeds")
    run.add_argument(
        "--shard",
        default="0/1",
        metavar="I/N",
        help="run the I-th of N disjoint slices of the chapter's grid (experiment x seed); any "
        "layout writes the records of one unsharded run",
    )
    run.set_defaults(func=_run)
    report = sub.add_parser("report", help="evaluate every registered claim against the records")
    report.add_argument("--profile", default="embedded")
    report.add_argument("--csv", help="also write the table to this CSV file")
    report.set_defaults(func=_report)
    book = sub.add_parser("book", help="execute the chapters and build the HTML book")
    book.add_argument("--profile", default="embedded")
    book.add_argument("--chapters", nargs="*")
    book.set_defaults(func=_book)
    profiles = sub.add_parser("profiles", help="list the profiles")
    profiles.set_defaults(func=_profiles)
    from cibr_lab.gpucheck import add_arguments as gpu_check_arguments

    gpu_check = sub.add_parser("gpu-check", help="run every GPU path once (tiny on a CPU)")
    gpu_check_arguments(gpu_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cibr-lab`` console script.

    Expected errors (bad input, damaged records, missing full-profile data) print one line,
    ``cibr-lab: <what is wrong and what to do>``, and exit 2; anything else is a bug and keeps its
    traceback.
    """
    args = build_parser().parse_args(argv)
    if args.reuse_stale:
        os.environ["CIBR_LAB_REUSE"] = "config"
    try:
        if args.command in ("run", "report", "book"):
            from cibr_lab.runtime import check_environment

            check_environment()
        return args.func(args)
    except (CibrLabError, FileNotFoundError) as err:
        print(f"cibr-lab: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

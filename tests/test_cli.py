"""The cibr-lab command line: one clear line per expected error, exit 2."""

from __future__ import annotations

import pytest

from cibr_lab.cli import main
from cibr_lab.results import write_record


def test_unknown_chapter_and_profile_exit_2_with_the_valid_names(capsys):
    assert main(["run", "nope", "--profile", "smoke"]) == 2
    assert "valid chapters: al, cibr, ood, ood_imagenet, theory" in capsys.readouterr().err
    assert main(["run", "theory", "--profile", "huge"]) == 2
    assert "valid profiles: embedded, full, smoke" in capsys.readouterr().err


def test_profiles_lists_every_profile(capsys):
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("smoke", "embedded", "full"))


def _relevance_records(gains, profile="smoke"):
    for seed, gain in enumerate(gains):
        write_record(
            "theory",
            "implicit_ib",
            profile=profile,
            seed=seed,
            config={},
            metrics={"relevance_change_clip_no_wd": gain},
            wall_time_s=0.0,
        )


def test_report_evaluates_claims_from_records(tmp_path, capsys):
    _relevance_records([0.1, 0.12, 0.11])
    csv = tmp_path / "claims.csv"
    assert main(["report", "--profile", "smoke", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if "cibr-ib-relevance" in row)
    assert line.rstrip().endswith("supported") and "primary" in line
    assert "mde" in out.splitlines()[0]
    assert csv.exists()


def test_report_without_records_or_with_an_unknown_profile_is_an_error(capsys, tmp_path):
    assert main(["report", "--profile", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown profile 'nosuch'" in err
    assert main(["report", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cibr-lab: no records of profile 'smoke' under ")
    assert str(tmp_path / "results" / "smoke") in err and "cibr-lab run CHAPTER" in err


def test_bad_environment_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv("CIBR_LAB_DEVICE", "gpu")
    assert main(["run", "theory", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert err == "cibr-lab: CIBR_LAB_DEVICE='gpu' is not a device; use cpu, cuda, cuda:N or mps\n"


def test_missing_full_profile_data_is_one_line_naming_the_path(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CIBR_LAB_DATA", str(tmp_path / "nodata"))
    assert main(["run", "al", "--profile", "full"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "nodata") in err and "fetch" in err


def test_negative_seed_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        main(["run", "theory", "--seeds", "-1"])
    assert "seeds must be non-negative" in capsys.readouterr().err

"""The cibr-lab command line."""

from __future__ import annotations

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


def test_report_evaluates_claims_from_records(tmp_path, capsys):
    for seed, gain in enumerate([0.1, 0.12, 0.11]):
        write_record(
            "theory",
            "implicit_ib",
            profile="smoke",
            seed=seed,
            config={},
            metrics={"relevance_gain_clip": gain},
            wall_time_s=0.0,
        )
    csv = tmp_path / "claims.csv"
    assert main(["report", "--profile", "smoke", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if "cibr-ib-relevance" in row)
    assert line.rstrip().endswith("supported") and "not" not in line
    assert csv.exists()

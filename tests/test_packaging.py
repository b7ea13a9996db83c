"""The install files agree with each other."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines):
    return dict(
        re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip()).groups()
        for line in lines
        if re.match(r"\s*[A-Za-z0-9_.-]+==", line)
    )


def test_environment_yml_pins_match_constraints():
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip) == constraints
    assert any(line.startswith("-e .[book,test]") for line in pip)


def test_pyproject_declares_floors_only_and_jupyter_book_1():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    assert not [d for d in deps if "==" in d], "pins belong in constraints.txt"
    assert any(d.startswith("jupyter-book") and "<2" in d for d in deps)
    pinned = _pins((ROOT / "constraints.txt").read_text().splitlines())
    names = {re.split(r"[<>=\[ ]", d)[0].lower().replace("-", "_") for d in deps}
    assert {n.lower().replace("-", "_") for n in pinned} <= names

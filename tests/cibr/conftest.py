"""Fixtures of the CIBR tests."""

from __future__ import annotations

from pathlib import Path

import pytest


class PlantedCode:
    """Unpickling it creates ``marker``: a stand-in for a checkpoint that runs code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def planted(tmp_path) -> PlantedCode:
    """An object to hide in a checkpoint; ``planted.marker`` exists once it has run."""
    return PlantedCode(tmp_path / "code_ran")

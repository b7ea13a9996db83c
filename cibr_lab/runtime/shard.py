"""Shards of a chapter's grid: ``--shard I/N`` runs the I-th of N disjoint slices.

A grid is the ordered list of a chapter's runs (experiment x seed, in the order the chapter
builds it); shard ``I/N`` takes the runs at positions ``I, I + N, I + 2N, ...``. The N shards
cover the grid exactly once, so any layout writes the records of one unsharded run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from cibr_lab.errors import ConfigError

T = TypeVar("T")
_SPEC = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True)
class Shard:
    """Slice ``index`` of ``count`` (0-based); ``Shard()`` is the whole grid."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ConfigError(
                f"shard {self.index}/{self.count}: needs 0 <= I < N (e.g. 0/4 ... 3/4)"
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` -> ``Shard(I, N)``; anything else is a :class:`ConfigError`."""
        match = _SPEC.match(text.strip())
        if not match:
            raise ConfigError(f"shard {text!r} is not of the form I/N (e.g. 0/4)")
        return cls(int(match.group(1)), int(match.group(2)))

    def take(self, grid: Sequence[T]) -> list[T]:
        """This shard's runs of ``grid``, in grid order."""
        return list(grid[self.index :: self.count])

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


WHOLE = Shard()

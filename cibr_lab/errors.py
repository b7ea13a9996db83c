"""The package's expected errors: bad input, damaged state, missing data.

The command line prints these as one line (``cibr-lab: <message>``) without a traceback; any
other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class CibrLabError(Exception):
    """Base of the errors a user can fix (the message says how)."""

    def __str__(self) -> str:  # KeyError subclasses would otherwise print the repr
        return str(self.args[0]) if self.args else ""


class ConfigError(CibrLabError, KeyError, ValueError):
    """A profile, override, claim, argument or environment value is invalid or unknown."""


class RecordError(CibrLabError, ValueError):
    """A stored record, checkpoint or cache is unreadable, or a run produced unusable metrics."""


class MissingDataError(CibrLabError, FileNotFoundError):
    """A full-profile dataset or weights file is absent (the message names the path and the
    fetch command)."""

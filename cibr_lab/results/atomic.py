"""Atomic writes (unique temporary name, then a rename) and checked loads of stored state.

Two processes sharing a results folder never see a half-written file and never collide on a
temporary name; a failed write leaves the old file and no temporary behind. A damaged file is a
:class:`~cibr_lab.errors.RecordError` that names it and says what to do.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

from cibr_lab.errors import RecordError


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write(fh)`` on a fresh temporary file beside ``path``, then rename it onto it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide results from other users
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda fh: fh.write(text.encode()))


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` atomically."""
    return atomic_write(path, lambda fh: torch.save(obj, fh))


def torch_load_checked(
    path: str | os.PathLike, what: str, map_location: Any = None
) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)``; a damaged file is a :class:`RecordError` that
    names it, says it is a ``what`` (checkpoint, feature cache) and that deleting it recomputes it.
    """
    try:
        stored = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        raise RecordError(
            f"unreadable {what} {path} ({type(err).__name__}: {str(err)[:200]}); "
            "delete it to recompute it"
        ) from None
    if not isinstance(stored, dict):
        raise RecordError(f"{what} {path} does not hold a dict; delete it to recompute it")
    return stored

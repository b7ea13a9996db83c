"""Forbid host synchronisation in a region (CUDA's sync debug mode) and say where one happened."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

#: what PyTorch's error says when ``set_sync_debug_mode("error")`` catches a synchronisation
SYNC_MESSAGE = "synchronizing CUDA operation"

_TORCH_DIR = str(Path(torch.__file__).parent)


class HostSyncError(RuntimeError):
    """A region meant to stay on the device synchronised with the host."""


def sync_place(err: BaseException) -> str:
    """``file:line in function: code`` of the innermost frame of ``err`` outside torch."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if _TORCH_DIR not in f.filename]
    if not frames:
        return "unknown place"
    f = frames[-1]
    return f"{f.filename}:{f.lineno} in {f.name}: {f.line}"


@contextmanager
def no_host_sync(section: str, enabled: bool) -> Iterator[None]:
    """Run the block with ``torch.cuda.set_sync_debug_mode("error")`` when ``enabled``.

    A synchronisation inside becomes a :class:`HostSyncError` naming ``section``, the place
    (:func:`sync_place`) and PyTorch's message; the previous mode is restored in every case.
    """
    if not enabled:
        yield
        return
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    except RuntimeError as err:
        if SYNC_MESSAGE not in str(err):
            raise
        raise HostSyncError(f"{section}: host sync at {sync_place(err)} ({err})") from err
    finally:
        torch.cuda.set_sync_debug_mode(previous)

"""Sync-free views of square matrices (boolean-mask indexing would wait for the GPU)."""

from __future__ import annotations

from torch import Tensor


def off_diagonal(x: Tensor) -> Tensor:
    """The off-diagonal entries of ``x [..., N, N]`` in row-major order, ``[..., N(N-1)]``.

    Equal to ``x[..., ~eye(N)]`` but without a boolean mask, so no host synchronisation: the
    flattened diagonal sits every ``N + 1`` entries, so dropping the first entry and viewing the
    rest as ``[N-1, N+1]`` puts every diagonal entry in the last column.
    """
    n = x.shape[-1]
    rows = x.flatten(-2)[..., 1:].unflatten(-1, (n - 1, n + 1))
    return rows[..., :-1].flatten(-2).contiguous()

"""Separable critics ``T(x, y) = g(x) . h(y)`` (the CLIP form), batched over groups, and fitting.

A critic with ``groups=G`` holds G independent MLP pairs in stacked weight tensors, so G
estimation problems (estimators x MI levels, say) train in one vectorised pass. Adam's update
is elementwise, so summing the G losses trains each group exactly as if it were alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn


class _GroupedMLP(nn.Module):
    """G independent two-hidden-layer ReLU MLPs applied to ``[G, B, d_in]``."""

    def __init__(self, groups: int, sizes: Sequence[int]) -> None:
        super().__init__()
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for d_in, d_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(d_in)
            self.weights.append(
                nn.Parameter(torch.empty(groups, d_in, d_out).uniform_(-bound, bound))
            )
            self.biases.append(nn.Parameter(torch.empty(groups, 1, d_out).uniform_(-bound, bound)))

    def forward(self, x: Tensor) -> Tensor:
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = torch.relu(x)
        return x


class SeparableCritic(nn.Module):
    """``T(x, y) = g(x) . h(y)`` for ``groups`` independent problems at once.

    ``forward(x [G, B, dx], y [G, B, dy]) -> scores [G, B, B]``; 2-D inputs are treated as one
    group and give ``[B, B]``.
    """

    def __init__(
        self, dim_x: int, dim_y: int, hidden: int = 64, embed: int = 32, groups: int = 1
    ) -> None:
        super().__init__()
        self.g = _GroupedMLP(groups, (dim_x, hidden, hidden, embed))
        self.h = _GroupedMLP(groups, (dim_y, hidden, hidden, embed))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Score matrices with ``scores[..., i, j] = T(x_i, y_j)``."""
        if x.ndim == 2:
            return self.forward(x[None], y[None])[0]
        return self.g(x) @ self.h(y).transpose(-1, -2)


def fit_critic(
    critic: nn.Module,
    objectives: Sequence[Callable[[Tensor], tuple[Tensor, Tensor]]],
    sample: Callable[[int], tuple[Tensor, Tensor]],
    steps: int,
    batch_size: int,
    lr: float = 5e-4,
) -> Tensor:
    """Train group k of a grouped critic on ``objectives[k]``; return ``[steps, G]`` estimates.

    Each objective maps a score matrix to ``(estimate, loss)`` (see ``info.get_objective``);
    ``sample(n)`` draws ``n`` fresh joint pairs per group, ``[G, n, d]`` each.
    """
    opt = torch.optim.Adam(critic.parameters(), lr=lr)
    trace = torch.empty(steps, len(objectives))
    for step in range(steps):
        scores = critic(*sample(batch_size))
        results = [obj(s) for obj, s in zip(objectives, scores)]
        loss = torch.stack([loss for _, loss in results]).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        trace[step] = torch.stack([est for est, _ in results])
    return trace

"""The two contracts of the package: a score and a shaping, and the scorer that composes them.

A :class:`Score` maps penultimate features ``[N, D]`` and the final ``nn.Linear`` head to one
value per sample, higher = more in-distribution. A :class:`Shaping` rewrites the features (and,
for DICE, the head) before any score sees them. :class:`Scorer` composes one of each, so every
score works with every shaping without special cases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
from torch import nn

from cibr_lab.ood.validate import check_head, check_inputs, check_labels

#: ``forward(x) -> (features, head)``: differentiable map from a batch of inputs to the (shaped)
#: penultimate features and the head that reads them.
Forward = Callable[[torch.Tensor], tuple[torch.Tensor, nn.Linear]]


class Score:
    """Base class of the scores; subclasses set ``name`` and implement :meth:`score`."""

    name: ClassVar[str]
    #: whether :meth:`fit` gathers statistics that :meth:`score` needs
    requires_fit: ClassVar[bool] = False

    def fit(self, features: torch.Tensor, labels: torch.Tensor, head: nn.Linear) -> None:
        """Gather statistics from (shaped) ID training features ``[N, D]`` and labels ``[N]``."""

    def score(self, features: torch.Tensor, head: nn.Linear) -> torch.Tensor:
        """``[N]`` scores from features ``[N, D]``; higher = more in-distribution."""
        raise NotImplementedError

    def score_inputs(self, forward: Forward, inputs: torch.Tensor) -> torch.Tensor:
        """``[N]`` scores from a batch of inputs (input-level methods such as ODIN override)."""
        with torch.no_grad():
            features, head = forward(inputs)
            return self.score(features.to(head.weight.dtype), head)


class Shaping:
    """Base class of the shapings; the identity (registered as ``"none"``)."""

    name: ClassVar[str] = "none"
    requires_fit: ClassVar[bool] = False
    #: whether the shaping needs the inputs (not only cached features), e.g. Monte-Carlo ActFun
    input_level: ClassVar[bool] = False

    def fit(self, features: torch.Tensor, head: nn.Linear) -> None:
        """Gather statistics from ID training features ``[N, D]`` (e.g. a clipping threshold)."""

    def apply(self, features: torch.Tensor, head: nn.Linear) -> tuple[torch.Tensor, nn.Linear]:
        """Shaped features ``[N, D]`` and the head to read them with."""
        return features, head

    def forward(self, model: nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, nn.Linear]:
        """Shaped features and head from inputs; ``model`` exposes ``features(x)`` and ``head``."""
        return self.apply(model.features(inputs), model.head)


class Scorer:
    """A score composed with a shaping: ``fit`` on ID training data, then ``score``."""

    def __init__(self, score: Score, shaping: Shaping) -> None:
        self.score_method = score
        self.shaping = shaping
        self.fitted = False

    @property
    def name(self) -> str:
        """``score`` or ``score+shaping``."""
        tail = "" if self.shaping.name == "none" else f"+{self.shaping.name}"
        return self.score_method.name + tail

    @property
    def requires_fit(self) -> bool:
        """Whether :meth:`fit` must run before scoring."""
        return self.score_method.requires_fit or self.shaping.requires_fit

    def fit(self, features: torch.Tensor, labels: torch.Tensor, head: nn.Linear) -> Scorer:
        """Fit shaping then score on ID training features ``[N, D]`` and labels ``[N]``
        (features of another floating dtype than the head are cast to the head's)."""
        features = check_inputs(features, head)
        labels = check_labels(labels, features.shape[0], head.out_features).to(features.device)
        with torch.no_grad():
            self.shaping.fit(features, head)
            shaped, shaped_head = self.shaping.apply(features, head)
            self.score_method.fit(shaped, labels, shaped_head)
        self.fitted = True
        return self

    def _check_ready(self) -> None:
        if self.requires_fit and not self.fitted:
            raise RuntimeError(f"{self.name} needs statistics of ID data: call fit(...) first")

    def score(self, features: torch.Tensor, head: nn.Linear) -> torch.Tensor:
        """``[N]`` scores from cached penultimate features ``[N, D]`` (cast to the head's
        dtype); higher = more ID."""
        self._check_ready()
        if self.shaping.input_level:
            raise ValueError(
                f"shaping {self.shaping.name!r} works on inputs, not cached features: "
                "use score_inputs(model, inputs)"
            )
        features = check_inputs(features, head)
        return self.score_validated(features, head)

    def score_validated(self, features: torch.Tensor, head: nn.Linear) -> torch.Tensor:
        """:meth:`score` without the input checks: no host synchronisation, on any device."""
        with torch.no_grad():
            return self.score_method.score(*self.shaping.apply(features, head))

    def score_batch(self, model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        """``[B]`` scores of one batch already on the model's device; no host synchronisation."""
        forward = lambda x: self.shaping.forward(model, x)
        return self.score_method.score_inputs(forward, inputs).float()

    def score_inputs(
        self, model: nn.Module, inputs: torch.Tensor, batch_size: int = 256
    ) -> torch.Tensor:
        """``[N]`` scores from inputs ``[N, ...]`` run through ``model`` in batches (on CPU).

        ``model`` exposes ``features(x) -> [B, D]`` and ``head`` (its final ``nn.Linear``); the
        inputs are moved batch by batch to the model's device.
        """
        self._check_ready()
        if inputs.shape[0] == 0:
            raise ValueError("inputs is empty (0 samples)")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        check_head(model.head)
        device = next(model.parameters()).device
        out = [
            self.score_batch(model, batch.to(device, non_blocking=True))
            for batch in inputs.split(batch_size)
        ]
        scores = torch.cat(out).cpu()  # one device-to-host copy, after the loop
        if not torch.isfinite(scores).all():
            raise ValueError(f"{self.name} produced NaN or infinite scores (check the inputs)")
        return scores

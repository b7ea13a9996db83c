"""BALD with MC dropout (Gal, Islam and Ghahramani 2017): label-parameter mutual information."""

from __future__ import annotations

from torch import Tensor, nn

from cibr_lab.al import scores
from cibr_lab.al.learner import Learner, dropout_layers
from cibr_lab.al.strategies.base import ScoreStrategy, register
from cibr_lab.al.train import TrainConfig
from cibr_lab.errors import ConfigError


@register
class BALD(ScoreStrategy):
    """Top-b by ``scores.bald`` over ``n_samples`` dropout passes (needs a net with dropout)."""

    name = "bald"

    def __init__(self, n_samples: int = 10) -> None:
        if n_samples < 2:
            raise ValueError(f"BALD needs n_samples >= 2, got {n_samples}")
        self.n_samples = n_samples

    def check_setup(self, net: nn.Module, net_name: str, cfg: TrainConfig) -> None:
        if not dropout_layers(net):
            raise ConfigError(
                f"strategy 'bald' draws MC-dropout passes, but net {net_name!r} has no dropout "
                "layer with p > 0: give the net a dropout probability (net_options: "
                "{dropout: 0.3})"
            )

    def score(self, learner: Learner, x: Tensor) -> Tensor:
        return scores.bald(learner.mc_proba(x, self.n_samples))

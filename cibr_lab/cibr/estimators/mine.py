"""``mine``: MINE estimates of the modality-specific information (a heuristic penalty).

With stochastic embeddings ``Z_v = mu_v + sigma * eps`` the chain ``Z_v - X_v - X_t`` gives
``I(Z_v; X_v | X_t) = I(Z_v; X_v) - I(Z_v; X_t)``, and since ``Z_v`` depends on ``X_v`` only
through ``mu_v``, ``I(Z_v; X_v) = I(Z_v; mu_v)``. Each term is estimated with a Donsker-Varadhan
critic (``info.MineObjective``, moving-average gradient correction), using ``mu_t`` for ``X_t``:

    R_v ~ DV[T_own](z_v, mu_v) - DV[T_cross](z_v, mu_t)      (and symmetrically R_t).

The critics ascend their bounds (``aux_loss``, gradient to the critics only) while the model
descends the penalty (gradient to the features only): a min-max game, run simultaneously at
every step. This is a heuristic without a guarantee: a DV value is a *lower* bound, so
minimising it can fool the critic instead of removing information, and ``I(Z_v; mu_t)`` is
itself only a lower bound on ``I(Z_v; X_t)``. The estimate couples the whole batch, so it is
computed on gathered features in distributed training.

The moving averages live in ``MineObjective`` objects, not in the state dict: after a resume
they restart from the first batch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call

from cibr_lab.cibr.estimators.base import RedundancyEstimator
from cibr_lab.info import MineObjective
from cibr_lab.info.bounds import marginal_log_mean_exp
from cibr_lab.info.critics import SeparableCritic

#: (critic name, which stochastic embedding, which conditioning mean, sign in R)
_TERMS = (
    ("own_v", "image", "image", 1.0),
    ("cross_v", "image", "text", -1.0),
    ("own_t", "text", "text", 1.0),
    ("cross_t", "text", "image", -1.0),
)


class MINEEstimator(RedundancyEstimator):
    """``R_v + R_t`` from four separable DV critics; see the module docstring.

    Parameters
    ----------
    embed_dim : feature dimension D.
    sigma : standard deviation of the embedding noise (makes the informations finite).
    hidden, critic_dim : width and output size of each critic's two MLPs.
    ema_rate : rate of MINE's moving average of the marginal term.
    """

    batch_level = True

    def __init__(
        self,
        embed_dim: int,
        sigma: float = 0.25,
        hidden: int = 64,
        critic_dim: int = 32,
        ema_rate: float = 0.01,
    ) -> None:
        super().__init__()
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.sigma = float(sigma)
        self.critics = nn.ModuleDict(
            {name: SeparableCritic(embed_dim, embed_dim, hidden, critic_dim) for name, *_ in _TERMS}
        )
        self.objectives = {name: MineObjective(ema_rate) for name, *_ in _TERMS}

    def get_extra_state(self) -> dict[str, Tensor | None]:
        """MINE's moving averages: not parameters, but a resumed run must continue them."""
        return {name: objective.log_ema for name, objective in self.objectives.items()}

    def set_extra_state(self, state: dict[str, Tensor | None]) -> None:
        """Restore the moving averages saved by :meth:`get_extra_state`."""
        for name, log_ema in state.items():
            self.objectives[name].log_ema = log_ema

    def forward(self, image_features: Tensor, text_features: Tensor) -> dict[str, Tensor]:
        """DV estimates on ``[N, D]`` features (N >= 2); noise from the global torch RNG."""
        mu = {"image": image_features.float(), "text": text_features.float()}
        z = {m: x + self.sigma * torch.randn_like(x) for m, x in mu.items()}
        parts = {"image": [], "text": []}
        aux = []
        for name, zm, cond, sign in _TERMS:
            critic, objective = self.critics[name], self.objectives[name]
            dv, critic_loss = objective(critic(z[zm].detach(), mu[cond].detach()))
            aux.append(critic_loss)
            frozen = {k: p.detach() for k, p in critic.named_parameters()}
            scores = functional_call(critic, frozen, (z[zm], mu[cond]))
            # value: the DV estimate; gradient: MINE's corrected gradient with the critic's EMA
            joint = scores.diagonal().mean()
            surrogate = joint - torch.exp(marginal_log_mean_exp(scores) - objective.log_ema)
            parts[zm].append(sign * (surrogate + (dv - surrogate).detach()))
        r_v, r_t = sum(parts["image"]), sum(parts["text"])
        return {
            "penalty": r_v + r_t,
            "R_v": r_v.detach(),
            "R_t": r_t.detach(),
            "aux_loss": sum(aux),
        }

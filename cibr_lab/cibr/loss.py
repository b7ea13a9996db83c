"""``CIBRLoss``: open_clip's contrastive loss plus lambda times a redundancy penalty."""

from __future__ import annotations

from typing import Any

import torch
from open_clip.loss import ClipLoss, gather_features
from torch import Tensor

from cibr_lab.cibr.checks import require_finite
from cibr_lab.cibr.estimators import get_estimator


def check_features(image_features: Tensor, text_features: Tensor, logit_scale: Tensor) -> None:
    """Raise a ``ValueError`` unless inputs are two finite ``[N, D]`` tensors and a finite scale.

    The finiteness check costs one host synchronisation.
    """
    if image_features.ndim != 2 or image_features.shape != text_features.shape:
        raise ValueError(
            "image and text features must both be [N, D] with the same shape, got "
            f"{tuple(image_features.shape)} and {tuple(text_features.shape)}"
        )
    scale = torch.as_tensor(logit_scale)
    if scale.numel() != 1:
        raise ValueError(f"logit_scale must be a scalar, got shape {tuple(scale.shape)}")
    require_finite(
        {
            "image features": image_features,
            "text features": text_features,
            "logit_scale": scale,
        }
    )


class CIBRLoss(ClipLoss):
    """CLIP's symmetric InfoNCE plus ``lam * (R_v + R_t)``, in open_clip's loss convention.

    Called like ``open_clip.ClipLoss``: ``loss(image_features, text_features, logit_scale,
    output_dict=True)`` returns ``{"contrastive_loss": L, "cibr_loss": lam * penalty}`` (plus
    ``"cibr_aux_loss"`` for estimators whose own parameters ascend a bound, e.g. ``mine``); a
    trainer sums the values. Features are the model's normalised embeddings ``[N_local, D]``.
    The contrastive term is ``ClipLoss``'s own code, so with ``lam=0`` (the penalty is then not
    computed) value and gradients are exactly ``ClipLoss``'s, distributed modes included.

    Distributed: ``local_loss``, ``gather_with_grad``, ``rank``, ``world_size`` mean what they mean
    in open_clip. A per-sample estimator (``ceb``) averages over the local rows; a batch-level
    one (``mine``) runs on the gathered batch. With ``gather_with_grad=True`` (open_clip's
    recommended ``--local-loss --gather-with-grad``), the gradients averaged by DDP equal the
    single-process gradients of the full batch.

    The estimator is a sub-module: add ``loss.parameters()`` to the optimiser. Its last
    per-modality values are in ``loss.last_stats`` (detached tensors, no host sync).

    Parameters
    ----------
    lam : weight of the penalty (>= 0).
    estimator : registered estimator name (``"ceb"`` or ``"mine"``).
    embed_dim : feature dimension D (the estimator's networks are built for it).
    estimator_kwargs : passed to the estimator (e.g. ``sigma``, ``hidden``).
    validate : check shapes and finiteness on every call (one host sync).
    """

    def __init__(
        self,
        lam: float = 0.0,
        estimator: str = "ceb",
        *,
        embed_dim: int,
        estimator_kwargs: dict[str, Any] | None = None,
        validate: bool = True,
        local_loss: bool = False,
        gather_with_grad: bool = False,
        cache_labels: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        super().__init__(
            local_loss=local_loss,
            gather_with_grad=gather_with_grad,
            cache_labels=cache_labels,
            rank=rank,
            world_size=world_size,
        )
        if not lam >= 0:
            raise ValueError(f"lam must be a non-negative number, got {lam}")
        self.lam = float(lam)
        self.estimator_name = estimator
        self.estimator = get_estimator(estimator, embed_dim, **(estimator_kwargs or {}))
        self.validate = validate
        self.last_stats: dict[str, Tensor] = {}

    def _penalty_inputs(
        self, image_features: Tensor, text_features: Tensor
    ) -> tuple[Tensor, Tensor]:
        if self.world_size > 1 and self.estimator.batch_level:
            return gather_features(
                image_features,
                text_features,
                local_loss=self.local_loss,
                gather_with_grad=self.gather_with_grad,
                rank=self.rank,
                world_size=self.world_size,
            )
        return image_features, text_features

    def forward(
        self,
        image_features: Tensor,
        text_features: Tensor,
        logit_scale: Tensor,
        logit_bias: Tensor | None = None,
        output_dict: bool = False,
    ) -> dict[str, Tensor] | tuple[Tensor, ...]:
        """Loss terms for ``[N, D]`` features; a dict with ``output_dict`` else a tuple."""
        if self.validate:
            check_features(image_features, text_features, logit_scale)
        contrastive = super().forward(
            image_features, text_features, logit_scale, logit_bias=logit_bias, output_dict=True
        )["contrastive_loss"]
        out = {"contrastive_loss": contrastive}
        if self.lam == 0.0:
            out["cibr_loss"] = contrastive.new_zeros(())
            self.last_stats = {}
        else:
            terms = self.estimator(*self._penalty_inputs(image_features, text_features))
            out["cibr_loss"] = self.lam * terms["penalty"]
            if "aux_loss" in terms:
                out["cibr_aux_loss"] = terms["aux_loss"]
            self.last_stats = {k: terms[k] for k in ("R_v", "R_t")}
        return out if output_dict else tuple(out.values())


def training_loss(
    model: torch.nn.Module,
    estimator: str,
    lam: float,
    sigma: float,
    rank: int = 0,
    world_size: int = 1,
    local_loss: bool | None = None,
) -> CIBRLoss:
    """The loss every training entry point uses for an open_clip ``model``.

    Inputs are the model's own features, so the per-step input checks (host syncs) are off;
    with several processes features are gathered with gradients (open_clip's
    ``--gather-with-grad``), and ``local_loss`` (default: ``world_size > 1``, open_clip's
    recommended ``--local-loss``) picks open_clip's contrastive mode.
    """
    return CIBRLoss(
        lam,
        estimator,
        embed_dim=model.text_projection.shape[1],
        estimator_kwargs={"sigma": sigma},
        validate=False,
        local_loss=world_size > 1 if local_loss is None else local_loss,
        gather_with_grad=world_size > 1,
        rank=rank,
        world_size=world_size,
    )

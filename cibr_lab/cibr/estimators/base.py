"""The contract of a redundancy estimator and the Gaussian pieces the estimators share."""

from __future__ import annotations

from torch import Tensor, nn


class RedundancyEstimator(nn.Module):
    """Estimate (or bound) ``R_v + R_t``, the modality-specific information of two embeddings.

    ``R_v`` stands for ``I(Z_v; X_v | X_t)`` and ``R_t`` for ``I(Z_t; X_t | X_v)``, in nats, where
    ``Z_m = mu_m(X_m) + sigma * eps`` is the stochastic embedding whose mean is the feature the
    model outputs. ``forward(image_features, text_features)`` takes ``[N, D]`` features and
    returns a dict with

    - ``"penalty"``: a differentiable scalar, the estimate of ``R_v + R_t`` the model minimises;
    - ``"R_v"``, ``"R_t"``: detached per-modality parts, for logging;
    - optionally ``"aux_loss"``: a scalar that trains the estimator's own parameters only (its
      gradient never reaches the features), added to the total loss as is, whatever lambda.

    ``batch_level`` tells the loss whether the estimate couples samples of a batch (then it is
    computed on the features gathered from every process) or is a mean of per-sample terms
    (then each process computes it on its local rows).
    """

    batch_level: bool = False

    def forward(self, image_features: Tensor, text_features: Tensor) -> dict[str, Tensor]:
        raise NotImplementedError

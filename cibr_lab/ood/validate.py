"""Input checks shared by every score and shaping: one clear error per problem."""

from __future__ import annotations

import torch
from torch import nn


def check_features(features: torch.Tensor, name: str = "features") -> torch.Tensor:
    """``features`` must be a non-empty, finite, floating ``[N, D]`` tensor; returned as is."""
    if not isinstance(features, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(features).__name__}")
    if features.ndim != 2:
        raise ValueError(f"{name} must have shape [N, D], got {tuple(features.shape)}")
    if features.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 samples)")
    if not features.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {features.dtype}")
    low, high = features.aminmax()  # one pass, no mask; NaN propagates
    if not (torch.isfinite(low) & torch.isfinite(high)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return features


def check_head(head: nn.Linear, in_features: int | None = None) -> nn.Linear:
    """``head`` must be an ``nn.Linear`` with at least 2 outputs and finite weight and bias,
    reading ``in_features`` inputs when given."""
    if not isinstance(head, nn.Linear):
        raise TypeError(f"head must be the classifier's final nn.Linear, got {type(head).__name__}")
    if in_features is not None and head.in_features != in_features:
        raise ValueError(
            f"feature dimension {in_features} does not match the head's in_features "
            f"{head.in_features}"
        )
    if head.out_features < 2:
        raise ValueError(f"the head must have at least 2 classes, got {head.out_features}")
    for name, param in (("weight", head.weight), ("bias", head.bias)):
        if param is not None and not bool(torch.isfinite(param).all()):
            raise ValueError(f"head.{name} holds NaN or infinite values")
    return head


def check_inputs(features: torch.Tensor, head: nn.Linear) -> torch.Tensor:
    """Checked features ``[N, D]`` and head; the features cast to the head's dtype (e.g. float64
    features scored by a float32 head), so every score runs in the head's precision."""
    check_features(features)
    check_head(head, features.shape[1])
    return features.to(head.weight.dtype)


def check_labels(labels: torch.Tensor, n: int, num_classes: int) -> torch.Tensor:
    """ID training labels: ``[n]`` integers in ``[0, num_classes)`` covering at least 2 classes."""
    labels = torch.as_tensor(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape [{n}], got {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be integers, got {labels.dtype}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"labels must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]"
        )
    if labels.unique().numel() < 2:
        raise ValueError("fit needs ID data from at least 2 classes, got a single-class set")
    return labels.long()

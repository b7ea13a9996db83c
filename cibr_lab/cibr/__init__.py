"""CIBR: CLIP training with a cross-modal information-bottleneck regulariser.

Loss: :class:`CIBRLoss` (estimators in :mod:`cibr_lab.cibr.estimators`). Evaluation:
:func:`retrieval_recall`, :func:`zeroshot_weights` / :func:`zeroshot_metrics`,
:func:`linear_probe_accuracy`, :func:`modality_gap`. Data: :func:`make_scenes`,
:class:`CaptionedSet`, :mod:`cibr_lab.cibr.full_data`. Models: :func:`create_model`,
:func:`get_tokenizer`. Training: :class:`TrainConfig`, :func:`train`; inside open_clip's own
trainer: :mod:`cibr_lab.cibr.openclip_train` (``python -m``). The chapter's experiment:
:mod:`cibr_lab.cibr.experiment`.
"""

from cibr_lab.cibr.captioned import CaptionedSet
from cibr_lab.cibr.estimators import ESTIMATORS, get_estimator
from cibr_lab.cibr.loss import CIBRLoss, check_features
from cibr_lab.cibr.model import create_model, get_tokenizer
from cibr_lab.cibr.probe import linear_probe_accuracy, modality_gap
from cibr_lab.cibr.retrieval import retrieval_ranks, retrieval_recall
from cibr_lab.cibr.scenes import make_scenes
from cibr_lab.cibr.train import CaptionBatches, TrainConfig, train
from cibr_lab.cibr.zeroshot import zeroshot_metrics, zeroshot_weights

__all__ = [
    "ESTIMATORS",
    "CIBRLoss",
    "CaptionBatches",
    "CaptionedSet",
    "TrainConfig",
    "check_features",
    "create_model",
    "get_estimator",
    "get_tokenizer",
    "linear_probe_accuracy",
    "make_scenes",
    "modality_gap",
    "retrieval_ranks",
    "retrieval_recall",
    "train",
    "zeroshot_metrics",
    "zeroshot_weights",
]

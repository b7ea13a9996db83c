"""One file per score; :data:`SCORES` maps registry names to classes."""

from cibr_lab.ood.base import Score
from cibr_lab.ood.scores.energy import Energy
from cibr_lab.ood.scores.gradnorm import GradNorm
from cibr_lab.ood.scores.knn import KNN
from cibr_lab.ood.scores.mahalanobis import Mahalanobis
from cibr_lab.ood.scores.maxlogit import MaxLogit
from cibr_lab.ood.scores.msp import MSP
from cibr_lab.ood.scores.odin import ODIN
from cibr_lab.ood.scores.vim import ViM

SCORES: dict[str, type[Score]] = {
    cls.name: cls for cls in (MSP, MaxLogit, Energy, ODIN, GradNorm, Mahalanobis, KNN, ViM)
}

__all__ = ["KNN", "MSP", "ODIN", "SCORES", "Energy", "GradNorm", "Mahalanobis", "MaxLogit", "ViM"]

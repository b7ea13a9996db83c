"""The sections of the check, one file each, behind one registry (name -> callable)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from cibr_lab.gpucheck.context import CheckContext
from cibr_lab.gpucheck.sections.al import al_round
from cibr_lab.gpucheck.sections.clip import clip_step
from cibr_lab.gpucheck.sections.evaluate import evaluation
from cibr_lab.gpucheck.sections.ood import ood_scores

Section = Callable[[CheckContext], dict[str, Any]]

SECTIONS: dict[str, Section] = {
    "clip_ceb": partial(clip_step, estimator="ceb"),
    "clip_mine": partial(clip_step, estimator="mine"),
    "ood": ood_scores,
    "al": al_round,
    "eval": evaluation,
}

__all__ = ["SECTIONS", "Section"]

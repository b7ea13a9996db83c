"""One file per activation shaping; :data:`SHAPINGS` maps registry names to classes."""

from cibr_lab.ood.base import Shaping
from cibr_lab.ood.shapings.actfun import ActFun, ActFunMC, actfun
from cibr_lab.ood.shapings.ash import ASHB, ASHP, ASHS
from cibr_lab.ood.shapings.bats import BATS
from cibr_lab.ood.shapings.dice import DICE
from cibr_lab.ood.shapings.react import ReAct

SHAPINGS: dict[str, type[Shaping]] = {
    cls.name: cls for cls in (Shaping, ReAct, ASHP, ASHB, ASHS, DICE, BATS, ActFun, ActFunMC)
}

__all__ = [
    "ASHB",
    "ASHP",
    "ASHS",
    "BATS",
    "DICE",
    "SHAPINGS",
    "ActFun",
    "ActFunMC",
    "ReAct",
    "actfun",
]

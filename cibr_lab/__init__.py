"""cibr_lab: reproduction library for CIBR, MPTS, and OOD-R/ActFun.

Sub-packages: ``runtime`` (device, seeds, profiles, paths), ``results`` (records, statistics,
claims registry), ``info`` (MI bounds, closed forms, MMD), ``data`` (embedded sources),
``experiments`` (chapter drivers) and one per paper.
"""

__version__ = "0.1.0"

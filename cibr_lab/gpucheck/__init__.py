"""``cibr-lab gpu-check``: every GPU path of the package in one short, prepared run.

Sections (CLIP training steps, OOD scoring, an active-learning round, retrieval and zero-shot
evaluation) run on the device, report throughput and CPU agreement, and run their steady-state
steps with host synchronisation forbidden. Without CUDA the same code runs in a tiny CPU mode.
"""

from cibr_lab.gpucheck.runner import add_arguments, main, run_check

__all__ = ["add_arguments", "main", "run_check"]

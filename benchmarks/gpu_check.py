"""Every GPU path of the package in one prepared run (same as ``cibr-lab gpu-check``).

Usage: python benchmarks/gpu_check.py [--tiny] [--device cuda] [--out PATH] [--sections ...]
"""

import sys

from cibr_lab.gpucheck import main

if __name__ == "__main__":
    sys.exit(main())

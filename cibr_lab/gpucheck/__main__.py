"""``python -m cibr_lab.gpucheck``."""

import sys

from cibr_lab.gpucheck import main

sys.exit(main())

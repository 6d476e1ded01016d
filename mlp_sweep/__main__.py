"""`python -m mlp_sweep run SPACE`, as the `sweep` command."""

import sys

from mlp_sweep.cli import main

sys.exit(main())

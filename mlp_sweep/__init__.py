"""mlp-sweep, above its two packages: the Python API (`mlp_sweep.api`: `space`, `run`, `load`) and
the `sweep` command line (`mlp_sweep.cli`) over the engine (`sweep`) and the analysis (`analysis`)."""

from mlp_sweep.api import Report, Sweep, load, run, space
from mlp_sweep.cli import main

__all__ = ["Report", "Sweep", "load", "main", "run", "space"]

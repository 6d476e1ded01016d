"""mlp-sweep, above its two packages: the `sweep` command line (`mlp_sweep.cli`) over the engine
(`sweep`) and the analysis (`analysis`)."""

from mlp_sweep.cli import main

__all__ = ["main"]

"""Sweep Keras MLPs on MNIST, Fashion-MNIST or any classification data with Ray Tune. Keras and Ray load
only when a sweep runs."""

from sweep.config import TrialConfig
from sweep.folder import SweepFolder, TrialFolder
from sweep.runner import RunOptions, run_sweep
from sweep.space import Space
from sweep.space_file import load_space

__all__ = ["RunOptions", "Space", "SweepFolder", "TrialConfig", "TrialFolder", "load_space", "run_sweep"]

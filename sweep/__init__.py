"""Sweep Keras MLPs on MNIST-like data with Ray Tune. Keras and Ray load only when a sweep runs."""

from sweep.runner import RunOptions, run_sweep
from sweep.space import Space, TrialConfig, load_space

__all__ = ["RunOptions", "Space", "TrialConfig", "load_space", "run_sweep"]

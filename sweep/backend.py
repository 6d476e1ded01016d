"""Process-wide settings that must be made before Keras (and its backend) is first imported."""

from __future__ import annotations

import os
import sys

BACKENDS = ("jax", "tensorflow")
DEFAULT_BACKEND = "jax"  # fastest here for small MLPs: see bench/run.py and the README


def configure(backend: str = DEFAULT_BACKEND, threads: int | None = None) -> None:
    """Choose the Keras backend and cap its CPU thread pools at `threads` (None: leave as is).

    Ray does not size TensorFlow's or XLA's pools from a trial's CPU share, so two trials on two
    cores would each start one thread per core and fight; this gives each trial its share.
    Also keeps TensorFlow and JAX from grabbing a whole GPU, so trials can share one card.
    """
    if "keras" in sys.modules and os.environ.get("KERAS_BACKEND") != backend:
        raise RuntimeError(f"Keras is already imported with another backend; configure({backend!r}) must run first")
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    if threads is None:
        return
    threads = max(1, threads)
    for var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[var] = str(threads)
    if threads == 1:  # XLA's CPU client has no other knob than one thread or all cores
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".strip()

"""Process-wide settings that must be made before Keras (and its backend) is first imported."""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
from pathlib import Path

BACKENDS = ("jax", "tensorflow")
DEFAULT_BACKEND = "jax"  # fastest here for small MLPs: see bench/run.py and the README

_held: dict[int, int] = {}  # core -> its locked file descriptor, held open for the life of the process


def configure(backend: str = DEFAULT_BACKEND, threads: int | None = None) -> None:
    """Choose the Keras backend and cap its CPU thread pools at `threads` (None: leave as is).

    Ray does not size TensorFlow's or XLA's pools from a trial's CPU share, so two trials on two
    cores would each start one thread per core and fight; this gives each trial its share and
    pins the process to that many cores of its own (`pin`). Also keeps TensorFlow and JAX from
    grabbing a whole GPU, so trials can share one card.
    """
    if "keras" in sys.modules and os.environ.get("KERAS_BACKEND") != backend:
        raise RuntimeError(f"Keras is already imported with another backend; configure({backend!r}) must run first")
    os.environ["KERAS_BACKEND"] = backend
    if backend != "tensorflow":
        # Keras imports TensorFlow wherever it is installed just to ask whether it is (when seeding,
        # when saving): seconds per process that a JAX trial never needs.
        sys.modules.setdefault("tensorflow", None)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    if threads is None:
        return
    threads = max(1, threads)
    pin(threads)
    for var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[var] = str(threads)


def cache_compiles(folder: Path) -> None:
    """Keep JAX's compiled steps in `folder` on disk, for every trial process that names it.

    Compiling a small MLP's train and validation steps takes about 1.5 s of a trial's first epoch
    on one core; a later trial with the same shapes (another seed or data set, a resumed
    sweep) loads them in milliseconds. Entries are keyed by the program, JAX version and device.
    """
    import jax

    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pin(cores: int) -> set[int]:
    """Run this process on `cores` CPU cores that no other pinned process on this machine holds.

    XLA sizes its CPU thread pool from the process's affinity mask, which its flags do not cap:
    unpinned, each of two one-CPU trials keeps both cores busy and both run at half speed.
    A core is claimed by locking `mlp-sweep-cpu<N>.lock` in the temp folder; the kernel drops the
    lock when the process ends. A process keeps its cores for later trials. Returns the cores
    pinned to, or an empty set where too few are free (or the platform cannot pin): then the
    process runs where the OS puts it.
    """
    if not hasattr(os, "sched_setaffinity"):
        return set()
    if not _held:
        for core in sorted(os.sched_getaffinity(0)):
            lock = _lock_file(Path(tempfile.gettempdir()) / f"mlp-sweep-cpu{core}.lock")
            if lock is None:
                continue
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(lock)
                continue
            _held[core] = lock
            if len(_held) == cores:
                break
        else:
            while _held:
                os.close(_held.popitem()[1])
            return set()
    for thread in os.listdir("/proc/self/task"):  # every thread, the one running the trial included
        os.sched_setaffinity(int(thread), _held)
    return set(_held)


def _lock_file(path: Path) -> int | None:
    """A read-only descriptor of the lock file `path`, created readable by all users if missing, so
    every user's trials share one file per core (flock needs no write access). None if it cannot be opened."""
    for _ in range(2):
        try:
            return os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:  # another process made it just now: open that one
                continue
            except OSError:
                return None
            os.fchmod(fd, 0o644)  # whatever the umask
            return fd
        except OSError:
            return None
    return None

"""The Ray connection a command works in: an existing cluster (`--address`), or one started here."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator

from sweep.errors import SweepError

_FIX = "start one with `ray start --head`, or leave out --address (and RAY_ADDRESS) to run here"


@contextlib.contextmanager
def connected(address: str | None = None, resources: dict[str, float] | None = None) -> Iterator[None]:
    """Ray initialised for the block: joins `address` (or RAY_ADDRESS), else starts a local Ray with
    the custom `resources` besides its CPUs; shut down afterwards only if started here. Inside a
    running Ray driver it does nothing."""
    import ray

    if ray.is_initialized():
        yield
        return
    # A cluster started here skips Ray's prestarted workers: tasks and trial actors start their own,
    # and on a few cores the prestarted ones slow the first trials by about a second.
    joins = address or os.environ.get("RAY_ADDRESS")  # Ray takes no system config from a joiner
    if joins:
        _check_reachable(joins)
    system = None if joins else {"enable_worker_prestart": False, "prestart_worker_first_driver": False}
    on_sigterm = signal.getsignal(signal.SIGTERM)
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                 configure_logging=True, _system_config=system, resources=None if joins else resources)
    except ConnectionError:  # "auto" with no cluster running on this machine
        raise SweepError(f"Ray address {joins}: no running Ray cluster found; {_FIX}") from None
    except SystemExit as exc:  # SIGTERM while Ray starts: its own handler exits with the signal's number
        if exc.code == signal.SIGTERM and callable(on_sigterm):
            on_sigterm(signal.SIGTERM, None)
        raise
    if on_sigterm is not None and threading.current_thread() is threading.main_thread():
        # ray.init (Ray 2.60) replaces the process's SIGTERM handler with one that dumps a native
        # stack and exits; the caller's handler (the command line's: one line, work kept) comes back.
        signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """Ray retries a host:port that does not answer for minutes, deaf to Ctrl-C: try it here first."""
    if address == "auto":
        return  # ray.init looks for a cluster on this machine
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise SweepError(f"Ray address {address}: expected host:port (like 10.0.0.1:6379) or auto")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise SweepError(f"Ray address {address}: no Ray cluster answers there ({exc.strerror or exc}); "
                         f"{_FIX}") from None

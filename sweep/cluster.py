"""The Ray connection a command works in: an existing cluster (`--address`), or one started here."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator


@contextlib.contextmanager
def connected(address: str | None = None) -> Iterator[None]:
    """Ray initialised for the block: joins `address` (or RAY_ADDRESS), else starts a local Ray;
    shut down afterwards only if started here. Inside a running Ray driver it does nothing."""
    import ray

    if ray.is_initialized():
        yield
        return
    # A cluster started here skips Ray's prestarted workers: tasks and trial actors start their own,
    # and on a few cores the prestarted ones slow the first trials by about a second.
    joins = address or os.environ.get("RAY_ADDRESS")  # Ray takes no system config from a joiner
    system = None if joins else {"enable_worker_prestart": False, "prestart_worker_first_driver": False}
    ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
             configure_logging=True, _system_config=system)
    try:
        yield
    finally:
        ray.shutdown()

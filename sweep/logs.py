"""Other libraries' logging, quieted for a block and restored after it, so a notebook keeps its own."""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def quiet(*libraries: str) -> Iterator[None]:
    """The named libraries' INFO lines off for the block (Optuna's line per trial, MLflow's and
    Alembic's on creating a store), then their loggers' levels as they were. Each library is
    imported first, since importing one sets its logger up."""
    loggers = []
    for name in libraries:
        importlib.import_module(name)
        loggers.append(logging.getLogger(name))
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, before):
            logger.setLevel(level)

"""Other libraries' logging, quieted for a block and restored after it, so a notebook keeps its own."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_optuna(active: bool = True) -> Iterator[None]:
    """Optuna's INFO lines (one per trial) off for the block, then its verbosity as it was; with
    `active` False, nothing (Optuna is not even imported)."""
    if not active:
        yield
        return
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)

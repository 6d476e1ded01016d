"""Exceptions the command line turns into one-line messages and exit code 2."""

from __future__ import annotations


class SweepError(Exception):
    """Bad input from the user: a space file, a data file, a results folder or an option."""


class DataError(SweepError):
    """A data set file is missing, corrupt or of the wrong shape."""


class SpaceError(SweepError):
    """A search space file breaks a rule; the message names the file, the key and the fix."""


class Deterministic(Exception):
    """A trial failed in a way that retrying it would only repeat."""


class TrainingDiverged(Deterministic):
    """A trial's loss became NaN or infinite."""


class ParentFailed(Deterministic):
    """The trial a trial starts from (`init_from`) failed or was stopped early."""

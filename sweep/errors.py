"""Exceptions the command line turns into one-line messages and exit code 2."""

from __future__ import annotations


class SweepError(Exception):
    """Bad input from the user: a space file, a data file, a results folder or an option."""


class DataError(SweepError):
    """A data set file is missing, corrupt or of the wrong shape."""


class SpaceError(SweepError):
    """A search space file breaks a rule; the message names the file, the key and the fix."""


class TrainingDiverged(Exception):
    """A trial's loss became NaN or infinite; retrying the same seed would only repeat it."""

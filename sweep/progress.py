"""A quiet Ray Tune callback: one line per trial start and end instead of Ray's tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ray import tune

from sweep.runner import describe


class Progress(tune.Callback):
    def __init__(self, log: Callable[[str], None], total: int) -> None:
        self.log = log
        self.total = total
        self.done = 0
        self.t0 = time.perf_counter()

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.log(f"  start  {trial.trial_id}  {describe(trial.config['trial'])}")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        result = trial.last_result
        ok = result.get("status") == "completed"
        self._end(trial, f"test {100 * result['test_accuracy']:.2f}%  {result['epochs']} epochs" if ok
                  else f"FAILED: {result.get('error', 'see trials/' + trial.trial_id + '/error.txt')}")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trial, f"ERROR, see trials/{trial.trial_id}/error.txt")

    def _end(self, trial: Any, text: str) -> None:
        self.done += 1
        self.log(f"[{self.done:>3}/{self.total}] {trial.trial_id}  {text}  ({time.perf_counter() - self.t0:.0f} s)")

"""A quiet Ray Tune callback: one line per trial start and end instead of Ray's tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ray import tune

from sweep.config import resolve
from sweep.folder import COMPLETED, FAILED, RUNNING, STOPPED, SweepFolder
from sweep.storage import Storage


class Progress(tune.Callback):
    """Logs trials as they start and end, with the time left; records the end of trials whose own
    process could not: stopped early by a scheduler, or dead on their last try. On object storage
    it pushes the driver's files whenever Tune saves the experiment's state, and at the end."""

    def __init__(self, log: Callable[[str], None], total: int, folder: SweepFolder,
                 storage: Storage | None = None) -> None:
        self.log = log
        self.total = total
        self.storage = storage
        self._folder = folder
        self.setup()

    @property
    def folder(self) -> SweepFolder:
        """The sweep's folder; on object storage, the mirror on the machine this callback runs on
        (a resumed sweep's driver may run on another one)."""
        return self.storage.mirror if self.storage else self._folder

    def setup(self, **info: Any) -> None:  # Tune calls it when a run starts, a restored one too
        self.done = 0
        self.t0 = time.perf_counter()

    def get_state(self) -> None:  # Tune asks while it saves the experiment's state
        self._push()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self._push()

    def _push(self) -> None:
        if self.storage:
            self.storage.push(*self.folder.driver_files())

    def _metrics(self, trial_id: str) -> dict[str, Any]:
        """What the trial last saved of itself."""
        return self.storage.trial_metrics(trial_id) if self.storage else self.folder.trial(trial_id).read_metrics()

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.log(f"  start  {trial.trial_id}  {resolve(trial.config['trial'], trial.trial_id).describe()}")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        result = trial.last_result or {}
        status = result.get("status")
        if status == COMPLETED:
            text = f"test {100 * result['test_accuracy']:.2f}%  {result['epochs']} epochs"
        elif status == FAILED:
            text = f"FAILED: {result.get('error', '')}"
        else:  # Ray ends a stopped trial's process at once
            text = f"stopped early by the scheduler after {result.get('epoch', '?')} epochs"
            metrics = self._metrics(trial.trial_id)
            if metrics.get("status", RUNNING) == RUNNING:
                self.folder.record_end(trial.trial_id, metrics.get("attempt"), STOPPED, epochs=result.get("epoch"),
                                       val_accuracy=result.get("val_accuracy"))
        self._end(trial, text)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        metrics = self._metrics(trial.trial_id)
        error = metrics.get("error")
        if metrics.get("status") != FAILED:  # its process died (killed, out of memory) on its last try
            error = f"the trial's process died (attempt {metrics.get('attempt', 1)})"
            self.folder.record_end(trial.trial_id, metrics.get("attempt"), FAILED, error=error)
        self._end(trial, f"FAILED: {error} (traceback, if any: trials/{trial.trial_id}/error.txt)")

    def _end(self, trial: Any, text: str) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.t0
        left = f", about {elapsed / self.done * (self.total - self.done):.0f} s left" if self.done < self.total else ""
        self.log(f"[{self.done:>3}/{self.total}] {trial.trial_id}  {text}  ({elapsed:.0f} s{left})")

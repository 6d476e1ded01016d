"""A quiet Ray Tune callback: one line per trial start and end instead of Ray's tables."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray import tune

from sweep.artifacts import write_json
from sweep.runner import describe
from sweep.space import resolve


class Progress(tune.Callback):
    """Logs trials as they start and end; marks the ones a scheduler stopped early as `stopped`."""

    def __init__(self, log: Callable[[str], None], total: int, sweep_dir: Path) -> None:
        self.log = log
        self.total = total
        self.sweep_dir = sweep_dir
        self.done = 0
        self.t0 = time.perf_counter()

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.log(f"  start  {trial.trial_id}  {describe(resolve(trial.config['trial']))}")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        result = trial.last_result or {}
        status = result.get("status")
        if status == "completed":
            text = f"test {100 * result['test_accuracy']:.2f}%  {result['epochs']} epochs"
        elif status == "failed":
            text = f"FAILED: {result.get('error', '')}"
        else:
            text = f"stopped early by the scheduler after {result.get('epoch', '?')} epochs"
            self._mark_stopped(trial.trial_id, result)
        self._end(trial, text)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        metrics = self._metrics(trial.trial_id)
        if metrics.get("status") != "failed":  # its process died (killed, out of memory) on its last try
            metrics |= {"status": "failed", "error": f"the trial's process died (attempt {metrics.get('attempt', 1)})"}
            write_json(self.sweep_dir / "trials" / trial.trial_id / "metrics.json", metrics)
        self._end(trial, f"FAILED: {metrics.get('error')} (traceback, if any: trials/{trial.trial_id}/error.txt)")

    def _end(self, trial: Any, text: str) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.t0
        left = f", about {elapsed / self.done * (self.total - self.done):.0f} s left" if self.done < self.total else ""
        self.log(f"[{self.done:>3}/{self.total}] {trial.trial_id}  {text}  ({elapsed:.0f} s{left})")

    def _mark_stopped(self, trial_id: str, result: dict[str, Any]) -> None:
        """Ray ends a stopped trial's process at once, so its metrics.json is finished here."""
        metrics = self._metrics(trial_id)
        if metrics.get("status") == "running":
            write_json(self.sweep_dir / "trials" / trial_id / "metrics.json",
                       {**metrics, "status": "stopped", "epochs": result.get("epoch"),
                        "val_accuracy": result.get("val_accuracy")})

    def _metrics(self, trial_id: str) -> dict[str, Any]:
        path = self.sweep_dir / "trials" / trial_id / "metrics.json"
        return json.loads(path.read_text()) if path.is_file() else {}

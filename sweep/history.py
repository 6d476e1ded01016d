"""The per-epoch record of a trial: a Keras callback that logs, reports and checks each epoch."""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from sweep.artifacts import write_text
from sweep.errors import TrainingDiverged


class EpochLog(keras.callbacks.Callback):
    """Records each epoch's metrics and seconds, writes them to `path` (so a trial that a scheduler
    stops keeps its learning curve), passes them to `report`, and stops on a NaN loss."""

    def __init__(self, path: Path, report: Callable[[dict[str, Any]], None] | None = None) -> None:
        super().__init__()
        self.path = path
        self.report = report
        self.rows: list[dict[str, float]] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
               "seconds": time.perf_counter() - self._start}
        if not math.isfinite(row.get("loss", 0.0)):
            raise TrainingDiverged(f"loss became {row['loss']} in epoch {epoch + 1}")
        self.rows.append(row)
        write_text(self.path, self.to_csv())
        if self.report is not None:
            self.report(row)

    def column(self, name: str) -> list[float]:
        return [row[name] for row in self.rows]

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(self.rows[0]))
        writer.writeheader()
        writer.writerows(self.rows)
        return buf.getvalue()

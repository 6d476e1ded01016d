"""Read a sweep folder: one DataFrame of trials, and lazy access to each trial's arrays.

Works on partial sweeps: a trial with no `metrics.json` yet, or one left `running` by a killed
process, is listed with its status; nothing here trains or imports Keras or Ray.
"""

from __future__ import annotations

import functools
import json
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sweep.errors import SweepError
from sweep.space import architecture, hidden_names, input_name

FINISHED = ("completed",)  # statuses of trials with results (stopped ones have a history only)
# Every parameter of a trial but its seed: trials that differ in any of them are different configurations.
CONFIG_COLUMNS = ["label", "dataset", "architecture", "input_reduction", "dropout", "optimizer", "learning_rate",
                  "batch_size", "activation", "max_epochs", "patience", "restore_best", "validation", "keep_train",
                  "activation_dtype"]
METRIC_COLUMNS = ["test_accuracy", "test_loss", "val_accuracy", "best_val_accuracy", "epochs",
                  "best_epoch", "train_seconds", "epoch_seconds", "n_params"]


@dataclass(frozen=True)
class Trial:
    """One trial folder under `<sweep>/trials/`."""

    folder: Path

    @property
    def trial_id(self) -> str:
        return self.folder.name

    @cached_property
    def params(self) -> dict[str, Any]:
        return _read_json(self.folder / "params.json")

    @cached_property
    def metrics(self) -> dict[str, Any]:
        return _read_json(self.folder / "metrics.json")

    @property
    def status(self) -> str:
        return self.metrics.get("status", "starting")

    @property
    def completed(self) -> bool:
        """Trained to the end and evaluated."""
        return self.status in FINISHED

    @property
    def hidden_layers(self) -> list[str]:
        return hidden_names(len(self.params["hidden"]))

    def history(self) -> pd.DataFrame:
        return pd.read_csv(self.folder / "history.csv")

    def confusion(self) -> dict[str, np.ndarray]:
        with np.load(self.folder / "confusion.npz", allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every array in `activations.npz`, read from the headers alone."""
        return _npz_shapes(self.folder / "activations.npz")

    def activations(self) -> np.lib.npyio.NpzFile:
        """The trial's `activations.npz`, opened lazily (arrays load on access)."""
        return np.load(self.folder / "activations.npz", allow_pickle=False)

    def row(self) -> dict[str, Any]:
        p = {**self.params, **self.metrics}
        hidden = self.params["hidden"]
        return {"trial_id": self.trial_id, "status": self.status, "seed": p.get("seed"),
                **{k: p.get(k) for k in CONFIG_COLUMNS},
                "architecture": architecture(hidden, p["reduction"], p["reduction_k"]),
                "input_reduction": input_name(p["reduction"], p["reduction_k"]),
                "hidden": " ".join(map(str, hidden)), "bottleneck": min(hidden) if hidden else None,
                "depth": len(hidden), **{k: p.get(k) for k in METRIC_COLUMNS},
                "node": p.get("node"), "error": p.get("error")}


def finished(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of trials with results (see `FINISHED`)."""
    return table[table.status.isin(FINISHED)]


@dataclass(frozen=True)
class Sweep:
    folder: Path
    trials: tuple[Trial, ...]
    planned: int  # trials the space expands to, or an Optuna search's number of samples

    @property
    def name(self) -> str:
        return self.folder.name

    def table(self) -> pd.DataFrame:
        """One row per trial folder, completed or not."""
        rows = [t.row() for t in self.trials]
        return pd.DataFrame(rows, columns=list(rows[0]) if rows else ["trial_id", "status"])

    def completed(self) -> list[Trial]:
        return [t for t in self.trials if t.completed]

    def faults(self) -> int:
        """Planned trials that neither completed nor were stopped early by a scheduler."""
        return max(self.planned, len(self.trials)) - sum(t.status in (*FINISHED, "stopped") for t in self.trials)

    def repeated(self) -> list[Trial]:
        """Trials whose configuration and seed an earlier trial folder already holds."""
        seen, repeats = set(), []
        for trial in self.trials:
            key = json.dumps({k: v for k, v in trial.params.items() if k not in ("trial_id", "trial_name")}, sort_keys=True)
            if key in seen:
                repeats.append(trial)
            seen.add(key)
        return repeats

    def trial(self, trial_id: str) -> Trial:
        for t in self.trials:
            if t.trial_id == trial_id:
                return t
        raise SweepError(f"{self.folder}: no trial {trial_id!r}")


def load_sweep(folder: str | Path) -> Sweep:
    folder = Path(folder).absolute()  # named even when given as "."
    if not (folder / "sweep.json").is_file():
        raise SweepError(f"{folder}: not a sweep folder (no sweep.json); pass results/<name>")
    trials_dir = folder / "trials"
    trials = tuple(Trial(p) for p in sorted(trials_dir.iterdir()) if (p / "params.json").is_file()) \
        if trials_dir.is_dir() else ()
    return Sweep(folder=folder, trials=trials, planned=_read_json(folder / "sweep.json").get("planned", 0))


@functools.lru_cache(maxsize=4096)
def _npz_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    shapes = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            with archive.open(name) as member:
                version = np.lib.format.read_magic(member)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shapes[name.removesuffix(".npy")] = read(member)[0]
    return shapes


def sweep_ended(folder: str | Path) -> bool:
    """Whether the sweep's driver has finished (`sweep run` records its end in sweep.json)."""
    return "ended" in _read_json(Path(folder) / "sweep.json")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise SweepError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); delete the trial folder to rerun it") from None

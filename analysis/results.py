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

from sweep import data
from sweep.config import FIELDS, SHORTHAND, TrialConfig, resolve
from sweep.errors import SweepError
from sweep.folder import FINISHED, STARTING, STOPPED, SweepFolder, TrialFolder

# Every parameter of a trial but its seed, its widths and input reduction named by the architecture:
# trials that differ in any of them are different configurations.
CONFIG_COLUMNS = ["label", "dataset", "architecture", "input_reduction",
                  *(n for n in FIELDS if n not in ("label", "dataset", "hidden", "reduction", "reduction_k", "seed",
                                                   *SHORTHAND))]
METRIC_COLUMNS = ["test_accuracy", "test_loss", "val_accuracy", "best_val_accuracy", "epochs",
                  "best_epoch", "train_seconds", "epoch_seconds", "n_params"]


@dataclass(frozen=True)
class Trial:
    """One trial folder of a sweep."""

    files: TrialFolder
    sweep: SweepFolder

    @property
    def trial_id(self) -> str:
        return self.files.trial_id

    @cached_property
    def params(self) -> dict[str, Any]:
        return self.files.read_params()

    @cached_property
    def config(self) -> TrialConfig:
        return resolve({k: v for k, v in self.params.items() if k in FIELDS}, str(self.files.params))

    @cached_property
    def metrics(self) -> dict[str, Any]:
        return self.sweep.metrics(self.files)

    @property
    def status(self) -> str:
        return self.metrics.get("status", STARTING)

    @property
    def completed(self) -> bool:
        """Trained to the end and evaluated."""
        return self.status in FINISHED

    @property
    def hidden_layers(self) -> list[str]:
        return self.config.layer_names

    def history(self) -> pd.DataFrame:
        return pd.read_csv(self.files.history)

    def confusion(self) -> dict[str, np.ndarray]:
        with np.load(self.files.confusion, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every array in `activations.npz`, read from the headers alone."""
        return _npz_shapes(self.files.activations)

    def activations(self) -> np.lib.npyio.NpzFile:
        """The trial's `activations.npz`, opened lazily (arrays load on access)."""
        return np.load(self.files.activations, allow_pickle=False)

    def row(self) -> dict[str, Any]:
        p, cfg = {**self.params, **self.metrics}, self.config
        return {"trial_id": self.trial_id, "status": self.status, "seed": cfg.seed,
                **{k: p.get(k) for k in CONFIG_COLUMNS},
                "architecture": cfg.architecture, "input_reduction": cfg.input_reduction,
                "hidden": " ".join(map(str, cfg.hidden)), "bottleneck": min(cfg.hidden), "depth": len(cfg.hidden),
                **{k: p.get(k) for k in METRIC_COLUMNS}, "started_from": p.get("started_from"),
                "node": p.get("node"), "error": p.get("error")}


def finished(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of trials with results (see `FINISHED`)."""
    return table[table.status.isin(FINISHED)]


@dataclass(frozen=True)
class Sweep:
    files: SweepFolder
    trials: tuple[Trial, ...]
    planned: int  # trials the space expands to, or an Optuna search's number of samples

    def table(self) -> pd.DataFrame:
        """One row per trial folder, completed or not."""
        rows = [t.row() for t in self.trials]
        return pd.DataFrame(rows, columns=list(rows[0]) if rows else ["trial_id", "status"])

    def completed(self) -> list[Trial]:
        return [t for t in self.trials if t.completed]

    def faults(self) -> int:
        """Planned trials that neither completed nor were stopped early by a scheduler."""
        return max(self.planned, len(self.trials)) - sum(t.status in (*FINISHED, STOPPED) for t in self.trials)

    def repeated(self) -> list[Trial]:
        """Trials whose configuration and seed an earlier trial folder already holds."""
        seen, repeats = set(), []
        for trial in self.trials:
            key = json.dumps(trial.config.to_dict(), sort_keys=True)
            if key in seen:
                repeats.append(trial)
            seen.add(key)
        return repeats

    def trial(self, trial_id: str) -> Trial:
        for t in self.trials:
            if t.trial_id == trial_id:
                return t
        raise SweepError(f"{self.files.path}: no trial {trial_id!r}")


def load_sweep(folder: str | Path) -> Sweep:
    files = SweepFolder(Path(folder))
    if not files.is_sweep():
        raise SweepError(f"{files.path}: not a sweep folder (no sweep.json); pass results/<name>")
    data.adopt(files.data)  # the user's own data sets it ran on
    return Sweep(files=files, trials=tuple(Trial(t, files) for t in files.trials()),
                 planned=files.read_record().get("planned", 0))


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

"""The sweep folder: where each file of a sweep lives, and the one place that reads and writes them.

```
results/<name>/
  sweep.json     the driver's record: options, search, planned trial count, the end of the run
  space.yaml     the space file as run           trials.jsonl   every resolved trial (grid, random)
  reductions/    fitted input reductions          optuna.db      the Optuna study (optuna search)
  xla_cache/     compiled JAX steps               ray/           Ray Tune's experiment state
  ends/<id>.json the driver's word on a trial that ended without its own: stopped by the
                 scheduler, or its process died on its last try
  trials/<id>/   params.json  metrics.json  history.csv  confusion.npz  model.keras
                 activations.npz  [error.txt]       (each written by the trial alone)
  report/        written by `sweep report`
```

Every file has one writer: the trial writes its folder, the driver everything else. A trial's
status is its own `metrics.json`, unless the driver recorded an end of the attempt it last saw
running.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweep.artifacts import digest, write_json, write_text
from sweep.errors import SweepError

RUNNING, COMPLETED, FAILED, STOPPED = "running", "completed", "failed", "stopped"
STARTING = "starting"  # a trial folder without metrics yet
FINISHED = (COMPLETED,)  # statuses of trials with results (stopped ones have a history only)


def read_json(path: Path) -> dict[str, Any]:
    """A JSON record; {} when it is not there (yet). Files are written whole, so a broken one was
    damaged by hand."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise SweepError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); "
                         f"delete it (a trial's folder: the trial reruns)") from None


class _Entry:
    """A file or folder at a fixed name in a folder object's `path`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, folder: TrialFolder | SweepFolder | None, owner: type | None = None) -> Any:
        return self if folder is None else folder.path / self.name  # on the class: the entry, for its name


def _entries(*names: str) -> tuple[_Entry, ...]:
    return tuple(map(_Entry, names))


@dataclass(frozen=True)
class TrialFolder:
    """`<sweep>/trials/<trial_id>/`: written by its trial; read by the driver and the analysis."""

    path: Path
    params, metrics, history, confusion, model, activations, error = _entries(
        "params.json", "metrics.json", "history.csv", "confusion.npz", "model.keras", "activations.npz", "error.txt")

    @property
    def trial_id(self) -> str:
        return self.path.name

    def read_params(self) -> dict[str, Any]:
        return read_json(self.params)

    def read_metrics(self) -> dict[str, Any]:
        """`metrics.json` as the trial last wrote it (`SweepFolder.metrics` adds the driver's word)."""
        return read_json(self.metrics)

    def manifest(self) -> dict[str, str]:
        """Every file of the trial but `metrics.json`, with its digest: a completed trial's metrics
        list them, so that a copy (on object storage, `sweep.storage`) is known to be whole."""
        return {p.name: digest(p) for p in sorted(self.path.iterdir())
                if p.is_file() and p.name != self.metrics.name and not p.name.startswith(".")}

    def write_params(self, params: dict[str, Any]) -> None:
        write_json(self.params, params)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        write_json(self.metrics, metrics)

    def write_error(self, text: str) -> None:
        write_text(self.error, text)


@dataclass(frozen=True)
class SweepFolder:
    """`results/<name>/`: its files, its trials and the driver's records."""

    path: Path
    record, space, trial_list, reductions, xla_cache, ray, optuna_db, report, trials_dir, ends, data = _entries(
        "sweep.json", "space.yaml", "trials.jsonl", "reductions", "xla_cache", "ray", "optuna.db", "report", "trials",
        "ends", "data")  # data: copies of the user's own data sets (`sweep.data.save`)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path).absolute())  # named even when given as "."

    @property
    def name(self) -> str:
        return self.path.name

    def is_sweep(self) -> bool:
        return self.record.is_file()

    def trial(self, trial_id: str) -> TrialFolder:
        return TrialFolder(self.trials_dir / trial_id)

    def trials(self) -> list[TrialFolder]:
        """Every trial folder that holds a configuration, by trial id."""
        if not self.trials_dir.is_dir():
            return []
        return [t for t in map(self.trial, sorted(p.name for p in self.trials_dir.iterdir())) if t.params.is_file()]

    def driver_files(self) -> tuple[Path, ...]:
        """What the driver writes (on object storage, pushed from the mirror; `sweep.storage`)."""
        return self.record, self.space, self.trial_list, self.optuna_db, self.ends

    def read_record(self) -> dict[str, Any]:
        return read_json(self.record)

    def write_record(self, record: dict[str, Any]) -> None:
        write_json(self.record, record)

    def ended(self) -> bool:
        """Whether the driver has finished the run (`sweep run` records its end)."""
        return "ended" in self.read_record()

    def _end(self, trial_id: str) -> Path:
        return self.ends / f"{trial_id}.json"

    def record_end(self, trial_id: str, attempt: int | None, status: str, **fields: Any) -> None:
        """The driver's word on a trial whose `attempt` ended without the trial saying so itself:
        stopped by the scheduler, or its process died. Naming the attempt keeps a later one (a
        retry, a resumed sweep) from being taken for ended."""
        write_json(self._end(trial_id), {**fields, "status": status, "attempt": attempt})

    def metrics(self, trial: TrialFolder) -> dict[str, Any]:
        """A trial's metrics with the driver's word on how its attempt ended, where the trial could not say."""
        own = trial.read_metrics()
        end = read_json(self._end(trial.trial_id))
        if own.get("status", RUNNING) == RUNNING and end and end.get("attempt") == own.get("attempt"):
            return own | end
        return own

"""Run a space on Ray Tune: options, checks before Ray starts, the sweep's record; the search is
`sweep.search`, the trial `sweep.trainable`."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from sweep import data, trackers
from sweep.artifacts import write_text
from sweep.backend import DEFAULT_BACKEND
from sweep.errors import SweepError
from sweep.folder import SweepFolder
from sweep.logs import quiet
from sweep.space import Space
from sweep.storage import RECORDS_ONLY, Storage, is_uri


@dataclass(frozen=True)
class RunOptions:
    """How and where to run a space; the command line's options."""

    results: str | Path = "results"  # the sweep lands in results/<name>/: a folder, or a URI (`sweep.storage`)
    name: str | None = None  # default: the space file's stem
    concurrency: int | None = None  # trials at once; default: as many as the CPUs allow
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    address: str | None = None  # an existing Ray cluster to join; default: start one here
    resume: bool = False  # continue an interrupted sweep instead of refusing its folder
    data_dir: str | None = None
    backend: str = DEFAULT_BACKEND
    mlflow: str | None = None  # an MLflow tracking URI, or `trackers.BESIDE`: a SQLite store in the sweep folder

    def __post_init__(self) -> None:
        concurrency_ok = self.concurrency is None or self.concurrency >= 1
        for name, value, ok, rule in (("--concurrency", self.concurrency, concurrency_ok, ">= 1"),
                                      ("--cpus-per-trial", self.cpus_per_trial, self.cpus_per_trial > 0, "> 0"),
                                      ("--gpus-per-trial", self.gpus_per_trial, self.gpus_per_trial >= 0, ">= 0")):
            if not ok:
                raise SweepError(f"{name} must be {rule}, got {value}")
        if self.name is not None and (self.name in ("", ".", "..") or Path(self.name).name != self.name):
            raise SweepError(f"--name must be a folder name without '/', got {self.name!r}; "
                             f"choose the parent folder with --results")

    def location(self, space: Space) -> str:
        """Where the sweep lives: its folder, or its URI on object storage."""
        name = self.name or space.name
        if is_uri(self.results):
            return f"{str(self.results).rstrip('/')}/{name}"
        return str(Path(self.results, name).absolute())

    def storage(self, space: Space) -> Storage | None:
        return Storage(self.location(space)) if is_uri(self.results) else None

    def folder(self, space: Space) -> SweepFolder:
        """The sweep's folder; on object storage, this machine's mirror of it."""
        storage = self.storage(space)
        return storage.mirror if storage else SweepFolder(Path(self.location(space)))


def run_sweep(space: Space, options: RunOptions, log: Callable[[str], None] = print) -> Path:
    """Run every trial of `space` on Ray Tune (or, with `options.resume`, what is left); return its folder.

    Everything that can be checked is checked before the sweep folder is written: the folder,
    the data, the Ray cluster and whether a trial's resources fit on it."""
    folder, storage, location = options.folder(space), options.storage(space), options.location(space)
    if storage:
        storage.check()
    started = storage.exists() if storage else folder.is_sweep()
    if options.resume and not started:
        raise SweepError(f"{location}: no sweep to resume here (sweep.json missing); drop --resume")
    if not options.resume and (started if storage else folder.path.exists()):
        raise SweepError(f"{location}: the sweep exists; pass --resume to continue it or --name to start another")
    if storage and options.resume:
        storage.pull(folder.data)  # the record of the data it ran on
    check_data(space, options.data_dir, folder)
    if options.mlflow:
        trackers.check(options.mlflow)

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the legacy reporter is silent at verbose=0
    # A failed trial is one line from `Progress`; its traceback is in its error.txt, not on the console.
    os.environ.setdefault("TUNE_PRINT_ALL_TRIAL_ERRORS", "0")
    logging.getLogger("ray.tune.tune").addFilter(_without_incomplete_trials)
    from ray import tune

    from sweep.cluster import connected
    from sweep.progress import Progress
    from sweep.search import tuner
    from sweep.trainable import train_trial

    here = not (options.address or os.environ.get("RAY_ADDRESS"))  # a Ray of this machine's size
    if here:
        _check_fits(options, {"CPU": os.cpu_count() or 1})  # before it starts: the CPUs it will count
    chatty = ("optuna",) * (space.search == "optuna") + ("mlflow", "alembic") * bool(options.mlflow)
    with connected(options.address), quiet(*chatty):
        if here:
            _check_fits(options, _largest_node())  # what it counted (a CPU quota, GPUs)
        planned = _record(space, options, folder, storage)
        log(f"{planned} trials -> {location}{' (resumed)' if options.resume else ''}")
        trainable = tune.with_resources(
            tune.with_parameters(train_trial, sweep=location, data_dir=options.data_dir, backend=options.backend),
            {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial})
        ray_state = storage.ray_uri if storage else str(folder.ray)
        if options.resume and tune.Tuner.can_restore(ray_state):
            # The restored Tuner brings back the `Progress` it was made with (Ray keeps its run
            # configuration); that callback restarts its count and clock when the run starts.
            run = tune.Tuner.restore(ray_state, trainable, resume_errored=True)
        else:
            callbacks = [Progress(log, planned, folder, storage), trackers.tensorboard()]
            if options.mlflow:
                callbacks.append(_tracked(space, options, folder, storage, planned))
            run = tuner(space, trainable, folder, options.concurrency, location, callbacks=callbacks)
        grid = run.fit()
    record = folder.read_record()
    if tracked := record.get("mlflow_run"):
        trackers.finish(tracked["uri"], tracked["run_id"], failed=grid.num_errors > 0)
    folder.write_record(record | {"ended": time.time()})  # for a report that follows the sweep
    if storage:
        storage.push(folder.record)
        storage.fetch(skip=RECORDS_ONLY)  # what the summary reads; a report fetches the rest
    return folder.path


def _record(space: Space, options: RunOptions, folder: SweepFolder, storage: Storage | None) -> int:
    """Write a new sweep's folder (or reopen a resumed one's record); return the planned trial count.
    On object storage, the driver's files are written to the mirror and pushed."""
    if options.resume:
        if storage:
            storage.pull(*folder.driver_files())
        record = folder.read_record()
        folder.write_record({k: v for k, v in record.items() if k != "ended"})
        if storage:
            storage.push(folder.record)
        return record["planned"]
    configs = space.trials() if space.search != "optuna" else []
    planned = len(configs) or space.num_samples
    if storage:
        shutil.rmtree(folder.path, ignore_errors=True)  # the mirror of an earlier sweep of this name
    folder.path.mkdir(parents=True)
    write_text(folder.space, space.path.read_text())
    folder.write_record({**asdict(options), "results": str(options.results), "space": str(space.path),
                         "search": space.search, "scheduler": space.scheduler, "planned": planned,
                         "data": {name: data.load(name, options.data_dir).describe()
                                  for name in sorted(space.values("dataset"))}})
    write_text(folder.trial_list, "".join(json.dumps(c.to_dict()) + "\n" for c in configs))
    for name in sorted(space.values("dataset")):  # the user's own data sets: a copy the trials read
        if name not in data.SOURCES:
            data.save(name, folder.data)
    if storage:
        storage.push(*folder.driver_files(), folder.data)
    return planned


def _tracked(space: Space, options: RunOptions, folder: SweepFolder, storage: Storage | None, planned: int) -> object:
    """The MLflow callback of a new sweep, its parent run recorded in `sweep.json` (a report attaches
    itself there)."""
    uri = trackers.mlflow_uri(options.mlflow, folder)
    callback, run_id = trackers.start(uri, folder.name, {"space": space.name, "search": space.search,
                                                          "planned": planned, "seeds": list(space.seeds)})
    folder.write_record(folder.read_record() | {"mlflow_run": {"uri": uri, "run_id": run_id}})
    if storage:
        storage.push(folder.record)
    return callback


def _check_fits(options: RunOptions, largest: dict[str, float]) -> None:
    """A trial must fit on one node, or Tune waits for it forever; `largest`: a node's CPUs and GPUs."""
    for option, kind, asked in (("--cpus-per-trial", "CPU", options.cpus_per_trial),
                                ("--gpus-per-trial", "GPU", options.gpus_per_trial)):
        most = largest.get(kind, asked)
        if asked > most:
            raise SweepError(f"{option} {asked:g}: this machine's Ray has {most:g} {kind}s; ask for at most "
                             f"{most:g}, or join a larger cluster with --address")


def _largest_node() -> dict[str, float]:
    import ray

    nodes = [node["Resources"] for node in ray.nodes() if node["Alive"]]
    return {kind: max(node.get(kind, 0.0) for node in nodes) for kind in ("CPU", "GPU")}


def check_data(space: Space, data_dir: str | None, folder: SweepFolder | None = None) -> None:
    """Load and checksum every data set the space uses: a missing or corrupt file stops the sweep
    before it starts, not in every trial. The user's own data must be what a resumed sweep in
    `folder` ran on."""
    for name in sorted(space.values("dataset")):
        data.load(name, data_dir)
        if folder is not None and name not in data.SOURCES:
            data.check_same(name, folder.data)


def _without_incomplete_trials(record: logging.LogRecord) -> bool:
    """Drops Tune's closing "Trials did not complete" error: the exit code and summary say it."""
    return not record.getMessage().startswith("Trials did not complete")

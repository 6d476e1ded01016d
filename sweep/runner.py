"""Configure Ray Tune for a space and run it; the trial itself lives in `sweep.trainable`."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sweep import data
from sweep.artifacts import write_json, write_text
from sweep.backend import DEFAULT_BACKEND
from sweep.errors import SweepError
from sweep.space import CLASSES, Space, TrialConfig

METRIC, MODE = "val_accuracy", "max"  # what search and schedulers optimise: never test data
RAY_DIR = "ray"  # Ray Tune's experiment state, under the sweep folder


@dataclass(frozen=True)
class RunOptions:
    """How and where to run a space; the command line's options."""

    results: Path = Path("results")  # the sweep lands in results/<name>/
    name: str | None = None  # default: the space file's stem
    concurrency: int | None = None  # trials at once; default: as many as the CPUs allow
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    address: str | None = None  # an existing Ray cluster to join; default: start one here
    resume: bool = False  # continue an interrupted sweep instead of refusing its folder
    data_dir: str | None = None
    backend: str = DEFAULT_BACKEND

    def __post_init__(self) -> None:
        for name, value, ok, rule in (("--concurrency", self.concurrency, self.concurrency is None or self.concurrency >= 1, ">= 1"),
                                      ("--cpus-per-trial", self.cpus_per_trial, self.cpus_per_trial > 0, "> 0"),
                                      ("--gpus-per-trial", self.gpus_per_trial, self.gpus_per_trial >= 0, ">= 0")):
            if not ok:
                raise SweepError(f"{name} must be {rule}, got {value}")
        if self.name is not None and (self.name in ("", ".", "..") or Path(self.name).name != self.name):
            raise SweepError(f"--name must be a folder name without '/', got {self.name!r}; "
                             f"choose the parent folder with --results")

    def sweep_dir(self, space: Space) -> Path:
        return (Path(self.results) / (self.name or space.name)).absolute()


def run_sweep(space: Space, options: RunOptions, log: Callable[[str], None] = print) -> Path:
    """Run every trial of `space` on Ray Tune (or, with `options.resume`, what is left); return its folder.

    Everything that can be checked is checked before the sweep folder is written: the folder,
    the data, the Ray cluster and whether a trial's resources fit on it."""
    sweep_dir = options.sweep_dir(space)
    if options.resume and not (sweep_dir / "sweep.json").is_file():
        raise SweepError(f"{sweep_dir}: no sweep to resume here (sweep.json missing); drop --resume")
    if not options.resume and sweep_dir.exists():
        raise SweepError(f"{sweep_dir}: the sweep exists; pass --resume to continue it or --name to start another")
    check_data(space, options.data_dir)

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the legacy reporter is silent at verbose=0
    # A failed trial is one line from `Progress`; its traceback is in its error.txt, not on the console.
    os.environ.setdefault("TUNE_PRINT_ALL_TRIAL_ERRORS", "0")
    logging.getLogger("ray.tune.tune").addFilter(_without_incomplete_trials)
    from ray import tune

    from sweep.cluster import connected
    from sweep.progress import Progress
    from sweep.trainable import train_trial

    with connected(options.address):
        if not (options.address or os.environ.get("RAY_ADDRESS")):  # a Ray of this machine's size
            _check_fits(options)
        planned = _record(space, options, sweep_dir)
        log(f"{planned} trials -> {options.results / sweep_dir.name}{' (resumed)' if options.resume else ''}")
        trainable = tune.with_resources(
            tune.with_parameters(train_trial, sweep_dir=str(sweep_dir), data_dir=options.data_dir,
                                 backend=options.backend),
            {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial})
        if options.resume and (sweep_dir / RAY_DIR).is_dir():
            tuner = tune.Tuner.restore(str(sweep_dir / RAY_DIR), trainable, resume_errored=True)
        else:
            tuner = _tuner(space, options, trainable, sweep_dir)
        # Ray pickles callbacks with its state and restores them; give every start a fresh one.
        tuner._local_tuner.get_run_config().callbacks = [Progress(log, planned, sweep_dir)]
        tuner.fit()
    # The sweep's end, for a report that follows it (`sweep report --follow`).
    write_json(sweep_dir / "sweep.json", {**json.loads((sweep_dir / "sweep.json").read_text()), "ended": time.time()})
    return sweep_dir


def _record(space: Space, options: RunOptions, sweep_dir: Path) -> int:
    """Write a new sweep's folder (or reopen a resumed one's record); return the planned trial count."""
    if options.resume:
        record = json.loads((sweep_dir / "sweep.json").read_text())
        write_json(sweep_dir / "sweep.json", {k: v for k, v in record.items() if k != "ended"})
        return record["planned"]
    configs = space.trials() if space.search != "optuna" else []
    planned = len(configs) or space.num_samples
    sweep_dir.mkdir(parents=True)
    write_text(sweep_dir / "space.yaml", space.path.read_text())
    write_json(sweep_dir / "sweep.json", {**asdict(options), "results": str(options.results), "space": str(space.path),
                                          "search": space.search, "scheduler": space.scheduler, "planned": planned})
    write_text(sweep_dir / "trials.jsonl", "".join(json.dumps(c.to_dict()) + "\n" for c in configs))
    return planned


def _check_fits(options: RunOptions) -> None:
    """A trial must fit on one node, or Tune waits for it forever."""
    import ray

    nodes = [node["Resources"] for node in ray.nodes() if node["Alive"]]
    for option, kind, asked in (("--cpus-per-trial", "CPU", options.cpus_per_trial),
                                ("--gpus-per-trial", "GPU", options.gpus_per_trial)):
        most = max(node.get(kind, 0.0) for node in nodes)
        if asked > most:
            raise SweepError(f"{option} {asked:g}: this machine's Ray has {most:g} {kind}s; ask for at most "
                             f"{most:g}, or join a larger cluster with --address")


def check_data(space: Space, data_dir: str | None) -> None:
    """Load and checksum every data set the space uses: a missing or corrupt file stops the sweep
    before it starts, not in every trial."""
    for name in sorted(space.values("dataset")):
        data.load(name, data_dir)


def _without_incomplete_trials(record: logging.LogRecord) -> bool:
    """Drops Tune's closing "Trials did not complete" error: the exit code and summary say it."""
    return not record.getMessage().startswith("Trials did not complete")


def _tuner(space: Space, options: RunOptions, trainable: Any, sweep_dir: Path) -> Any:
    from ray import tune

    search_alg, scheduler = None, None
    if space.search == "optuna":
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        # One sampler on the driver, so SQLite sees a single writer; open it later with optuna.load_study.
        storage = optuna.storages.RDBStorage(f"sqlite:///{sweep_dir / 'optuna.db'}")
        search_alg = OptunaSearch(metric=METRIC, mode=MODE, seed=space.search_seed, storage=storage,
                                  study_name=sweep_dir.name)
        param_space = {"trial": space.optuna_space()}
        num_samples = space.num_samples
    else:
        param_space = {"trial": tune.grid_search([c.to_dict() for c in launch_order(space.trials())])}
        num_samples = 1
    if space.scheduler == "asha":
        from ray.tune.schedulers import ASHAScheduler

        max_epochs = _max_epochs(space)
        # max_t counts the trial's final report too, so no trial is stopped for merely finishing.
        scheduler = ASHAScheduler(time_attr="training_iteration", max_t=max_epochs + 1, grace_period=2,
                                  reduction_factor=3)
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(metric=METRIC, mode=MODE, search_alg=search_alg, scheduler=scheduler,
                                    num_samples=num_samples, max_concurrent_trials=options.concurrency,
                                    reuse_actors=True,  # one process serves many trials: Keras, JAX and data load once
                                    trial_dirname_creator=lambda trial: trial.trial_id),
        run_config=tune.RunConfig(name=RAY_DIR, storage_path=str(sweep_dir), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=space.max_failures)),
    )


def launch_order(configs: list[TrialConfig]) -> list[TrialConfig]:
    """The order that ends a grid soonest on a few CPUs: the largest trial (weights x epochs) first,
    then those that fit an input reduction (the fit overlaps that trial), then the rest largest
    first, so that the smallest trials fill the end instead of a large one running on alone."""
    def work(c: TrialConfig) -> int:
        widths = [c.input_dim, *c.hidden, CLASSES]
        return c.max_epochs * sum(a * b for a, b in zip(widths, widths[1:]))

    by_work = sorted(configs, key=work, reverse=True)
    return by_work[:1] + sorted(by_work[1:], key=lambda c: c.reduction == "none")


def _max_epochs(space: Space) -> int:
    return max(space.values("max_epochs"))


def describe(trial: TrialConfig) -> str:
    """A short text for a trial configuration: `mnist pca154-128-5-10 dropout 0.5 seed 0`."""
    drop = f" dropout {trial.dropout:g}" if trial.dropout else ""
    return f"{trial.dataset} {trial.architecture}{drop} seed {trial.seed}"

"""Configure Ray Tune for a space and run it; the trial itself lives in `sweep.trainable`."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sweep import reduce
from sweep.artifacts import write_json, write_text
from sweep.backend import DEFAULT_BACKEND
from sweep.errors import SweepError
from sweep.space import Space, TrialConfig

METRIC, MODE = "val_accuracy", "max"  # what search and schedulers optimise: never test data


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

    def sweep_dir(self, space: Space) -> Path:
        return (Path(self.results) / (self.name or space.name)).absolute()


def run_sweep(space: Space, options: RunOptions, log: Callable[[str], None] = print) -> Path:
    """Run every trial of `space` on Ray Tune; return the sweep's folder."""
    sweep_dir = options.sweep_dir(space)
    trials_file = sweep_dir / "trials.jsonl"
    if options.resume:
        if not trials_file.is_file():
            raise SweepError(f"{sweep_dir}: no sweep to resume here (trials.jsonl missing); drop --resume")
        configs = [TrialConfig(**{**d, "hidden": tuple(d["hidden"])}) for d in map(json.loads, trials_file.read_text().splitlines())]
    else:
        if sweep_dir.exists():
            raise SweepError(f"{sweep_dir}: the sweep exists; pass --resume to continue it or --name to start another")
        configs = space.trials()
        sweep_dir.mkdir(parents=True)
        write_text(sweep_dir / "space.yaml", space.path.read_text())
        write_json(sweep_dir / "sweep.json", {**asdict(options), "results": str(options.results), "space": str(space.path),
                                              "search": space.search, "description": space.description})
        write_text(trials_file, "".join(json.dumps(c.to_dict()) + "\n" for c in configs))
    reductions = reduce.fit_all(configs, sweep_dir / "reductions", options.data_dir, log)
    log(f"{len(configs)} trials -> {sweep_dir}")

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the legacy reporter is silent at verbose=0
    import ray
    from ray import tune

    from sweep.progress import Progress
    from sweep.trainable import train_trial

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=options.address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR, configure_logging=True)
    try:
        trainable = tune.with_resources(
            tune.with_parameters(train_trial, sweep_dir=str(sweep_dir), reductions=reductions,
                                 data_dir=options.data_dir, backend=options.backend),
            {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial})
        if options.resume and (sweep_dir / "ray").is_dir():
            tuner = tune.Tuner.restore(str(sweep_dir / "ray"), trainable, resume_errored=True)
        else:
            tuner = tune.Tuner(
                trainable,
                param_space={"trial": tune.grid_search([c.to_dict() for c in configs])},
                tune_config=tune.TuneConfig(metric=METRIC, mode=MODE, max_concurrent_trials=options.concurrency,
                                            trial_dirname_creator=lambda trial: trial.trial_id),
                run_config=tune.RunConfig(name="ray", storage_path=str(sweep_dir), verbose=0,
                                          callbacks=[Progress(log, len(configs))],
                                          failure_config=tune.FailureConfig(max_failures=space.max_failures)),
            )
        tuner.fit()
    finally:
        if started_here:
            ray.shutdown()
    return sweep_dir


def describe(trial: dict[str, Any]) -> str:
    """A short text for a trial configuration: `mnist 784-128-5-10 pca154 dropout 0.5 seed 0`."""
    red = trial["reduction"]
    inputs = "784" if red == "none" else f"{red}{trial['reduction_k']}"
    arch = "-".join([inputs, *map(str, trial["hidden"]), "10"])
    drop = f" dropout {trial['dropout']:g}" if trial["dropout"] else ""
    return f"{trial['dataset']} {arch}{drop} seed {trial['seed']}"

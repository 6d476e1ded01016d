"""How Ray Tune searches a space: a grid of resolved trials in launch order (trials that start
from others held back until those end), or Optuna drawing from Ray's distributions, with an
optional ASHA scheduler. Ray and Optuna are imported here only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ray.tune.search import Searcher

from sweep.config import TrialConfig
from sweep.folder import COMPLETED, SweepFolder
from sweep.space import Distribution, Space

METRIC, MODE = "val_accuracy", "max"  # what search and schedulers optimise: never test data


def tuner(space: Space, trainable: Any, folder: SweepFolder, concurrency: int | None, location: str,
          callbacks: list[Any]) -> Any:
    """A new `tune.Tuner` for the space, its state kept in the sweep at `location` (a folder or a
    URI); the Optuna study in `folder`, the sweep's folder or its local mirror; Tune's `callbacks`."""
    from ray import tune

    search_alg, scheduler = None, None
    if space.search == "optuna":
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        # One sampler on the driver, so SQLite sees a single writer; open it later with optuna.load_study.
        storage = optuna.storages.RDBStorage(f"sqlite:///{folder.optuna_db}")
        search_alg = OptunaSearch(metric=METRIC, mode=MODE, seed=space.search_seed, storage=storage,
                                  study_name=folder.name)
        param_space = {"trial": optuna_space(space)}
        num_samples = space.num_samples
    elif not any(p is not None for p in space.parents()):
        # Tune's configurations are plain data: its saved state, which --resume restores, holds no objects.
        param_space = {"trial": tune.grid_search([c.to_dict() for c in launch_order(space.trials())])}
        num_samples = 1
    else:  # trials that start from others wait for them
        search_alg, param_space = lineage(space, folder), {}
        num_samples = len(search_alg.configs)
    if space.scheduler == "asha":
        from ray.tune.schedulers import ASHAScheduler

        # max_t counts the trial's final report too, so no trial is stopped for merely finishing.
        scheduler = ASHAScheduler(time_attr="training_iteration", max_t=max(space.values("max_epochs")) + 1,
                                  grace_period=2, reduction_factor=3)
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(metric=METRIC, mode=MODE, search_alg=search_alg, scheduler=scheduler,
                                    num_samples=num_samples, max_concurrent_trials=concurrency,
                                    reuse_actors=True,  # one process serves many trials: Keras, JAX and data load once
                                    trial_dirname_creator=lambda trial: trial.trial_id),
        run_config=tune.RunConfig(name=folder.ray.name, storage_path=location, verbose=0, callbacks=callbacks,
                                  failure_config=tune.FailureConfig(max_failures=space.max_failures)),
    )


class Lineage(Searcher):
    """Suggests a grid's trials in order, each trial that starts from another (`init_from`) only
    once that parent has ended: then with the parent's trial id, and whether it completed (a parent
    that failed or was stopped early fails its children). Its state is saved with Tune's, so
    `--resume` goes on where it stopped; a parent that completed after the last save is found
    completed in the sweep's `folder`."""

    def __init__(self, configs: list[dict], parents: list[int | None], folder: SweepFolder) -> None:
        super().__init__(metric=METRIC, mode=MODE)
        self.configs, self.parents, self.folder = configs, parents, folder
        self.given: dict[str, int] = {}  # Tune's trial id -> the position of its configuration
        self.ended: dict[int, tuple[str, bool]] = {}  # position -> (trial id, completed)

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True

    def suggest(self, trial_id: str) -> dict | str | None:
        given = set(self.given.values())
        waiting = [i for i in range(len(self.configs)) if i not in given]
        if not waiting:
            return Searcher.FINISHED
        ready = next((i for i in waiting if self.parents[i] is None or self._ended(self.parents[i])), None)
        if ready is None:
            return None  # every trial left waits for a parent still running
        self.given[trial_id] = ready
        parent = self.parents[ready]
        if parent is None:
            return {"trial": self.configs[ready]}
        trial, completed = self.ended[parent]
        return {"trial": self.configs[ready], "parent": {"trial_id": trial, "completed": completed}}

    def _ended(self, position: int) -> bool:
        """Whether the trial at `position` has ended: by Tune's word, or completed by its folder's (a
        failed trial may still be retried; a completed one is done)."""
        trial = next((t for t, i in self.given.items() if i == position), None)
        if position not in self.ended and trial is not None:
            if self.folder.metrics(self.folder.trial(trial)).get("status") == COMPLETED:
                self.ended[position] = (trial, True)
        return position in self.ended

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self.given:
            completed = not error and (result or {}).get("status") == COMPLETED
            self.ended[self.given[trial_id]] = (trial_id, completed)

    def get_state(self) -> dict:
        return {"given": self.given, "ended": self.ended}

    def set_state(self, state: dict) -> None:
        self.given, self.ended = state["given"], state["ended"]

    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_text(json.dumps({"given": self.given, "ended": list(self.ended.items())}))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        self.set_state({"given": state["given"], "ended": {i: tuple(e) for i, e in state["ended"]}})


def lineage(space: Space, folder: SweepFolder) -> Lineage:
    """The `Lineage` of a grid or random space's trials, in launch order, for the sweep in `folder`."""
    trials, parents = space.trials(), space.parents()
    position = {c: i for i, c in enumerate(trials)}
    order = [position[c] for c in launch_order(trials)]
    at = {i: n for n, i in enumerate(order)}
    return Lineage([trials[i].to_dict() for i in order],
                   [None if parents[i] is None else at[parents[i]] for i in order], folder)


def optuna_space(space: Space) -> dict[str, Any]:
    """The space for Ray's OptunaSearch: Ray distributions and constants."""
    from ray import tune

    domains = {"choice": lambda a: tune.choice(list(a)), "uniform": lambda a: tune.uniform(*a),
               "loguniform": lambda a: tune.loguniform(*a), "randint": lambda a: tune.randint(a[0], a[1] + 1)}
    drawn = {k: domains[v.kind](v.args) if isinstance(v, Distribution) else _plain(v) for k, v in space.params.items()}
    return {**drawn, **{k: _plain(v) for k, v in space.experiments[0].items()}, "seed": space.seeds[0]}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def launch_order(configs: list[TrialConfig]) -> list[TrialConfig]:
    """The order that ends a grid soonest on a few CPUs: the largest trial (weights x epochs) first,
    then those that fit an input reduction (the fit overlaps that trial), then the rest largest
    first, so that the smallest trials fill the end instead of a large one running on alone."""
    def work(c: TrialConfig) -> int:
        widths = [c.input_dim, *c.hidden, c.classes]
        return c.max_epochs * sum(a * b for a, b in zip(widths, widths[1:]))

    by_work = sorted(configs, key=work, reverse=True)
    return by_work[:1] + sorted(by_work[1:], key=lambda c: c.reduction == "none")

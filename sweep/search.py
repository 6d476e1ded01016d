"""How Ray Tune searches a space: a grid of resolved trials in launch order, or Optuna drawing
from Ray's distributions, with an optional ASHA scheduler. Ray and Optuna are imported here only."""

from __future__ import annotations

from typing import Any

from sweep.config import TrialConfig
from sweep.folder import SweepFolder
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

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        # One sampler on the driver, so SQLite sees a single writer; open it later with optuna.load_study.
        storage = optuna.storages.RDBStorage(f"sqlite:///{folder.optuna_db}")
        search_alg = OptunaSearch(metric=METRIC, mode=MODE, seed=space.search_seed, storage=storage,
                                  study_name=folder.name)
        param_space = {"trial": optuna_space(space)}
        num_samples = space.num_samples
    else:
        # Tune's configurations are plain data: its saved state, which --resume restores, holds no objects.
        param_space = {"trial": tune.grid_search([c.to_dict() for c in launch_order(space.trials())])}
        num_samples = 1
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

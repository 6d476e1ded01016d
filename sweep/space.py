"""A search space: fixed values, grids and distributions, expanded into the trials of a sweep.

`Space.trials()` expands a grid or random search once (seeds x experiments x grid x random
draws); an Optuna search draws its trials while it runs (`sweep.search`). Spaces are read from
YAML files by `sweep.space_file.load_space`.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from sweep.config import FIELDS, TrialConfig, resolve
from sweep.errors import SpaceError

SEARCHES = ("grid", "random", "optuna")
SCHEDULERS = ("none", "asha")
DISTRIBUTIONS = ("grid", "choice", "uniform", "loguniform", "randint")
REDUCTION_KEYS = ("dataset", "validation", "reduction", "reduction_k")  # what a fitted reduction depends on
MAX_TRIALS = 10_000  # per sweep; beyond it draw a random or optuna sample of the space


@dataclass(frozen=True)
class Distribution:
    """A parameter that is drawn (or, for `grid`, expanded) rather than fixed."""

    kind: str
    args: tuple[Any, ...]

    def sample(self, rng: np.random.Generator) -> Any:
        if self.kind == "choice":
            return self.args[rng.integers(len(self.args))]
        low, high = self.args
        if self.kind == "uniform":
            return float(rng.uniform(low, high))
        if self.kind == "loguniform":
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))
        return int(rng.integers(low, high + 1))

    def describe(self) -> str:
        return f"{self.kind}({', '.join(json.dumps(a) for a in self.args)})"


@dataclass(frozen=True)
class Space:
    """A validated search space; `trials()` expands it for grid and random search."""

    path: Path
    description: str = ""
    search: str = "grid"
    num_samples: int = 1
    seeds: tuple[int, ...] = (0,)
    search_seed: int = 0  # seeds the random draws and Optuna's sampler
    scheduler: str = "none"  # none | asha: stop weak trials early, next to EarlyStopping
    max_failures: int = 1  # retries of a trial whose process dies
    params: dict[str, Any] = field(default_factory=dict)  # name -> value or Distribution
    experiments: tuple[dict[str, Any], ...] = ({},)
    analysis: dict[str, Any] | None = None  # the report's plan, as written: `analysis.plan` checks and reads it

    @property
    def name(self) -> str:
        return self.path.stem

    def trials(self) -> list[TrialConfig]:
        """Every trial of a grid or random search: seeds × experiments × grid × samples."""
        if self.search == "optuna":
            raise SpaceError(f"{self.path}: an optuna search is drawn while it runs; it has no fixed list of trials")
        return list(self._expanded)

    @cached_property
    def _expanded(self) -> tuple[TrialConfig, ...]:
        """The trials, expanded and checked once per space (a sweep asks for them several times)."""
        rng = np.random.default_rng(self.search_seed)
        fixed = {k: v for k, v in self.params.items() if not isinstance(v, Distribution)}
        grid = {k: v.args for k, v in self.params.items() if isinstance(v, Distribution) and v.kind == "grid"}
        drawn = {k: v for k, v in self.params.items() if isinstance(v, Distribution) and v.kind != "grid"}
        samples = [{k: d.sample(rng) for k, d in drawn.items()} for _ in range(self.num_samples)]
        configs = []
        for seed in self.seeds:
            for experiment in self.experiments:
                for combo in itertools.product(*grid.values()):
                    for sample in samples:
                        values = {**fixed, **dict(zip(grid, combo)), **sample, **experiment, "seed": seed}
                        configs.append(resolve(values, str(self.path)))
        repeats = len(configs) - len({json.dumps(c.to_dict()) for c in configs})
        if repeats:
            raise SpaceError(f"{self.path}: {repeats} of {len(configs)} trials repeat another's configuration and "
                             f"seed; remove the repeated grid value, experiment or seed (or draw fewer random samples)")
        return tuple(configs)

    def values(self, name: str) -> set[Any]:
        """Every value parameter `name` takes in this space's trials (drawn ones: every choice or end)."""
        if self.search != "optuna":
            return {getattr(c, name) for c in self.trials()}
        value = self.experiments[0].get(name, self.params.get(name, FIELDS[name].default))
        return set(value.args) if isinstance(value, Distribution) else {value}

    @property
    def size(self) -> int:
        """How many trials the space runs, computed without expanding it."""
        if self.search == "optuna":
            return self.num_samples
        grid = math.prod(len(v.args) for v in self.params.values() if isinstance(v, Distribution) and v.kind == "grid")
        return len(self.seeds) * len(self.experiments) * grid * self.num_samples

    def check(self) -> None:
        """Resolve every trial, or for Optuna every input reduction it can sample: a bad combination
        raises `SpaceError` before anything starts."""
        if self.search == "optuna" and len(self.seeds) != 1:
            raise SpaceError(f"{self.path}: seeds: an optuna search takes one seed; rerun its best configurations "
                             f"over seeds in a grid space")
        if self.size > MAX_TRIALS:
            raise SpaceError(f"{self.path}: {self.size:,} trials (seeds x experiments x grid x num_samples) exceed "
                             f"the limit of {MAX_TRIALS:,}; sample the space instead (search: random or optuna)")
        if self.search != "optuna":
            self.trials()
            return
        fixed = {**self.experiments[0], "seed": self.seeds[0]}
        options = {k: self.params[k].args if isinstance(self.params.get(k), Distribution)
                   else (fixed.get(k, self.params.get(k)),)
                   for k in REDUCTION_KEYS if k in self.params or k in fixed}
        for combo in itertools.product(*options.values()):
            resolve(dict(zip(options, combo), seed=self.seeds[0]), str(self.path))

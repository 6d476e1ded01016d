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
# What a fitted reduction depends on.
REDUCTION_KEYS = ("dataset", "validation", "validation_from", "split_seed", "reduction", "reduction_k",
                  "reduction_rows", "forest_rows", "forest_labels", "forest_seed")
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
    reference: dict[str, Any] | None = None  # a study's printed numbers, as written: `analysis.reference` reads it

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def labels(self) -> set[str]:
        """Every experiment label a trial of the space may carry."""
        fixed = self.params.get("label")
        drawn = fixed.args if isinstance(fixed, Distribution) else (fixed,)
        return {str(v) for v in (*drawn, *(e.get("label") for e in self.experiments)) if v}

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

    def parents(self) -> list[int | None]:
        """For each trial of `trials()`, the index of the trial it starts from (`init_from`), or None.

        The parent of a trial of seed s is the trial of seed s labelled `init_from`; where that
        label spans a grid, the one that agrees with the child on every parameter those trials
        differ in. A missing parent, a cycle, or a parent of other layers or activation is a
        `SpaceError`."""
        return list(self._parents)

    @cached_property
    def _parents(self) -> tuple[int | None, ...]:
        trials = self.trials()
        parents: list[int | None] = []
        for child in trials:
            if not child.init_from:
                parents.append(None)
                continue
            where = f"{self.path}: {child.label or 'a trial'} (seed {child.seed}): init_from {child.init_from!r}"
            named = [i for i, t in enumerate(trials) if t.label == child.init_from and t.seed == child.seed]
            if not named:
                raise SpaceError(f"{where}: no trial of seed {child.seed} has that label; name an experiment "
                                 f"label of this space")
            # Experiments cross the same grid and samples: one of them agrees on all that they vary.
            varying = [n for n in FIELDS if len({json.dumps(getattr(trials[i], n)) for i in named}) > 1]
            found = [i for i in named if all(getattr(trials[i], n) == getattr(child, n) for n in varying)]
            if not found:
                raise SpaceError(f"{where}: none of its trials of seed {child.seed} agrees with this one on "
                                 f"{', '.join(varying)}")
            parent = trials[found[0]]
            if (parent.architecture, parent.activation) != (child.architecture, child.activation):
                raise SpaceError(f"{where}: its parent is {parent.architecture} {parent.activation}, this trial "
                                 f"{child.architecture} {child.activation}; a trial starts only from the same "
                                 f"layers")
            parents.append(found[0])
        for start, parent in enumerate(parents):
            seen = {start}
            while parent is not None:
                if parent in seen:
                    raise SpaceError(f"{self.path}: init_from forms a cycle through {trials[start].label!r}; "
                                     f"a trial cannot start from its own descendant")
                seen.add(parent)
                parent = parents[parent]
        return tuple(parents)

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
            self.parents()
            return
        fixed = {**self.experiments[0], "seed": self.seeds[0]}
        options = {k: self.params[k].args if isinstance(self.params.get(k), Distribution)
                   else (fixed.get(k, self.params.get(k)),)
                   for k in REDUCTION_KEYS if k in self.params or k in fixed}
        for combo in itertools.product(*options.values()):
            resolve(dict(zip(options, combo), seed=self.seeds[0]), str(self.path))

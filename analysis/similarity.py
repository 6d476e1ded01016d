"""Layer similarity (linear CKA, `analysis.cka`): within a trial, raw pixels, every hidden layer
and the output against each other; across a sweep, every hidden layer of every configuration
against every other, and each layer against itself across seeds (how stable the representation a
configuration learns is). Always on the same stratified test rows, cached under the report's
cache like the per-layer work."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import partial
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import cka
from analysis.embed import Cache, stratified
from analysis.results import CONFIG_COLUMNS, Sweep, Trial
from sweep.data import Dataset

ROWS = 2_000  # test rows compared across a sweep: every layer of a data set is read at these rows only
SEED_COLUMNS = {"configuration": str, "layer": str, "seeds": int, "mean": float, "min": float}


@dataclass(frozen=True)
class Similarity:
    """CKA, plain and debiased, of named representations of the same `rows` test rows."""

    names: list[str]
    plain: np.ndarray
    debiased: np.ndarray
    rows: int

    @classmethod
    def of(cls, representations: dict[str, np.ndarray]) -> Similarity:
        return cls(list(representations), *cka.matrices(representations), len(next(iter(representations.values()))))

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Similarity:
        return cls([str(n) for n in arrays["names"]], arrays["plain"], arrays["debiased"], int(arrays["rows"]))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"names": np.array(self.names, dtype=str), "plain": self.plain, "debiased": self.debiased,
                "rows": np.array(self.rows)}

    def matrices(self) -> dict[str, np.ndarray]:
        """The heat maps to draw, by title."""
        return {"linear CKA": self.plain, "debiased": self.debiased}

    def pairs(self) -> pd.DataFrame:
        """The matrices as rows: a, b, cka, cka_debiased (each pair once)."""
        i, j = np.triu_indices(len(self.names), k=1)
        names = np.array(self.names)
        return pd.DataFrame({"a": names[i], "b": names[j], "cka": self.plain[i, j],
                             "cka_debiased": self.debiased[i, j]})


@dataclass(frozen=True)
class SweepSimilarity:
    """One data set of a sweep: its configurations' hidden layers (grouped by architecture) and,
    one row per layer of a repeated configuration, that layer across seeds."""

    dataset: str
    layers: Similarity
    seeds: pd.DataFrame


def within_trial(trial: Trial, ds: Dataset, rows: int, seed: int, cache_dir: Path) -> Similarity:
    """The raw input (`ds`'s test rows, scaled as the trial saw them), every hidden layer and the
    output probabilities of `trial`, on about `rows` stratified test rows."""
    params = {"trial": trial.trial_id, "trained": trial.metrics.get("trial_ended"), "rows": rows, "seed": seed}
    return Similarity.from_arrays(Cache(cache_dir).get(f"cka-{trial.trial_id}", params,
                                                       partial(_within, trial, ds, rows, seed)))


def _within(trial: Trial, ds: Dataset, rows: int, seed: int) -> dict[str, np.ndarray]:
    with trial.activations() as acts:
        shown = stratified(acts["y_test"], rows, seed)
        return Similarity.of({f"raw {ds.inputs}": ds.scaled(ds.x_test[acts["index_test"][shown]]),
                              **{layer: acts[f"{layer}_test"][shown] for layer in trial.hidden_layers},
                              "output": acts["proba_test"][shown]}).arrays()


def across_sweep(sweep: Sweep, cache_dir: Path, seed: int = 0) -> list[SweepSimilarity]:
    """Per data set: the CKA of every hidden layer of every completed configuration (its lowest
    seed) against every other, and of each layer across a configuration's seeds."""
    out = []
    for dataset, configurations in _configurations(sweep.completed()).items():
        if sum(len(t[0].hidden_layers) for t in configurations.values()) < 2:
            continue
        trained = sorted((t.trial_id, t.metrics.get("trial_ended")) for ts in configurations.values() for t in ts)
        params = {"trials": trained,
                  "rows": ROWS, "seed": seed}
        arrays = Cache(cache_dir).get(f"cka-{dataset}", params, partial(_across, configurations, seed))
        seeds = pd.DataFrame({column: arrays[f"seeds_{column}"] for column in SEED_COLUMNS})
        out.append(SweepSimilarity(dataset, Similarity.from_arrays(arrays), seeds))
    return out


def _configurations(trials: list[Trial]) -> dict[str, dict[str, list[Trial]]]:
    """Trials pooled by configuration as the tables pool them (every setting but the seed), per data
    set, by a name: the architecture, the label, and the settings that tell configurations apart."""
    groups: dict[tuple, list[Trial]] = defaultdict(list)
    for trial in sorted(trials, key=lambda t: (t.config.architecture, t.config.label, t.config.seed)):
        groups[tuple(getattr(trial.config, c) for c in CONFIG_COLUMNS)].append(trial)
    named = ("label", "dataset", "architecture", "input_reduction")  # in the name already, or apart
    differ = [i for i, c in enumerate(CONFIG_COLUMNS) if c not in named and len({key[i] for key in groups}) > 1]
    out: dict[str, dict[str, list[Trial]]] = defaultdict(dict)
    for key, group in groups.items():
        config = group[0].config
        name = " ".join([config.architecture, *filter(None, [config.label]),
                         *(f"{CONFIG_COLUMNS[i]} {key[i]}" for i in differ)])
        out[config.dataset][name] = group
    return out


def _across(configurations: dict[str, list[Trial]], seed: int) -> dict[str, np.ndarray]:
    first = next(iter(configurations.values()))[0]
    with first.activations() as acts:
        rows = stratified(acts["y_test"], ROWS, seed)
    layers = {}
    seeds = []
    for name, trials in configurations.items():
        loaded = [_layers(t, rows) for t in trials]
        layers |= {f"{name} {layer}": acts for layer, acts in loaded[0].items()}
        for layer in loaded[0]:
            scores = [cka.cka(a[layer], b[layer]) for a, b in combinations(loaded, 2)]
            if scores:
                seeds.append({"configuration": name, "layer": layer, "seeds": len(loaded),
                              "mean": float(np.mean(scores)), "min": float(np.min(scores))})
    table = pd.DataFrame(seeds, columns=list(SEED_COLUMNS))
    return {**Similarity.of(layers).arrays(),
            **{f"seeds_{column}": table[column].to_numpy(dtype=kind) for column, kind in SEED_COLUMNS.items()}}


def _layers(trial: Trial, rows: np.ndarray) -> dict[str, np.ndarray]:
    with trial.activations() as acts:
        return {layer: acts[f"{layer}_test"][rows] for layer in trial.hidden_layers}

"""Layer similarity across a sweep (linear CKA, `analysis.cka`): every hidden layer of every
configuration against every other, and each layer against itself across seeds (how stable the
representation a configuration learns is). All on the same stratified test rows of a data set,
cached under the report's cache like the per-layer work."""

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
from analysis.results import Sweep, Trial

ROWS = 2_000  # test rows compared: every layer of a data set is read at these rows only
SEED_COLUMNS = {"configuration": str, "layer": str, "seeds": int, "mean": float, "min": float}


@dataclass(frozen=True)
class Similarity:
    """One data set's CKA: `names` (configuration and layer, grouped by architecture) and the
    matrices over them, plain and debiased; `seeds`, one row per layer of a repeated configuration."""

    dataset: str
    names: list[str]
    plain: np.ndarray
    debiased: np.ndarray
    seeds: pd.DataFrame

    def pairs(self) -> pd.DataFrame:
        """The matrices as rows: a, b, cka, cka_debiased (each pair once)."""
        i, j = np.triu_indices(len(self.names), k=1)
        return pd.DataFrame({"dataset": self.dataset, "a": np.array(self.names)[i], "b": np.array(self.names)[j],
                             "cka": self.plain[i, j], "cka_debiased": self.debiased[i, j]})


def across_sweep(sweep: Sweep, cache_dir: Path, seed: int = 0) -> list[Similarity]:
    """Per data set: the CKA of every hidden layer of every completed configuration (its lowest
    seed) against every other, and of each layer across a configuration's seeds."""
    by_dataset: dict[str, dict[str, list[Trial]]] = defaultdict(lambda: defaultdict(list))
    for trial in sorted(sweep.completed(), key=lambda t: (t.config.architecture, t.config.label, t.config.seed)):
        by_dataset[trial.config.dataset][_configuration(trial)].append(trial)
    out = []
    for dataset, configurations in by_dataset.items():
        if sum(len(t[0].hidden_layers) for t in configurations.values()) < 2:
            continue
        params = {"trials": sorted((t.trial_id, t.metrics.get("trial_ended")) for ts in configurations.values() for t in ts),
                  "rows": ROWS, "seed": seed}
        arrays = Cache(cache_dir).get(f"cka-{dataset}", params, partial(_compute, configurations, seed))
        seeds = pd.DataFrame({column: arrays[f"seeds_{column}"] for column in SEED_COLUMNS})
        out.append(Similarity(dataset, [str(n) for n in arrays["names"]], arrays["plain"], arrays["debiased"], seeds))
    return out


def _configuration(trial: Trial) -> str:
    label = f" {trial.config.label}" if trial.config.label else ""
    return f"{trial.config.architecture}{label}"


def _compute(configurations: dict[str, list[Trial]], seed: int) -> dict[str, np.ndarray]:
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
    return {"names": np.array(list(layers), dtype=str), "plain": cka.matrix(layers),
            "debiased": cka.matrix(layers, debiased=True),
            **{f"seeds_{column}": table[column].to_numpy(dtype=kind) for column, kind in SEED_COLUMNS.items()}}


def _layers(trial: Trial, rows: np.ndarray) -> dict[str, np.ndarray]:
    with trial.activations() as acts:
        return {layer: acts[f"{layer}_test"][rows] for layer in trial.hidden_layers}

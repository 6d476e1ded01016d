"""The heavy per-layer work of a report: probes and embeddings of one layer, cached on disk.

A `LayerJob` names raw pixels of a data set or one hidden layer of one trial; `run_layer` loads
its train and test rows, computes what is missing from the cache and returns plain records, so
jobs can run in worker processes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis import embed, probes
from analysis.embed import Cache

RAW = "raw"


@dataclass(frozen=True)
class LayerJob:
    dataset: str
    source: str  # "raw pixels" or a trial id
    label: str  # the trial's label, or the data set for raw pixels
    layer: str  # RAW or hidden_<i>
    trial_folder: str  # the trial whose activations (or, for RAW, row indices) are used
    cache_dir: str
    methods: tuple[str, ...] = ()  # embeddings to draw; empty: probes only
    subsample: int = 10_000  # rows embedded by methods other than UMAP
    probe_rows: int | None = None  # train rows UMAP and the probes fit on; None: all
    data_dir: str | None = None
    seed: int = 0


@dataclass
class LayerResult:
    job: LayerJob
    records: list[dict] = field(default_factory=list)  # probe accuracies
    coords: dict[str, np.ndarray] = field(default_factory=dict)  # method -> [n, 2]
    labels: dict[str, np.ndarray] = field(default_factory=dict)  # method -> [n]
    notes: dict[str, str] = field(default_factory=dict)  # method -> text for the plot title
    seconds: dict[str, float] = field(default_factory=dict)  # "probes", "embeddings"
    computed: list[str] = field(default_factory=list)  # cache entries made, not read


def load_rows(job: LayerJob) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train, y_train, test, y_test) as float32 features for the job's layer."""
    with np.load(Path(job.trial_folder) / "activations.npz", allow_pickle=False) as acts:
        y_train, y_test = acts["y_train"], acts["y_test"]
        if job.layer != RAW:
            return (acts[f"{job.layer}_train"].astype(np.float32), y_train,
                    acts[f"{job.layer}_test"].astype(np.float32), y_test)
        index_train, index_test = acts["index_train"], acts["index_test"]
    from sweep import data

    ds = data.load(job.dataset, job.data_dir)
    return data.pixels(ds.x_train[index_train]), y_train, data.pixels(ds.x_test[index_test]), y_test


def run_layer(job: LayerJob) -> LayerResult:
    """Probes and embeddings of one layer; the libraries' own chatter is kept off the console."""
    logging.getLogger("pacmap").setLevel(logging.ERROR)  # it warns about every seeded run
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return _run_layer(job)


def _run_layer(job: LayerJob) -> LayerResult:
    cache = Cache(Path(job.cache_dir))
    result = LayerResult(job)
    train, y_train, test, y_test = load_rows(job)
    fit_idx = embed.stratified(y_train, job.probe_rows or len(y_train), job.seed)
    base = {"rows": len(fit_idx), "n_train": len(y_train), "n_test": len(y_test), "seed": job.seed}

    start = time.perf_counter()
    umap = cache.get(f"{job.layer}-umap", base, lambda: dict(zip(
        ("train", "test"), embed.umap_fit(train[fit_idx], test, job.seed))))
    scores = cache.get(f"{job.layer}-probes", base, lambda: _probe_scores(
        umap, train[fit_idx], y_train[fit_idx], test, y_test, job.seed))
    result.seconds["probes"] = time.perf_counter() - start
    for name, accuracy in zip(PROBES, scores["accuracy"]):
        result.records.append({"dataset": job.dataset, "source": job.source, "label": job.label, "layer": job.layer,
                               "probe": name, "accuracy": float(accuracy)})

    start = time.perf_counter()
    shown = embed.stratified(y_train, job.subsample, job.seed)
    for method in job.methods:
        if method == "umap":  # the probe's own embedding, fitted on the full probe rows
            keep = np.isin(fit_idx, shown)
            result.coords[method], result.labels[method] = umap["train"][keep], y_train[fit_idx][keep]
            result.notes[method] = f"fit on {len(fit_idx)} rows, {keep.sum()} shown"
            continue
        coords = cache.get(f"{job.layer}-{method}", {**base, "subsample": len(shown)},
                           lambda: {"coords": embed.METHODS[method](train[shown], job.seed)})["coords"]
        result.coords[method], result.labels[method] = coords, y_train[shown]
        result.notes[method] = f"{len(shown)} rows"
        if method == "pca":
            ratio = cache.get(f"{job.layer}-pca-variance", base, lambda: {"ratio": embed.pca_variance(train[shown])})["ratio"]
            result.notes[method] += f"; variance {', '.join(f'{r:.2f}' for r in ratio)}"
    result.seconds["embeddings"] = time.perf_counter() - start
    result.computed = cache.misses
    return result


PROBES = tuple(f"umap-knn{k}" for k in probes.KS) + ("knn5", "linear")


def _probe_scores(umap: dict[str, np.ndarray], train: np.ndarray, y_train: np.ndarray, test: np.ndarray,
                  y_test: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    on_umap = probes.knn(umap["train"], y_train, umap["test"], y_test)
    return {"accuracy": np.array([*on_umap.values(), probes.knn(train, y_train, test, y_test, (5,))[5],
                                  probes.linear(train, y_train, test, y_test, seed)])}

"""The heavy per-layer work of a report, split into jobs that run anywhere and cache on disk.

A layer is raw pixels of a data set or one hidden layer of one trial. Its work is split into
one `LayerJob` per task: `probes` (UMAP fitted on the train rows and applied to the test rows,
KNN on that embedding, KNN and logistic regression on the layer itself; UMAP drawn from the same
fit) and one per other embedding method. `run_layer` loads the rows, computes what the cache
lacks with every thread pool sized to the job's CPU share, and returns plain records, so jobs
run as Ray tasks; `LayerJob.cached` tells the driver which need no worker at all.

A layer of width <= 2 is its own 2-D embedding: its KNN probes run on the layer itself and
nothing is embedded.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis import embed, probes
from analysis.embed import Cache
from sweep.folder import TrialFolder
from sweep.storage import Storage

RAW = "raw"  # the layer id of a data set's raw pixels
RAW_PIXELS = "raw pixels"  # the source of their jobs, where a hidden layer's is its trial id
PROBES = "probes"  # the task that fits UMAP and scores every probe
FLAT = 2  # layers this wide or narrower are drawn and probed as they are
PROBE_NAMES = tuple(f"umap-knn{k}" for k in probes.KS) + ("knn5", "linear")

# Rough seconds on one core per row (and per row x column where it grows with width), from
# profiling 55,000 x 128 layers: only the order of jobs and the time-left estimate use them.
_COST = {"umap": 5.5e-4, "nn": 2e-8, "transform": 4e-4, "knn": 4e-12, "linear": 2e-9,
         "tsne": 3.4e-3, "trimap": 1.4e-3, "pacmap": 2.5e-4, "pca": 2e-5}


@dataclass(frozen=True)
class LayerJob:
    dataset: str
    source: str  # RAW_PIXELS or a trial id
    label: str  # the trial's label; empty for raw pixels
    layer: str  # RAW or hidden_<i>
    task: str  # PROBES or an embedding method
    trial_folder: str  # the trial whose activations (or, for RAW, row indices) are used
    cache_dir: str
    width: int  # the layer's columns
    n_train: int
    n_test: int
    subsample: int = 10_000  # rows embedded by methods other than UMAP
    probe_rows: int | None = None  # train rows UMAP and the probes fit on; None: all
    data_dir: str | None = None
    seed: int = 0
    threads: int = 1  # the job's CPU share: every library's thread pool is sized to it
    trained: float | None = None  # when the trial's run ended: a retrained trial's layers are analysed afresh
    sweep_uri: str | None = None  # a sweep on object storage: a node without the trial's files fetches them

    @property
    def flat(self) -> bool:
        return self.width <= FLAT

    @property
    def title(self) -> str:
        where = RAW_PIXELS if self.layer == RAW else f"{self.label or self.source} {self.layer}"
        return f"{self.dataset} {where} {self.task}"

    def cost(self) -> float:
        """Estimated seconds on one core."""
        fit = min(self.probe_rows or self.n_train, self.n_train)
        shown = min(self.subsample, self.n_train)
        if self.task != PROBES:
            return _COST[self.task] * shown * (1 + self.width / 512)
        knn = _COST["knn"] * fit * self.n_test * self.width + _COST["linear"] * fit * self.width * 10
        if self.flat:
            return knn
        return knn + _COST["umap"] * fit + _COST["nn"] * fit * self.width * 10 + _COST["transform"] * self.n_test

    def _key(self) -> dict:
        return {"rows": self.probe_rows, "n_train": self.n_train, "n_test": self.n_test, "seed": self.seed,
                **({"trained": self.trained} if self.trained is not None else {})}

    def entries(self) -> list[tuple[str, dict]]:
        """The cache entries (name, parameters) this job reads or writes."""
        if self.task == PROBES:
            if self.flat:
                return [(f"{self.layer}-probes-direct", self._key())]
            return [(f"{self.layer}-umap", self._key()), (f"{self.layer}-probes", self._key())]
        shown = {**self._key(), "subsample": self.subsample}
        extra = [(f"{self.layer}-pca-variance", shown)] if self.task == "pca" else []
        return [(f"{self.layer}-{self.task}", shown), *extra]

    def rows(self, y_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(fitted, drawn): the train rows UMAP and the probes fit on, and the rows every method draws
        (a stratified subset of the fitted ones), as sorted positions in the layer's train rows."""
        fitted = embed.stratified(y_train, self.probe_rows or len(y_train), self.seed)
        return fitted, fitted[embed.stratified(y_train[fitted], self.subsample, self.seed)]

    def cached(self) -> bool:
        cache = Cache(Path(self.cache_dir))
        return all(cache.path(name, params).is_file() for name, params in self.entries())


@dataclass
class LayerResult:
    job: LayerJob
    records: list[dict] = field(default_factory=list)  # probe accuracies
    coords: dict[str, np.ndarray] = field(default_factory=dict)  # method -> [n, 2]
    labels: dict[str, np.ndarray] = field(default_factory=dict)  # method -> [n]
    notes: dict[str, str] = field(default_factory=dict)  # method -> text for the plot title
    seconds: float = 0.0
    computed: list[str] = field(default_factory=list)  # cache entries made, not read
    node: str | None = None  # where it ran, when it ran as a Ray task
    error: str | None = None  # why it failed


@functools.lru_cache(maxsize=2)
def load_rows(trial_folder: str, layer: str, dataset: str, data_dir: str | None,
              sweep_uri: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train, y_train, test, y_test) as float32 features for a layer; the last two read are kept,
    so the tasks of one layer that a worker runs in a row load it once."""
    folder = TrialFolder(Path(trial_folder))
    if sweep_uri and not folder.activations.is_file():  # a node without the reporting machine's mirror
        folder = Storage(sweep_uri).fetch_trial(folder.trial_id) or folder
    with np.load(folder.activations, allow_pickle=False) as acts:
        y_train, y_test = acts["y_train"], acts["y_test"]
        if layer != RAW:
            return (acts[f"{layer}_train"].astype(np.float32), y_train,
                    acts[f"{layer}_test"].astype(np.float32), y_test)
        index_train, index_test = acts["index_train"], acts["index_test"]
    from sweep import data

    ds = data.load(dataset, data_dir)
    return data.pixels(ds.x_train[index_train]), y_train, data.pixels(ds.x_test[index_test]), y_test


def run_layer(job: LayerJob) -> LayerResult:
    """One job, with thread pools sized to its CPU share; the libraries' chatter is kept off the console."""
    from threadpoolctl import threadpool_limits

    logging.getLogger("pacmap").setLevel(logging.ERROR)  # it warns about every seeded run
    start = time.perf_counter()
    with (threadpool_limits(job.threads), _numba_threads(job.threads), warnings.catch_warnings(),
          contextlib.redirect_stdout(io.StringIO())):
        warnings.simplefilter("ignore")
        embed.cache_compiled()
        result = _run(job)
    result.seconds = time.perf_counter() - start
    return result


@contextlib.contextmanager
def _numba_threads(n: int):
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _run(job: LayerJob) -> LayerResult:
    cache = Cache(Path(job.cache_dir))
    result = LayerResult(job)
    train, y_train, test, y_test = load_rows(job.trial_folder, job.layer, job.dataset, job.data_dir, job.sweep_uri)
    fit_idx, shown = job.rows(y_train)
    (name, params), *rest = job.entries()
    if job.task == PROBES and job.flat:
        scores = cache.get(name, params, lambda: _flat_scores(train[fit_idx], y_train[fit_idx], test, y_test, job.seed))
        _add_records(result, job, scores["accuracy"], "the layer itself")
        result.coords["umap"], result.labels["umap"] = _as_2d(train[shown]), y_train[shown]
        result.notes["umap"] = f"width {job.width}: the layer itself, {len(shown)} rows"
    elif job.task == PROBES:
        umap = cache.get(name, params,
                         lambda: dict(zip(("train", "test"), embed.umap_fit(train[fit_idx], test, job.seed))))
        scores = cache.get(*rest[0],
                           lambda: _probe_scores(umap, train[fit_idx], y_train[fit_idx], test, y_test, job.seed))
        _add_records(result, job, scores["accuracy"], "umap")
        keep = np.isin(fit_idx, shown)  # UMAP is drawn from the probes' own fit
        result.coords["umap"], result.labels["umap"] = umap["train"][keep], y_train[fit_idx][keep]
        result.notes["umap"] = f"fit on {len(fit_idx)} rows, {keep.sum()} shown"
    else:
        coords = cache.get(name, params, lambda: {"coords": embed.METHODS[job.task](train[shown], job.seed)})["coords"]
        result.coords[job.task], result.labels[job.task] = coords, y_train[shown]
        result.notes[job.task] = f"{len(shown)} rows"
        if job.task == "pca":
            ratio = cache.get(*rest[0], lambda: {"ratio": embed.pca(train[shown])[1]})["ratio"]
            result.notes["pca"] += f"; variance {', '.join(f'{r:.2f}' for r in ratio)}"
    result.computed = cache.misses
    return result


def _as_2d(x: np.ndarray) -> np.ndarray:
    """A one-column layer drawn on a line."""
    return x if x.shape[1] == 2 else np.column_stack([x, np.zeros(len(x), x.dtype)])


def _add_records(result: LayerResult, job: LayerJob, accuracies: np.ndarray, embedded: str) -> None:
    for name, accuracy in zip(PROBE_NAMES, accuracies):
        result.records.append({"dataset": job.dataset, "source": job.source, "label": job.label, "layer": job.layer,
                               "probe": name, "accuracy": float(accuracy),
                               "embedding": embedded if name.startswith("umap") else ""})


def _probe_scores(umap: dict[str, np.ndarray], train: np.ndarray, y_train: np.ndarray, test: np.ndarray,
                  y_test: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    on_umap = probes.knn(umap["train"], y_train, umap["test"], y_test)
    return {"accuracy": np.array([*on_umap.values(), probes.knn(train, y_train, test, y_test, (5,))[5],
                                  probes.linear(train, y_train, test, y_test, seed)])}


def _flat_scores(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray,
                 seed: int) -> dict[str, np.ndarray]:
    """The same probes on a layer that is its own embedding: KNN on it serves both KNN columns."""
    direct = probes.knn(train, y_train, test, y_test)
    return {"accuracy": np.array([*direct.values(), direct[5], probes.linear(train, y_train, test, y_test, seed)])}

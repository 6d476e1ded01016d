"""The heavy per-layer work of a report, split into jobs that run anywhere and cache on disk.

A layer is raw pixels of a data set or one hidden layer of one trial. Its work is split into
one `LayerJob` per task: `probes` (exact KNN and the linear probe on the layer itself, on every
row), `umap` (UMAP fitted on training rows and applied to the test rows, KNN on that embedding,
drawn from the same fit) and one per other embedding method, each with the plan's rows and
settings. `run_layer` loads the rows, computes what the cache lacks with every thread pool sized
to the job's CPU share, and returns plain records, so jobs run as Ray tasks; `LayerJob.cached`
tells the driver which need no worker at all.

A layer of width <= 2 is its own 2-D embedding: its UMAP probes are KNN on the layer itself and
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
from typing import Any

import numpy as np

from analysis import embed, probes
from analysis.embed import Cache
from sweep.folder import SweepFolder, TrialFolder
from sweep.storage import Storage

RAW = "raw"  # the layer id of a data set's raw pixels
RAW_PIXELS = "raw pixels"  # the source of their jobs, where a hidden layer's is its trial id
PROBES = "probes"  # the task of the exact probes on the layer itself
UMAP = "umap"  # the task that fits UMAP, probes it and draws it
FLAT = 2  # layers this wide or narrower are drawn and probed as they are
SHARED_ROWS = 0.5  # a raw-pixel layer with this share of the training rows reads the data set's shared search
SHARED_RANK = 4  # the shared search keeps this many times k nearest rows
TEST = "/test"  # the suffix of a method's drawing of the test rows (UMAP's transform)

# Rough seconds on one core per row, per row x column, or per fit x test x column, from profiling
# 55,000 x 128 layers: only the order of jobs and the time-left estimate use them.
_COST = {"umap": 5.5e-4, "nn": 2e-8, "transform": 4e-4, "knn": 3e-11, "linear": 1.6e-7,
         "tsne": 1.5e-3, "trimap": 1.4e-3, "pacmap": 2.5e-4, "pca": 2e-5}


@dataclass(frozen=True)
class LayerJob:
    dataset: str
    source: str  # RAW_PIXELS or a trial id
    label: str  # the trial's label; empty for raw pixels
    layer: str  # RAW or hidden_<i>
    task: str  # PROBES, UMAP or another embedding method
    trial_folder: str  # the trial whose activations (or, for RAW, row indices) are used
    cache_dir: str
    width: int  # the layer's columns
    n_train: int
    n_test: int
    rows: int | None = None  # train rows fitted or drawn (stratified); None: all
    params: tuple[tuple[str, Any], ...] = ()  # the method's own settings
    ks: tuple[int, ...] = ()  # KNN's k values: on the layer (PROBES) or on its UMAP (UMAP)
    linear: bool = False  # PROBES: the linear probe too
    vote: str = probes.PLURALITY  # how KNN's neighbours decide a class (`probes.VOTES`)
    draw: bool = False  # UMAP: drawn as well as probed
    test: bool = False  # UMAP: its transform of the test rows drawn too
    data_dir: str | None = None
    seed: int = 0
    threads: int = 1  # the job's CPU share: every library's thread pool is sized to it
    trained: float | None = None  # when the trial's run ended: a retrained trial's layers are analysed afresh
    sweep_uri: str | None = None  # a sweep on object storage: a node without the trial's files fetches them
    split: str = ""  # RAW: which rows (`plan.raw_key`), shared by the trials of one validation split

    @property
    def rows_of(self) -> str:
        """Whose rows the layer has: its trial's id, or raw pixels' split."""
        return self.split or self.source

    @property
    def flat(self) -> bool:
        return self.width <= FLAT

    @property
    def title(self) -> str:
        where = RAW_PIXELS if self.layer == RAW else f"{self.label or self.source} {self.layer}"
        return f"{self.dataset} {where} {self.task}"

    @property
    def fitted(self) -> int:
        return min(self.rows or self.n_train, self.n_train)

    def cost(self) -> float:
        """Estimated seconds on one core."""
        if self.task == PROBES:
            knn = _COST["knn"] * self.n_train * self.n_test * self.width if self.ks else 0.0
            return knn + (_COST["linear"] * self.n_train * self.width if self.linear else 0.0)
        if self.task != UMAP or not self.flat:
            return _COST[self.task] * self.fitted * (1 + self.width / 512) + (
                _COST["nn"] * self.fitted * self.width * 10 + _COST["transform"] * self.n_test
                if self.task == UMAP else 0.0)
        return 0.0

    def _key(self) -> dict:
        return {"n_train": self.n_train, "n_test": self.n_test, "seed": self.seed,
                **({"trained": self.trained} if self.trained is not None else {})}

    def entries(self) -> list[tuple[str, dict]]:
        """The cache entries (name, parameters) this job reads or writes."""
        # A majority vote enters KNN's keys; a plurality vote keeps the keys it always had.
        knn = {"ks": self.ks} | ({"vote": self.vote} if self.vote != probes.PLURALITY else {})
        if self.task == PROBES:
            linear = {**self._key(), "solver": "whitened", "gtol": probes.LINEAR_GTOL}
            return ([(f"{self.layer}-knn", {**self._key(), **knn})] if self.ks else []) + (
                [(f"{self.layer}-linear", linear)] if self.linear else [])
        fit = {**self._key(), "rows": self.rows, **dict(self.params)}
        if self.task == UMAP and self.flat:
            return [(f"{self.layer}-direct-knn", {**fit, **knn})] if self.ks else []
        if self.task == UMAP:
            fit["test"] = bool(self.ks or self.test)
            return [(f"{self.layer}-umap", fit)] + ([(f"{self.layer}-umap-knn", {**fit, **knn})]
                                                     if self.ks else [])
        return [(f"{self.layer}-{self.task}", fit)]

    def fit_rows(self, y_train: np.ndarray) -> np.ndarray:
        """The train rows fitted or drawn, as sorted positions in the layer's train rows."""
        return embed.stratified(y_train, self.rows or len(y_train), self.seed)

    def cached(self) -> bool:
        cache = Cache(Path(self.cache_dir))
        return all(cache.path(name, params).is_file() for name, params in self.entries())


@dataclass
class LayerResult:
    job: LayerJob
    records: list[dict] = field(default_factory=list)  # probe accuracies
    coords: dict[str, np.ndarray] = field(default_factory=dict)  # method (+ TEST) -> [n, 2]
    positions: dict[str, np.ndarray] = field(default_factory=dict)  # method (+ TEST) -> the rows drawn
    notes: dict[str, str] = field(default_factory=dict)  # method -> text for the plot title
    seconds: float = 0.0
    ended: float = 0.0  # when it ended (Unix time)
    computed: list[str] = field(default_factory=list)  # cache entries made, not read
    node: str | None = None  # where it ran, when it ran as a Ray task
    error: str | None = None  # why it failed


@functools.lru_cache(maxsize=2)
def load_rows(trial_folder: str, layer: str, dataset: str, data_dir: str | None,
              sweep_uri: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train, y_train, test, y_test) as float32 features for a layer; the last two read are kept,
    so the tasks of one layer that a worker runs in a row load it once."""
    with np.load(_activations(trial_folder, sweep_uri), allow_pickle=False) as acts:
        y_train, y_test = acts["y_train"], acts["y_test"]
        if layer != RAW:
            return (acts[f"{layer}_train"].astype(np.float32), y_train,
                    acts[f"{layer}_test"].astype(np.float32), y_test)
        index_train, index_test = acts["index_train"], acts["index_test"]
    ds = _dataset(trial_folder, dataset, data_dir, sweep_uri)
    return ds.scaled(ds.x_train[index_train]), y_train, ds.scaled(ds.x_test[index_test]), y_test


def _activations(trial_folder: str, sweep_uri: str | None) -> Path:
    """A trial's activations, fetched from the sweep's object storage on a node without them."""
    folder = TrialFolder(Path(trial_folder))
    if sweep_uri and not folder.activations.is_file():
        folder = Storage(sweep_uri).fetch_trial(folder.trial_id) or folder
    return folder.activations


def _dataset(trial_folder: str, dataset: str, data_dir: str | None, sweep_uri: str | None):
    """A trial's data set: a shipped one, or the user's own from the sweep's data/, which this
    process may not have read."""
    from sweep import data

    if dataset not in data.SOURCES:
        storage = Storage(sweep_uri) if sweep_uri else None
        home = storage.mirror if storage else SweepFolder(Path(trial_folder).parents[1])
        if storage:
            storage.pull(home.data)
        data.adopt(home.data)
    return data.load(dataset, data_dir)


def _raw_nearest(job: LayerJob, train: np.ndarray, test: np.ndarray, k: int) -> np.ndarray:
    """Each test row's k nearest training rows of a raw-pixel layer. The layers of a data set's
    validation splits share one search over all its training rows (in `cache/raw-<data set>`), for
    `SHARED_RANK` times k: a split's k nearest are the first k of its own rows there, exactly what a
    search over its rows finds; the few test rows with fewer of them are searched again. A layer
    with under `SHARED_ROWS` of the training rows has its own search."""
    from analysis import neighbours

    with np.load(_activations(job.trial_folder, job.sweep_uri), allow_pickle=False) as acts:
        rows = acts["index_train"]
    ds = _dataset(job.trial_folder, job.dataset, job.data_dir, job.sweep_uri)
    n, wide = len(ds.y_train), SHARED_RANK * k
    if len(rows) < SHARED_ROWS * n or len(test) != len(ds.y_test):
        return neighbours.search(train, test, k)
    whole = Cache(Path(job.cache_dir).parent / f"raw-{job.dataset}").get(
        "raw-nearest", {"n_train": n, "n_test": len(test), "k": wide},
        lambda: {"found": neighbours.search(ds.scaled(ds.x_train), test, wide)})["found"]
    found, again = neighbours.among(whole, rows, n, k)
    if len(again):
        found[again] = neighbours.search(train, test[again], k)
    return found


def run_layer(job: LayerJob) -> LayerResult:
    """One job, with thread pools sized to its CPU share; the libraries' chatter is kept off the console."""
    from threadpoolctl import threadpool_limits

    logging.getLogger("pacmap").setLevel(logging.ERROR)  # it warns about every seeded run
    start = time.perf_counter()
    with (threadpool_limits(job.threads), _numba_threads(job.threads), warnings.catch_warnings(),
          contextlib.redirect_stdout(io.StringIO())):
        warnings.simplefilter("ignore")
        result = _run(job)
    result.seconds, result.ended = time.perf_counter() - start, time.time()
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
    entries = dict(job.entries())
    name = lambda suffix: f"{job.layer}-{suffix}"  # noqa: E731
    if job.task == PROBES:
        if job.ks:
            def knn() -> dict[str, np.ndarray]:
                nearest = _raw_nearest(job, train, test, max(job.ks)) if job.layer == RAW else None
                return {"accuracy": _knn(train, y_train, test, y_test, job, nearest)}

            scores = cache.get(name("knn"), entries[name("knn")], knn)["accuracy"]
            _add(result, [f"knn{k}" for k in job.ks], scores, "the layer")
        if job.linear:
            score = cache.get(name("linear"), entries[name("linear")], lambda: {
                "accuracy": np.array([probes.linear(train, y_train, test, y_test)])})["accuracy"]
            _add(result, ["linear"], score, "the layer")
        result.computed = cache.misses
        return result
    fit = job.fit_rows(y_train)
    if job.task == UMAP and job.flat:
        if job.ks:
            scores = cache.get(name("direct-knn"), entries[name("direct-knn")],
                               lambda: {"accuracy": _knn(train[fit], y_train[fit], test, y_test, job)})
            _add(result, [f"umap-knn{k}" for k in job.ks], scores["accuracy"], "the layer itself", len(fit))
        if job.draw:
            _drawn(result, UMAP, _as_2d(train[fit]), fit, f"width {job.width}: the layer itself, {len(fit)} rows")
            if job.test:
                _drawn(result, UMAP + TEST, _as_2d(test), np.arange(len(test)), f"{len(test)} test rows")
    elif job.task == UMAP:
        umap = cache.get(name("umap"), entries[name("umap")], lambda: dict(zip(
            ("train", "test"), embed.umap_fit(train[fit], test if (job.ks or job.test) else test[:0], job.seed,
                                              **dict(job.params)))))
        if job.ks:
            scores = cache.get(name("umap-knn"), entries[name("umap-knn")],
                               lambda: {"accuracy": _knn(umap["train"], y_train[fit], umap["test"], y_test, job)})
            _add(result, [f"umap-knn{k}" for k in job.ks], scores["accuracy"], "UMAP", len(fit))
        if job.draw:
            _drawn(result, UMAP, umap["train"], fit, f"fit on {len(fit)} rows")
            if job.test:
                _drawn(result, UMAP + TEST, umap["test"], np.arange(len(test)), f"{len(test)} test rows, transformed")
    else:
        arrays = cache.get(name(job.task), entries[name(job.task)],
                           lambda: embed.METHODS[job.task](train[fit], job.seed, **dict(job.params)))
        note = f"{len(fit)} rows"
        if "ratio" in arrays:
            note += f"; variance {', '.join(f'{r:.3f}' for r in arrays['ratio'])}"
        _drawn(result, job.task, arrays["coords"], fit, note)
    result.computed = cache.misses
    return result


def _knn(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray, job: LayerJob,
         nearest: np.ndarray | None = None) -> np.ndarray:
    return np.array(list(probes.knn(train, y_train, test, y_test, job.ks, job.vote, nearest).values()))


def _drawn(result: LayerResult, key: str, coords: np.ndarray, positions: np.ndarray, note: str) -> None:
    result.coords[key], result.positions[key], result.notes[key] = coords, positions, note


def _as_2d(x: np.ndarray) -> np.ndarray:
    """A one-column layer drawn on a line."""
    return x if x.shape[1] == 2 else np.column_stack([x, np.zeros(len(x), x.dtype)])


def _add(result: LayerResult, names: list[str], accuracies: np.ndarray, on: str, fitted: int | None = None) -> None:
    """Probe records, each saying what it was fitted and scored on."""
    job = result.job
    for name, accuracy in zip(names, accuracies):
        result.records.append({"dataset": job.dataset, "source": job.source, "label": job.label, "layer": job.layer,
                               "probe": name, "accuracy": float(accuracy), "on": on,
                               "vote": job.vote if "knn" in name else "",
                               "fitted": fitted or job.n_train, "scored": job.n_test})

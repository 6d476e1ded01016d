"""2-D embeddings of raw pixels and hidden activations, with a cache on disk.

`METHODS` maps a name to a function `(x, seed, **settings) -> {"coords": [N, 2], ...}`; the heavy
libraries load only when their method runs, and their compiled code is kept on disk. UMAP also
transforms held-out rows (`umap_fit`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from sweep.artifacts import write_npz


def _pca(x: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    coords, ratio = pca(x, 2, seed)
    return {"coords": coords.astype(np.float32), "ratio": ratio}


FFT_ROWS = 5_000  # t-SNE's gradient by FFT from here, by Barnes-Hut below


def _tsne(x: np.ndarray, seed: int, perplexity: float = 30.0, iterations: int = 750,
          exaggeration: float = 12.0) -> dict[str, np.ndarray]:
    """openTSNE's t-SNE, run as scikit-learn's `TSNE(perplexity, max_iter=iterations)`: 250 iterations
    with early exaggeration, then the rest, from a PCA start. From `FFT_ROWS` rows on, its FFT
    gradient (on 10,000 rows of a trained layer, 300 iterations: 16 s against scikit-learn's 28 s on
    one core); below, Barnes-Hut, as scikit-learn (on 2,000 rows the FFT's grid costs 26 s, Barnes-Hut 7 s)."""
    from openTSNE import TSNE, affinity, initialization
    from openTSNE.nearest_neighbors import PrecomputedNeighbors

    perplexity = min(perplexity, (len(x) - 1) / 3)  # each row needs 3 x perplexity neighbours
    found, distances = _neighbours_of_rows(x, min(len(x) - 1, int(3 * perplexity)))
    affinities = affinity.PerplexityBasedNN(perplexity=perplexity, knn_index=PrecomputedNeighbors(found, distances),
                                            n_jobs=1, random_state=seed)
    model = TSNE(2, early_exaggeration=exaggeration, early_exaggeration_iter=250, n_iter=iterations - 250,
                 negative_gradient_method="fft" if len(x) >= FFT_ROWS else "bh", n_jobs=1, random_state=seed)
    start = initialization.pca(x, random_state=seed)
    return {"coords": np.asarray(model.fit(affinities=affinities, initialization=start), np.float32)}


def _neighbours_of_rows(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k nearest other rows and their Euclidean distances, by the exact search the probes
    use (the neighbour search t-SNE's affinities need: 3x faster than openTSNE's own approximate
    one on 10,000 rows, and exact)."""
    from analysis import neighbours

    found, squared = neighbours.search(x, x, k + 1, distances=True)
    itself = found == np.arange(len(x))[:, None]
    itself[~itself.any(1), -1] = True  # a row with k + 1 duplicates of itself keeps the first k
    return found[~itself].reshape(len(x), k), np.sqrt(squared[~itself].reshape(len(x), k))


def _umap(x: np.ndarray, seed: int, **settings: Any) -> dict[str, np.ndarray]:
    return {"coords": umap_fit(x, x[:0], seed, **settings)[0]}


def _trimap(x: np.ndarray, seed: int, inliers: int = 12, outliers: int = 4) -> dict[str, np.ndarray]:
    trimap = compiled("trimap")
    model = trimap.TRIMAP(n_dims=2, n_inliers=inliers, n_outliers=outliers, verbose=False)
    return {"coords": model.fit_transform(x).astype(np.float32)}


def _pacmap(x: np.ndarray, seed: int, neighbours: int = 10) -> dict[str, np.ndarray]:
    pacmap = compiled("pacmap")
    model = pacmap.PaCMAP(n_components=2, n_neighbors=neighbours, random_state=seed)
    return {"coords": model.fit_transform(x, init="pca").astype(np.float32)}


METHODS: dict[str, Callable[..., dict[str, np.ndarray]]] = {
    "pca": _pca, "tsne": _tsne, "umap": _umap, "trimap": _trimap, "pacmap": _pacmap,
}
# As their authors write them.
TITLES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP", "umap/test": "UMAP, test rows", "trimap": "TriMAP",
          "pacmap": "PaCMAP"}


# The embedding libraries' modules whose numba functions compile on first use without caching.
COMPILED = ("umap.umap_", "umap.layouts", "umap.spectral", "umap.distances", "umap.sparse", "umap.utils",
            "pynndescent.pynndescent_", "pynndescent.utils", "pynndescent.rp_trees", "pynndescent.distances",
            "pynndescent.sparse", "pynndescent.graph_utils", "pacmap.pacmap")


def compiled(name: str) -> ModuleType:
    """An embedding library, imported with its numba code kept on disk, as numba does for functions
    declared `cache=True`: every process after the first on a machine loads it instead of compiling
    it again. TriMAP compiles at import (about 12 s), so its decorators are asked to cache while it
    loads; UMAP's optional TensorFlow model is not imported (about 6 s) unless TensorFlow already is."""
    if name in sys.modules:
        return sys.modules[name]
    with _caching_decorators(), _without("umap.parametric_umap", unless="tensorflow"):
        module = importlib.import_module(name)
    _cache_compiled()
    return module


@contextlib.contextmanager
def _caching_decorators() -> Iterator[None]:
    import numba

    before = numba.njit, numba.jit

    def caching(decorate: Callable) -> Callable:
        return functools.wraps(decorate)(lambda *args, **kwargs: decorate(*args, **{"cache": True, **kwargs}))

    numba.njit, numba.jit = caching(numba.njit), caching(numba.jit)
    try:
        yield
    finally:
        numba.njit, numba.jit = before


@contextlib.contextmanager
def _without(module: str, unless: str) -> Iterator[None]:
    """Make `module` unimportable while the block runs, unless `unless` is loaded already."""
    if unless in sys.modules or module in sys.modules:
        yield
        return
    sys.modules[module] = None  # type: ignore[assignment] - Python's marker for "cannot be imported"
    try:
        yield
    finally:
        del sys.modules[module]


@functools.cache
def _cache_compiled() -> None:
    """Keep the numba code of UMAP, its neighbour search and PaCMAP on disk (functions that cannot
    be cached still compile)."""
    from numba.core.dispatcher import Dispatcher

    for name in COMPILED:
        if (module := sys.modules.get(name)) is None:
            continue
        for obj in list(vars(module).values()):
            if isinstance(obj, Dispatcher):
                obj.enable_caching()


def umap_fit(train: np.ndarray, test: np.ndarray, seed: int, neighbours: int = 15,
             min_dist: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """UMAP fitted on `train`, then `transform` on `test` (Study B's protocol)."""
    umap = compiled("umap")
    reducer = umap.UMAP(n_components=2, n_neighbors=neighbours, min_dist=min_dist, random_state=seed, n_jobs=1)
    emb_train = reducer.fit_transform(train)
    emb_test = reducer.transform(test) if len(test) else np.empty((0, 2), np.float32)
    return emb_train.astype(np.float32), emb_test.astype(np.float32)


def stratified(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of about `n` rows with every class in its share (all rows if n >= len(y))."""
    if n >= len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    picked = [rng.choice(idx, max(1, round(n * len(idx) / len(y))), replace=False)
              for idx in (np.flatnonzero(y == c) for c in np.unique(y))]
    return np.sort(np.concatenate(picked))


def pca(x: np.ndarray, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`x` on its first `k` principal components (zeros past its rank), and their explained variance ratios."""
    from sklearn.decomposition import PCA

    model = PCA(min(k, *x.shape), random_state=seed)
    coords = model.fit_transform(x)
    return np.pad(coords, ((0, 0), (0, k - coords.shape[1]))), model.explained_variance_ratio_


@dataclass
class Cache:
    """Arrays on disk under `folder`, keyed by a name and the parameters that made them."""

    folder: Path
    misses: list[str] = field(default_factory=list)  # names computed rather than read

    def path(self, name: str, params: dict[str, Any]) -> Path:
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
        return self.folder / f"{name}-{digest}.npz"

    def get(self, name: str, params: dict[str, Any],
            compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """The cached arrays, or `compute()`'s, saved first (atomically)."""
        path = self.path(name, params)
        if path.is_file():
            with np.load(path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        arrays = compute()
        self.misses.append(path.name)
        write_npz(path, **arrays)
        return arrays

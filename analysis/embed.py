"""2-D embeddings of raw pixels and hidden activations, with a cache on disk.

`METHODS` maps a name to a function `(x, seed) -> coords [N, 2]`; the heavy libraries load only
when their method runs. UMAP is the exception that also transforms held-out rows (`umap_fit`).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sweep.artifacts import write_npz
from sweep.errors import SweepError


def _pca(x: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    return PCA(2, random_state=seed).fit_transform(x)


def _tsne(x: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    return TSNE(2, init="pca", random_state=seed).fit_transform(x)


def _umap(x: np.ndarray, seed: int) -> np.ndarray:
    return umap_fit(x, x[:0], seed)[0]


def _trimap(x: np.ndarray, seed: int) -> np.ndarray:
    import trimap

    return trimap.TRIMAP(n_dims=2, verbose=False).fit_transform(x)


def _pacmap(x: np.ndarray, seed: int) -> np.ndarray:
    import pacmap

    return pacmap.PaCMAP(n_components=2, random_state=seed).fit_transform(x, init="pca")


METHODS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "pca": _pca, "tsne": _tsne, "umap": _umap, "trimap": _trimap, "pacmap": _pacmap,
}
# As their authors write them.
TITLES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP", "trimap": "TriMAP", "pacmap": "PaCMAP"}


# The embedding libraries' modules whose numba functions compile on first use without caching.
COMPILED = ("umap.umap_", "umap.layouts", "umap.spectral", "umap.distances", "umap.sparse", "umap.utils",
            "pynndescent.pynndescent_", "pynndescent.utils", "pynndescent.rp_trees", "pynndescent.distances",
            "pynndescent.sparse", "pynndescent.graph_utils", "pacmap.pacmap")


@functools.cache
def cache_compiled() -> None:
    """Keep the numba code of UMAP, its neighbour search and PaCMAP on disk, as numba does for
    functions declared `cache=True`: every process after the first on a machine loads it instead
    of compiling it again (about 25 s per process; functions that cannot be cached still compile)."""
    import importlib

    from numba.core.dispatcher import Dispatcher

    for name in COMPILED:
        for obj in list(vars(importlib.import_module(name)).values()):
            if isinstance(obj, Dispatcher):
                obj.enable_caching()


def check_methods(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise SweepError(f"unknown embedding method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    return names


def umap_fit(train: np.ndarray, test: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """UMAP fitted on `train`, then `transform` on `test` (Study B's protocol)."""
    import umap

    reducer = umap.UMAP(n_components=2, random_state=seed, n_jobs=1)
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

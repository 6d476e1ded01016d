"""Input reductions: none, PCA to k components, or the k pixels a random forest ranks highest.

A reduction is fitted on the training rows only (never validation or test rows), once per sweep
for each distinct (dataset, method, k, seed, training rows), saved under the sweep's folder and
handed to every trial that uses it; trials only call `transform`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweep import data
from sweep.artifacts import write_npz
from sweep.space import TrialConfig

RF_TREES = 100


@dataclass(frozen=True)
class Reduction:
    """A fitted reduction: PCA's mean and components, or the random forest's chosen pixels."""

    method: str
    k: int
    mean: np.ndarray  # pca: [784]; rf: empty
    components: np.ndarray  # pca: [k, 784]; rf: empty
    pixels: np.ndarray  # rf: indices [k], most important first; pca: empty
    scores: np.ndarray  # pca: explained variance ratio [k]; rf: importance of every pixel [784]

    def transform(self, x: np.ndarray) -> np.ndarray:
        """float32 pixels [N, 784] -> [N, k]."""
        if self.method == "pca":
            return ((x - self.mean) @ self.components.T).astype(np.float32)
        return np.ascontiguousarray(x[:, self.pixels])


def key(config: TrialConfig) -> str | None:
    """The cache key of the reduction a trial needs, or None for raw pixels."""
    if config.reduction == "none":
        return None
    seed = f"-s{config.seed}" if config.reduction == "rf" else ""  # PCA here is deterministic
    return f"{config.dataset}-v{config.validation}-{config.reduction}{config.reduction_k}{seed}"


def fit(method: str, k: int, x: np.ndarray, y: np.ndarray, seed: int = 0) -> Reduction:
    """Fit on float32 pixels `x` [N, 784] with labels `y` (training rows only)."""
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=k, svd_solver="full").fit(x)
        return Reduction("pca", k, pca.mean_.astype(np.float32), pca.components_.astype(np.float32),
                         np.empty(0, dtype=np.int64), pca.explained_variance_ratio_.astype(np.float32))
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=RF_TREES, n_jobs=-1, random_state=seed).fit(x, y)
    order = np.argsort(forest.feature_importances_, kind="stable")[::-1][:k]
    empty = np.empty(0, dtype=np.float32)
    return Reduction("rf", k, empty, empty.reshape(0, 0), order.astype(np.int64),
                     forest.feature_importances_.astype(np.float32))


def load(path: Path) -> Reduction:
    with np.load(path, allow_pickle=False) as npz:
        return Reduction(method=str(npz["method"]), k=int(npz["k"]), mean=npz["mean"],
                         components=npz["components"], pixels=npz["pixels"], scores=npz["scores"])


def fit_all(configs: list[TrialConfig], folder: Path, data_dir: str | None = None,
            log=print) -> dict[str, Reduction]:
    """Fit (or read from `folder`) every distinct reduction the trials need."""
    needed = {key(c): c for c in configs if key(c) is not None}
    out: dict[str, Reduction] = {}
    for name, config in sorted(needed.items()):
        path = folder / f"{name}.npz"
        if path.is_file():
            out[name] = load(path)
            continue
        log(f"fitting input reduction {name} on the training rows")
        ds = data.load(config.dataset, data_dir)
        n = data.fit_rows(ds, config.validation)
        out[name] = red = fit(config.reduction, config.reduction_k, data.pixels(ds.x_train[:n]),
                              ds.y_train[:n], config.seed)
        write_npz(path, method=red.method, k=red.k, mean=red.mean, components=red.components,
                  pixels=red.pixels, scores=red.scores)
    return out

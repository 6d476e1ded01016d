"""Input reductions: none, PCA to k components, or the k pixels a random forest ranks highest.

A reduction is fitted on the training rows only (never validation or test rows), once per sweep
for each distinct (dataset, method, k, seed, training rows), by the first trial that needs it;
it lands in the sweep's `reductions/` folder, where every later trial (and the report) reads it.
Trials fit in parallel with the rest of the sweep, so a search only pays for what it uses.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweep import data
from sweep.artifacts import write_npz
from sweep.config import TrialConfig
from sweep.storage import Storage

RF_TREES = 100
# Each tree sees a quarter of the rows: 3.4x less work, and its top-70 MNIST pixels share 53 of 70
# with a forest on all rows, as many as two all-row forests with different seeds share (52-56).
RF_SAMPLES = 0.25


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


def path(config: TrialConfig, folder: Path) -> Path | None:
    """Where in a sweep's reductions `folder` the reduction a trial needs is saved; None for raw pixels."""
    name = key(config)
    return None if name is None else folder / f"{name}.npz"


def fit(method: str, k: int, x: np.ndarray, y: np.ndarray, seed: int = 0, jobs: int = 1) -> Reduction:
    """Fit on float32 pixels `x` [N, 784] with labels `y` (training rows only), on `jobs` cores."""
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=k, svd_solver="covariance_eigh").fit(x)  # [784, 784] covariance: fast for tall x
        return Reduction("pca", k, pca.mean_.astype(np.float32), pca.components_.astype(np.float32),
                         np.empty(0, dtype=np.int64), pca.explained_variance_ratio_.astype(np.float32))
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=RF_TREES, max_samples=RF_SAMPLES, n_jobs=jobs, random_state=seed)
    forest.fit(x, y)
    order = np.argsort(forest.feature_importances_, kind="stable")[::-1][:k]
    empty = np.empty(0, dtype=np.float32)
    return Reduction("rf", k, empty, empty.reshape(0, 0), order.astype(np.int64),
                     forest.feature_importances_.astype(np.float32))


def load(path: Path) -> Reduction:
    with np.load(path, allow_pickle=False) as npz:
        return Reduction(method=str(npz["method"]), k=int(npz["k"]), mean=npz["mean"],
                         components=npz["components"], pixels=npz["pixels"], scores=npz["scores"])


def obtain(config: TrialConfig, folder: Path, data_dir: str | None = None, jobs: int = 1,
           storage: Storage | None = None) -> Reduction | None:
    """The reduction `config` needs (None for raw pixels): read from `folder`, else fitted and saved there.

    A lock per reduction makes trials that share `folder` fit it once: the others wait, then read it.
    With object `storage`, `folder` is this node's mirror of the sweep's reductions: a reduction
    another node fitted is downloaded, one fitted here uploaded. (Two nodes that need the same
    reduction at the same moment may both fit it; the fit is deterministic, so they agree.)
    """
    saved = path(config, folder)
    if saved is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    with open(saved.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if saved.is_file() or storage is not None and storage.pull(saved):
            return load(saved)
        ds = data.load(config.dataset, data_dir)
        n = data.fit_rows(ds, config.validation)
        red = fit(config.reduction, config.reduction_k, data.features(config.dataset, data_dir)[:n],
                  ds.y_train[:n], config.seed, jobs)
        write_npz(saved, method=red.method, k=red.k, mean=red.mean, components=red.components,
                  pixels=red.pixels, scores=red.scores)
        if storage is not None:
            storage.push(saved)
        return red

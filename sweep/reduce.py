"""Input reductions: none, PCA to k components, or the k features (pixels) a random forest ranks highest.

A reduction is fitted on the rows a trial fits on (never validation or test rows; with
`reduction_rows: train` on every training row, as Study A did), once per sweep for each distinct
(dataset, method, k, rows, forest settings and seed), by the first trial that needs it;
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


@dataclass(frozen=True)
class Reduction:
    """A fitted reduction: PCA's mean and components, or the random forest's chosen features."""

    method: str
    k: int
    mean: np.ndarray  # pca: [F]; rf: empty
    components: np.ndarray  # pca: [k, F]; rf: empty
    kept: np.ndarray  # rf: the features' indices [k], most important first; pca: empty
    scores: np.ndarray  # pca: explained variance ratio [k]; rf: importance of every feature [F]

    def transform(self, x: np.ndarray) -> np.ndarray:
        """float32 features [N, F] -> [N, k]."""
        if self.method == "pca":
            return ((x - self.mean) @ self.components.T).astype(np.float32)
        return np.ascontiguousarray(x[:, self.kept])


def key(config: TrialConfig) -> str | None:
    """The cache key of the reduction a trial needs, or None for the raw input."""
    if config.reduction == "none":
        return None
    rows = config.split_key if config.reduction_rows == "fit" else "all"
    if config.reduction == "pca":  # deterministic
        return f"{config.dataset}-{rows}-pca{config.reduction_k}"
    per_tree = "" if config.forest_rows == TrialConfig.forest_rows else f"-r{config.forest_rows:g}"
    onehot = "-onehot" if config.forest_labels == "onehot" else ""
    return f"{config.dataset}-{rows}-rf{config.reduction_k}-s{_forest_seed(config)}{per_tree}{onehot}"


def _forest_seed(config: TrialConfig) -> int:
    return config.seed if config.forest_seed is None else config.forest_seed


def path(config: TrialConfig, folder: Path) -> Path | None:
    """Where in a sweep's reductions `folder` the reduction a trial needs is saved; None for the raw input."""
    name = key(config)
    return None if name is None else folder / f"{name}.npz"


def fit(method: str, k: int, x: np.ndarray, y: np.ndarray, seed: int = 0, jobs: int = 1,
        forest_rows: float = 0.25, onehot: bool = False) -> Reduction:
    """Fit on float32 features `x` [N, F] with labels `y`, on `jobs` cores. The forest's trees each
    see `forest_rows` of the rows; with `onehot` it fits one-hot targets (one output per class)."""
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=k, svd_solver="covariance_eigh").fit(x)  # [F, F] covariance: fast for tall x
        return Reduction("pca", k, pca.mean_.astype(np.float32), pca.components_.astype(np.float32),
                         np.empty(0, dtype=np.int64), pca.explained_variance_ratio_.astype(np.float32))
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=RF_TREES, max_samples=None if forest_rows == 1 else forest_rows,
                                    n_jobs=jobs, random_state=seed)
    forest.fit(x, np.eye(int(y.max()) + 1, dtype=np.int8)[y] if onehot else y)
    order = np.argsort(forest.feature_importances_, kind="stable")[::-1][:k]
    empty = np.empty(0, dtype=np.float32)
    return Reduction("rf", k, empty, empty.reshape(0, 0), order.astype(np.int64),
                     forest.feature_importances_.astype(np.float32))


def load(path: Path) -> Reduction:
    with np.load(path, allow_pickle=False) as npz:
        return Reduction(method=str(npz["method"]), k=int(npz["k"]), mean=npz["mean"],
                         components=npz["components"], kept=npz["pixels"], scores=npz["scores"])


def obtain(config: TrialConfig, folder: Path, data_dir: str | None = None, jobs: int = 1,
           storage: Storage | None = None) -> Reduction | None:
    """The reduction `config` needs (None for the raw input): read from `folder`, else fitted and saved there.

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
        rows = (config.split(len(ds.y_train)).fit if config.reduction_rows == "fit"
                else np.arange(len(ds.y_train)))
        red = fit(config.reduction, config.reduction_k, data.take(data.features(config.dataset, data_dir), rows),
                  ds.y_train[rows], _forest_seed(config), jobs, config.forest_rows, config.forest_labels == "onehot")
        write_npz(saved, method=red.method, k=red.k, mean=red.mean, components=red.components,
                  pixels=red.kept, scores=red.scores)  # the key sweeps have saved it under
        if storage is not None:
            storage.push(saved)
        return red

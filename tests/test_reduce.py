from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from sweep import data, reduce
from sweep.config import resolve


def test_pca_is_fitted_on_training_rows_only(tmp_path: Path) -> None:
    config = resolve({"dataset": "mnist_small", "validation": 1000, "reduction": "pca", "reduction_k": 10})
    red = reduce.obtain(config, tmp_path)
    ds = data.load("mnist_small")
    reference = PCA(10, svd_solver="full").fit(data.pixels(ds.x_train[:5000]))
    assert np.allclose(np.abs(red.components), np.abs(reference.components_), atol=1e-4)
    with_validation = PCA(10, svd_solver="full").fit(data.pixels(ds.x_train))
    assert not np.allclose(red.mean, with_validation.mean_, atol=1e-4)
    x = data.pixels(ds.x_test[:50])
    assert np.allclose(np.abs(red.transform(x)), np.abs(reference.transform(x)), atol=1e-3)


def test_forest_keeps_the_most_important_pixels() -> None:
    ds = data.load("mnist_small")
    x = data.pixels(ds.x_train[:2000])
    red = reduce.fit("rf", 30, x, ds.y_train[:2000], seed=0)
    assert red.transform(x).shape == (2000, 30)
    assert red.scores[red.kept].min() >= np.sort(red.scores)[-30]
    corner = np.ravel_multi_index(([0, 0, 27, 27], [0, 27, 0, 27]), (28, 28))
    assert not set(corner) & set(red.kept.tolist())  # blank corners are never informative


def test_one_fit_per_distinct_reduction_then_read_back(tmp_path: Path) -> None:
    base = {"dataset": "mnist_small", "validation": 1000, "reduction": "pca", "reduction_k": 8}
    configs = [resolve({**base, "seed": s, "hidden": h}) for s in (0, 1) for h in ([16], [16, 2])]
    first = reduce.obtain(configs[0], tmp_path)
    saved = tmp_path / "mnist_small-v1000-pca8.npz"
    written = saved.stat().st_mtime_ns
    for config in configs[1:]:  # other seeds and widths share the PCA: read, not refitted
        assert np.array_equal(reduce.obtain(config, tmp_path).components, first.components)
    assert saved.stat().st_mtime_ns == written
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".lock", ".npz"]
    assert reduce.obtain(resolve({"dataset": "mnist_small"}), tmp_path) is None


def test_concurrent_trials_fit_a_reduction_once(tmp_path: Path) -> None:
    config = resolve({"dataset": "mnist_small", "validation": 1000, "reduction": "rf", "reduction_k": 20})
    with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_obtain, [config] * 3, [tmp_path] * 3))
    # One file, written once (a rewrite would rename a new inode over it), the same pixels for all.
    assert len({inode for _, inode in results}) == 1
    assert all(np.array_equal(pixels, results[0][0]) for pixels, _ in results)


def _obtain(config, folder: Path) -> tuple[np.ndarray, int]:
    red = reduce.obtain(config, folder)
    return red.kept, (folder / f"{reduce.key(config)}.npz").stat().st_ino


def test_reduction_key_follows_rows_split_and_forest() -> None:
    keys = {reduce.key(resolve({"reduction": "rf", "reduction_k": 70, "seed": s})) for s in (0, 1)}
    assert keys == {"mnist-v5000-rf70-s0", "mnist-v5000-rf70-s1"}
    assert reduce.key(resolve({})) is None
    pca = {"reduction": "pca", "reduction_k": 9}
    assert reduce.key(resolve({**pca, "validation": 0.2, "validation_from": "random", "seed": 3})) == (
        "mnist-v0.2-random3-pca9")
    assert reduce.key(resolve({**pca, "validation_from": "random", "split_seed": 7, "seed": 3})) == (
        "mnist-v5000-random7-pca9")
    assert reduce.key(resolve({**pca, "validation": 0.2, "reduction_rows": "train"})) == "mnist-all-pca9"
    study = resolve({"reduction": "rf", "reduction_k": 70, "reduction_rows": "train", "forest_rows": 1.0,
                     "forest_labels": "onehot", "forest_seed": 42, "seed": 5})
    assert reduce.key(study) == "mnist-all-rf70-s42-r1-onehot"


def test_reduction_fits_the_trials_own_rows(tmp_path: Path) -> None:
    """A random split's PCA is fitted on the rows that split fits on; `reduction_rows: train` on all."""
    ds = data.load("mnist_small")
    base = {"dataset": "mnist_small", "validation": 1000, "reduction": "pca", "reduction_k": 5}
    drawn = resolve({**base, "validation_from": "random", "seed": 4})
    fit = drawn.split(len(ds.y_train)).fit
    assert np.allclose(reduce.obtain(drawn, tmp_path).mean, data.pixels(ds.x_train[fit]).mean(0), atol=1e-5)
    every = resolve({**base, "reduction_rows": "train"})
    assert np.allclose(reduce.obtain(every, tmp_path).mean, data.pixels(ds.x_train).mean(0), atol=1e-5)


def test_forest_on_one_hot_labels_and_every_row() -> None:
    """Study A's forest: every row per tree, one-hot targets, its own seed: as scikit-learn's own."""
    from sklearn.ensemble import RandomForestClassifier

    ds = data.load("mnist_small")
    x, y = data.pixels(ds.x_train[:1000]), ds.y_train[:1000]
    red = reduce.fit("rf", 20, x, y, seed=42, forest_rows=1.0, onehot=True)
    theirs = RandomForestClassifier(reduce.RF_TREES, random_state=42).fit(x, np.eye(10)[y])
    assert np.allclose(red.scores, theirs.feature_importances_, atol=1e-6)

"""The shared neighbour search gives scikit-learn's KNeighborsClassifier's predictions, ties included."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from analysis import neighbours, probes
from sweep import data

KS = (3, 5, 10)


def _mnist(rows: int, test: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ds = data.load("mnist_small")
    return data.pixels(ds.x_train[:rows]), ds.y_train[:rows], data.pixels(ds.x_test[:test]), ds.y_test[:test]


def _relu(x: np.ndarray, width: int, seed: int = 0) -> np.ndarray:
    """A random ReLU layer over the pixels: dead units, and rows that are all zero, tie exactly."""
    w = np.random.default_rng(seed).normal(size=(x.shape[1], width)).astype(np.float32) / 8
    return np.maximum(0, x @ w - 1.5).astype(np.float16).astype(np.float32)  # as activations are saved


def _cases() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    x, y, xt, yt = _mnist(3000, 600)
    repeated = np.concatenate([x[:1500], x[:1500]])  # every training row twice: ties at every distance
    return {"raw pixels": (x, y, xt, yt), "relu 64": (_relu(x, 64), y, _relu(xt, 64), yt),
            "relu 16 (ties)": (_relu(x, 16, 1), y, _relu(xt, 16, 1), yt),
            "duplicated rows": (repeated, np.concatenate([y[:1500], y[::-1][:1500]]), xt, yt),
            "5 columns (k-d tree)": (_relu(x, 5, 2), y, _relu(xt, 5, 2), yt)}


@pytest.mark.parametrize("case", list(_cases()))
def test_knn_predicts_as_scikit_learn(case: str) -> None:
    """The same prediction for every test row whose k nearest rows are one set. Where the k-th and
    the next are equally far, scikit-learn's choice depends on its thread count; the search takes
    the lower training row (tested below)."""
    train, y, test, y_test = _cases()[case]
    found = neighbours.search(train, test, max(KS))
    scores = probes.knn(train, y, test, y_test, KS)
    t64, x64 = test.astype(np.float64), train.astype(np.float64)
    far = np.sort((t64**2).sum(1)[:, None] - 2 * t64 @ x64.T + (x64**2).sum(1), 1)
    for k in KS:
        model = KNeighborsClassifier(k).fit(train, y)
        expected, alone = model.predict(test), far[:, k - 1] < far[:, k]
        assert alone.sum() >= 200 or (case == "duplicated rows" and k < 10)  # every row is there twice
        assert (probes.plurality(y[found[:, :k]], 10) == expected)[alone].all(), k
        if alone.all():
            assert scores[k] == model.score(test, y_test)


def test_search_is_exact_nearest_first_lower_row_on_ties() -> None:
    train, _, test, _ = _cases()["relu 16 (ties)"]
    found = neighbours.search(train, test, 10)
    exact = ((test[:, None, :].astype(np.float64) - train[None].astype(np.float64)) ** 2).sum(-1)
    expected = np.lexsort((np.broadcast_to(np.arange(len(train)), exact.shape), exact), axis=-1)[:, :10]
    assert (found == expected).all()


@pytest.mark.parametrize("case", ["relu 16 (ties)", "duplicated rows"])
def test_a_subsets_neighbours_are_read_from_the_whole_sets(case: str) -> None:
    """A validation split's raw pixels read the search over every training row: the first k of the
    split's rows there (searched again where fewer are found) are what a search over them finds."""
    train, _, test, _ = _cases()[case]
    whole = neighbours.search(train, test, 20)
    rng = np.random.default_rng(0)
    for share, again_at_least in ((0.8, 0), (0.2, 100)):
        rows = np.sort(rng.choice(len(train), int(share * len(train)), replace=False))
        found, again = neighbours.among(whole, rows, len(train), 5)
        assert len(again) >= again_at_least
        found[again] = neighbours.search(train[rows], test[again], 5)
        assert (found == neighbours.search(train[rows], test, 5)).all()


def test_a_few_long_rows_do_not_send_queries_to_the_float64_search(monkeypatch) -> None:
    """Rounding grows with the rows' lengths, but only rows within reach of a query bound it: a
    few rows 50 times longer than the rest (as dropout layers have) send no more queries to the
    float64 search over every row than the layer without them (whose exact ties at the k-th do)."""
    x, _, xt, _ = _mnist(3000, 300)
    train, test = _relu(x, 64), _relu(xt, 64)
    again = []
    every_row = neighbours._every_row
    monkeypatch.setattr(neighbours, "_every_row", lambda *a: again.append(1) or every_row(*a))
    neighbours.search(train, test, 5)
    plain, again[:] = len(again), []
    train[:5] *= 50
    found = neighbours.search(train, test, 5)
    exact = ((test[:, None, :].astype(np.float64) - train[None].astype(np.float64)) ** 2).sum(-1)
    expected = np.lexsort((np.broadcast_to(np.arange(len(train)), exact.shape), exact), axis=-1)[:, :5]
    assert (found == expected).all()
    assert len(again) <= plain + 3, f"{len(again)} of {len(test)} queries searched again, {plain} without long rows"

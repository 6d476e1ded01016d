from __future__ import annotations

import numpy as np
import pytest

from analysis import embed, probes


def _clusters(n: int = 600, classes: int = 3, spread: float = 0.3, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (classes, 16))
    y = rng.integers(0, classes, n)
    return (centres[y] + rng.normal(0, spread, (n, 16))).astype(np.float32), y


def test_separated_clusters_score_one_and_shuffled_labels_score_chance() -> None:
    x, y = _clusters()
    train, test = slice(0, 400), slice(400, None)
    assert min(probes.knn(x[train], y[train], x[test], y[test], (3, 5, 10)).values()) == 1.0
    assert probes.linear(x[train], y[train], x[test], y[test]) == 1.0
    shuffled = np.random.default_rng(1).permutation(y)
    chance = probes.knn(x[train], shuffled[train], x[test], shuffled[test], (3, 5, 10))
    assert all(abs(v - 1 / 3) < 0.12 for v in chance.values())
    assert abs(probes.linear(x[train], shuffled[train], x[test], shuffled[test]) - 1 / 3) < 0.12


def test_both_votes_match_scikit_learn() -> None:
    """Plurality: `KNeighborsClassifier` on integer labels. Majority: the same on one-hot labels,
    read by argmax (Study B's rule), which scores lower where no class has more than k/2."""
    from sklearn.neighbors import KNeighborsClassifier

    x, y = _clusters(spread=14.0, seed=2)  # overlapping classes: some rows have no majority
    ks = (3, 4, 5, 10)
    ours = {vote: probes.knn(x[:400], y[:400], x[400:], y[400:], ks, vote) for vote in probes.VOTES}
    for k in ks:
        model = KNeighborsClassifier(k)
        assert ours["plurality"][k] == pytest.approx(model.fit(x[:400], y[:400]).score(x[400:], y[400:]))
        onehot = model.fit(x[:400], np.eye(3)[y[:400]]).predict(x[400:]).argmax(1)
        assert ours["majority"][k] == pytest.approx((onehot == y[400:]).mean())
    assert ours["majority"][10] < ours["plurality"][10]


def test_linear_probe_reaches_scikit_learns_optimum() -> None:
    """The whitened fit minimises `LogisticRegression()`'s own objective: on the 8x8 digits (constant
    pixels included) it scores what scikit-learn's fit run to convergence scores, to one test row."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    for train, test in ((slice(0, 1200), slice(1200, None)), (slice(597, None), slice(0, 597))):
        theirs = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, tol=1e-8))
        score = theirs.fit(x[train], y[train]).score(x[test], y[test])
        assert probes.linear(x[train], y[train], x[test], y[test]) == pytest.approx(score, abs=1.01 / 597)


# UMAP, TriMAP and PaCMAP compile their numba code in every new process (10-45 s each): they are
# judged the same way on the report's own embeddings of a trained layer, where that is paid once
# (tests/test_report.py), and UMAP's transform of held-out rows by the report's probes.
@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_every_embedding_keeps_clusters_apart(method: str) -> None:
    x, y = _clusters(n=300)
    coords = embed.METHODS[method](x, 0)["coords"]
    assert coords.shape == (300, 2)
    assert probes.knn(coords[:200], y[:200], coords[200:], y[200:], ks=(5,))[5] > 0.95


def test_stratified_subsample_keeps_class_shares() -> None:
    y = np.repeat([0, 1, 2], [500, 300, 200])
    idx = embed.stratified(y, 100, seed=0)
    assert np.bincount(y[idx]).tolist() == [50, 30, 20] and np.all(np.diff(idx) > 0)
    assert len(embed.stratified(y, 5000, 0)) == 1000

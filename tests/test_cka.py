"""Linear CKA, plain and debiased, against its definition on Gram matrices and its invariances;
CKA across a sweep's configurations and seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ortho_group

from analysis import cka as cka_module
from analysis.cka import cka, matrices
from analysis.results import load_sweep
from analysis.similarity import across_sweep
from tests.conftest import write_trial


def _gram_cka(x: np.ndarray, y: np.ndarray, debiased: bool) -> float:
    """CKA straight from the definition: n x n Gram matrices, centred (or the unbiased HSIC)."""
    k, l = x @ x.T, y @ y.T  # noqa: E741 - the definition's names
    n = len(x)

    def hsic(a: np.ndarray, b: np.ndarray) -> float:
        if not debiased:
            h = np.eye(n) - 1 / n
            return np.trace(a @ h @ b @ h)
        a, b = a - np.diag(np.diag(a)), b - np.diag(np.diag(b))
        one = np.ones(n)
        return (np.trace(a @ b) + one @ a @ one * (one @ b @ one) / ((n - 1) * (n - 2))
                - 2 / (n - 2) * one @ a @ b @ one) / (n * (n - 3))

    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


@pytest.fixture
def xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 12))
    return x, np.tanh(x @ rng.normal(size=(12, 7))) + 0.3 * rng.normal(size=(60, 7))


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_agrees_with_the_gram_matrix_definition(xy, debiased: bool) -> None:
    x, y = xy
    assert cka(x, y, debiased) == pytest.approx(_gram_cka(x, y, debiased), abs=1e-6)


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_of_a_representation_with_itself_is_one(xy, debiased: bool) -> None:
    assert cka(xy[0], xy[0], debiased) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_is_invariant_to_orthogonal_transforms_and_isotropic_scaling(xy, debiased: bool) -> None:
    x, y = xy
    q = ortho_group.rvs(x.shape[1], random_state=1)
    assert cka(3.7 * x @ q, y, debiased) == pytest.approx(cka(x, y, debiased), abs=1e-9)


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_is_not_invariant_to_an_arbitrary_linear_map(xy, debiased: bool) -> None:
    x, y = xy
    stretch = np.diag(np.geomspace(1, 100, x.shape[1]))
    assert abs(cka(x @ stretch, y, debiased) - cka(x, y, debiased)) > 0.05


def test_unrelated_representations_score_low_and_debiasing_removes_the_drift_to_one() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(50, 400)), rng.normal(size=(50, 400))  # more features than rows
    assert cka(x, y) > 0.5  # the plain estimator's bias
    assert abs(cka(x, y, debiased=True)) < 0.1


@pytest.mark.parametrize("floats", [1 << 25, 1000])  # every row in one block, or a few rows a block
def test_matrices_agree_with_the_pairwise_estimators(xy, monkeypatch, floats: int) -> None:
    x, y = xy
    monkeypatch.setattr(cka_module, "_FLOATS", floats)
    layers = {"x": x, "y": y, "both": np.hstack([x, y]), "relu": np.maximum(x + 4, 0)}
    plain, debiased = matrices(layers)
    for m, unbiased in ((plain, False), (debiased, True)):
        assert m.shape == (4, 4) and np.allclose(m, m.T) and np.allclose(np.diag(m), 1)
        for i, a in enumerate(layers.values()):
            for j, b in enumerate(layers.values()):
                assert m[i, j] == pytest.approx(cka(a, b, unbiased), abs=1e-5)


def test_across_the_sweep_every_layer_meets_every_other_and_seeds_meet_their_twin(tmp_path: Path) -> None:
    """Four configurations whose layers transform the same test rows, one of them run again as a
    second seed that learned the very same layers, and once more with dropout: another configuration."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 20)), rng.integers(0, 10, 300)
    (tmp_path / "sweep.json").write_text('{"planned": 5}')
    for trial_id, hidden, seed, weights in (("a", [8], 0, 1), ("b", [8, 2], 0, 2), ("c", [6, 4], 0, 3),
                                            ("d", [5], 0, 4), ("twin", [8, 2], 1, 2), ("dropped", [8, 2], 1, 2)):
        write_trial(tmp_path, trial_id, hidden, seed, 0.9)
        if trial_id == "dropped":
            params = tmp_path / "trials" / trial_id / "params.json"
            params.write_text(params.read_text().replace('"dropout": 0.0', '"dropout": 0.3'))
        draw, h, acts = np.random.default_rng(weights), x, {"y_test": y}
        for i, width in enumerate(hidden, 1):
            h = np.maximum(h @ draw.normal(size=(h.shape[1], width)), 0)
            acts[f"hidden_{i}_test"] = h.astype(np.float16)
        np.savez(tmp_path / "trials" / trial_id / "activations.npz", **acts)

    (found,) = across_sweep(load_sweep(tmp_path), tmp_path / "cache")
    assert len(found.layers.names) == 8  # the hidden layers of the five configurations, one seed each
    assert "784-8-2-10 h2 dropout 0.3 hidden_1" in found.layers.names
    assert np.allclose(found.layers.plain, found.layers.plain.T) and np.allclose(np.diag(found.layers.plain), 1)
    assert len(found.layers.pairs()) == 28
    stable = found.seeds
    assert len(stable) == 2 and (stable.seeds == 2).all()
    assert (stable.configuration == "784-8-2-10 h2 dropout 0.0").all()
    assert np.allclose(stable["mean"], 1)
    again = across_sweep(load_sweep(tmp_path), tmp_path / "cache")[0]  # read back from the cache
    assert again.layers.names == found.layers.names and np.array_equal(again.layers.debiased, found.layers.debiased)

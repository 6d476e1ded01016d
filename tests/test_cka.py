"""Linear CKA, plain and debiased, against its definition on Gram matrices and its invariances;
CKA across a sweep's configurations and seeds."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ortho_group

from analysis.cka import cka, matrix
from analysis.results import load_sweep
from analysis.similarity import across_sweep
from sweep.folder import SweepFolder


def _gram_cka(x: np.ndarray, y: np.ndarray, debiased: bool) -> float:
    """CKA straight from the definition: n x n Gram matrices, centred (or the unbiased HSIC)."""
    k, l = x @ x.T, y @ y.T
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


def test_matrix_is_symmetric_with_a_unit_diagonal(xy) -> None:
    x, y = xy
    m = matrix({"x": x, "y": y, "both": np.hstack([x, y])})
    assert m.shape == (3, 3) and np.allclose(m, m.T) and np.allclose(np.diag(m), 1)
    assert m[0, 1] == pytest.approx(cka(x, y))


def test_across_the_sweep_every_layer_meets_every_other_and_seeds_meet_their_twin(smoke_sweep: Path,
                                                                                   tmp_path: Path) -> None:
    sweep_dir = tmp_path / "smoke"
    shutil.copytree(smoke_sweep, sweep_dir)
    folder = SweepFolder(sweep_dir)
    original = folder.trials()[0]
    twin = folder.trial("twin")  # the same run filed as a second seed: its layers equal the first's
    shutil.copytree(original.path, twin.path)
    twin.write_params(original.read_params() | {"seed": 1, "trial_id": "twin"})
    twin.write_metrics(original.read_metrics() | {"seed": 1, "trial_id": "twin"})

    (found,) = across_sweep(load_sweep(sweep_dir), tmp_path / "cache")
    assert len(found.layers.names) == 6  # the hidden layers of the four configurations, one seed each
    assert np.allclose(found.layers.plain, found.layers.plain.T) and np.allclose(np.diag(found.layers.plain), 1)
    assert len(found.layers.pairs()) == 15
    stable = found.seeds
    assert len(stable) == len(original.read_params()["hidden"]) and (stable.seeds == 2).all()
    assert np.allclose(stable["mean"], 1)
    again = across_sweep(load_sweep(sweep_dir), tmp_path / "cache")[0]  # read back from the cache
    assert again.layers.names == found.layers.names and np.array_equal(again.layers.debiased, found.layers.debiased)

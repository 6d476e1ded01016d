from __future__ import annotations

import numpy as np
import pytest

from sweep.config import resolve
from sweep.errors import SpaceError
from sweep.space import Distribution
from sweep.space_file import load_space
from tests.conftest import SPACES


@pytest.mark.parametrize("name, trials", [("study_a", 11), ("study_b", 2), ("smoke", 4), ("widths", 72)])
def test_shipped_spaces_expand(name: str, trials: int) -> None:
    assert len(load_space(SPACES / f"{name}.yaml").trials()) == trials


def test_study_a_settings() -> None:
    """The notebook's protocol: 4,998 validation rows (12,000 for exp0 and exp4, exp4's drawn at
    random), reductions fitted on every training row, the forest as scikit-learn's default on one-hot
    labels with random_state 42."""
    trials = load_space(SPACES / "study_a.yaml").trials()
    assert [t.hidden for t in trials[:4]] == [(128,), (128, 1), (128, 2), (128, 5)]
    assert {(t.optimizer, t.batch_size, t.patience, t.max_epochs) for t in trials} == {("rmsprop", 32, 2, 200)}
    assert [t.validation_rows(60000) for t in trials] == [12000] + [4998] * 3 + [12000] + [4998] * 6
    exp4, exp5 = trials[4], trials[5]
    assert (exp4.reduction, exp4.reduction_k, exp4.reduction_rows, exp4.validation_from) == (
        "pca", 154, "train", "random")
    assert (exp5.reduction, exp5.reduction_k, exp5.reduction_rows, exp5.forest_rows, exp5.forest_labels,
            exp5.forest_seed) == ("rf", 70, "train", 1.0, "onehot", 42)


def test_study_b_settings() -> None:
    """train_test_split(train_size=5/6), seeded by the trial; KNN read as the one-hot fit does."""
    trials = load_space(SPACES / "study_b.yaml").trials()
    assert {(t.validation_rows(60000), t.validation_from) for t in trials} == {(10000, "random")}
    from analysis.plan import parse

    space = load_space(SPACES / "study_b.yaml")
    assert parse(space.analysis, "study_b").vote == "majority"


def test_a_child_starts_from_the_parent_of_its_seed_and_grid_values(write_space) -> None:
    """Study B's Fashion-MNIST trial starts from its seed's MNIST trial; where the parent's label
    spans a grid, each child from the parent with its own grid values."""
    study = load_space(SPACES / "study_b.yaml", seeds=(0, 1))
    trials = study.trials()
    assert [(trials[i].seed, trials[p].dataset) for i, p in enumerate(study.parents()) if p is not None] == [
        (0, "mnist"), (1, "mnist")]
    space = load_space(write_space("params: {dropout: {grid: [0.0, 0.5]}}\n"
                                   "experiments: [{label: a}, {label: b, init_from: a, max_epochs: 3}]"))
    trials = space.trials()
    pairs = [(trials[i].dropout, trials[p].dropout) for i, p in enumerate(space.parents()) if p is not None]
    assert sorted(pairs) == [(0.0, 0.0), (0.5, 0.5)]


def test_validation_fraction_counts_as_keras(write_space) -> None:
    """A fraction leaves floor(rows x (1 - fraction)) to fit, as Keras' validation_split."""
    config = resolve({"validation": 1 / 6, "validation_from": "random", "seed": 2})
    rows = config.split(60000)
    assert (len(rows.fit), len(rows.validation)) == (50000, 10000)
    again = resolve({"validation": 10000, "validation_from": "random", "seed": 5, "split_seed": 2}).split(60000)
    assert np.array_equal(rows.validation, again.validation)  # split_seed, not the trial's seed
    assert resolve({"validation": 0.0833}).validation_rows(60000) == 4998


def test_seeds_multiply_and_run_outermost(write_space) -> None:
    path = write_space("seeds: [0, 1, 2]\nparams:\n  dropout: {grid: [0.0, 0.5]}\n")
    space = load_space(path)
    assert [(t.seed, t.dropout) for t in space.trials()] == [(0, 0.0), (0, 0.5), (1, 0.0), (1, 0.5), (2, 0.0), (2, 0.5)]
    assert len(load_space(path, seeds=(7,)).trials()) == 2


@pytest.mark.parametrize("text, check", [
    ("params: {width: 64, depth: 2, bottleneck: 5}", lambda t: t.hidden == (64, 64, 5)),
    ("params: {width: 64, bottleneck: 0}", lambda t: t.hidden == (64,)),
    ("params: {hidden: [8, 4], patience: null}", lambda t: t.hidden == (8, 4) and t.patience is None),
    ("params: {reduction: pca, reduction_k: 30}", lambda t: t.input_dim == 30),
    ("params: {dropout: 0, learning_rate: 1.0e-2}", lambda t: t.dropout == 0.0 and t.learning_rate == 0.01),
])
def test_values_resolve(write_space, text: str, check) -> None:
    (trial,) = load_space(write_space(text)).trials()
    assert check(trial)


def test_random_draws_are_seeded_and_in_range(write_space) -> None:
    text = "search: random\nnum_samples: 20\nparams:\n  learning_rate: {loguniform: [1.0e-4, 1.0e-2]}\n" \
           "  batch_size: {randint: [16, 64]}\n  optimizer: {choice: [adam, sgd]}\n"
    first = load_space(write_space(text)).trials()
    assert first == load_space(write_space(text)).trials()
    assert all(1e-4 <= t.learning_rate <= 1e-2 and 16 <= t.batch_size <= 64 for t in first)
    assert {t.optimizer for t in first} == {"adam", "sgd"}


def test_distribution_sampling_types() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    assert isinstance(Distribution("randint", (1, 3)).sample(rng), int)
    assert Distribution("choice", ((128,), (64,))).sample(rng) in ((128,), (64,))


@pytest.mark.parametrize("text, message", [
    ("params: {colour: red}", "unknown parameter 'colour'"),
    ("optimiser: adam", "unknown key 'optimiser'"),
    ("params: {batch_size: big}", "batch_size must be an integer, got 'big'"),
    ("params: {batch_size: 1.5}", "batch_size must be an integer"),
    ("params: {hidden: [128, 0]}", "hidden must be >= 1, got 0"),
    ("params: {hidden: 128}", "hidden must be a non-empty list"),
    ("params: {dropout: 1.0}", "dropout must be < 1, got 1.0"),
    ("params: {dropout: -0.1}", "dropout must be >= 0"),
    ("params: {dataset: cifar}", "unknown dataset 'cifar'; choose one of"),
    ("params: {reduction: tsne, reduction_k: 5}", "reduction must be one of none, pca, rf"),
    ("params: {reduction: pca}", "reduction pca needs reduction_k"),
    ("params: {reduction: pca, reduction_k: 785}", "reduction_k between 1 and 784 (mnist: 784 features"),
    ("params: {learning_rate: 0}", "learning_rate must be > 0"),
    ("params: {dropout: {uniform: [0.5, 0.1]}}", "needs low < high"),
    ("params: {batch_size: {uniform: [16, 64]}}", "uniform does not fit this parameter; use randint"),
    ("params: {dropout: {normal: [0, 1]}}", "must be a value or one of"),
    ("params: {hidden: [8], width: 8}", "either hidden or width/depth/bottleneck"),
    ("params: {seed: 3}", "set seeds at the top level"),
    ("search: bayes", "search must be one of grid, random, optuna"),
    ("seeds: 3", "seeds must be a non-empty list"),
    ("seeds: [0, -1]", "seeds must be >= 0"),
    ("experiments: [{hidden: [0]}]", "experiments[0]: hidden must be >= 1"),
    ("search: optuna\nseeds: [0, 1]", "an optuna search takes one seed"),
    ("search: optuna\nparams: {dropout: {grid: [0.1, 0.2]}}", "grid is not drawn by optuna"),
    ("params: [1, 2]", "params must be a mapping"),
    ("- a\n- b", "expected a mapping"),
    ("", "the file is empty"),
    ("params:\n  dropout: [0.1\n", "YAML syntax error at line"),
])
def test_bad_spaces_name_file_and_key(write_space, text: str, message: str) -> None:
    path = write_space(text)
    with pytest.raises(SpaceError) as info:
        load_space(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_space_file(tmp_path) -> None:
    with pytest.raises(SpaceError, match="no such space file"):
        load_space(tmp_path / "nope.yaml")


def test_resolve_checks_overrides() -> None:
    with pytest.raises(SpaceError, match="max_epochs must be >= 1"):
        resolve({"max_epochs": 0})

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from sweep.config import resolve
from sweep.folder import TrialFolder
from sweep.model import build_mlp, compile_mlp, hidden_model


@pytest.mark.parametrize("hidden, params", [((128,), 101_770), ((128, 1), 100_629), ((256, 64), 218_058)])
def test_parameter_counts_match_keras(hidden: tuple[int, ...], params: int) -> None:
    model = build_mlp(resolve({"hidden": list(hidden)}))
    reference = keras.Sequential([keras.Input((784,)), *[keras.layers.Dense(w, activation="relu") for w in hidden],
                                  keras.layers.Dense(10, activation="softmax")])
    assert model.count_params() == reference.count_params() == params


def test_layers_dropout_and_reduced_input() -> None:
    cfg = resolve({"hidden": [16, 4], "dropout": 0.5, "reduction": "pca", "reduction_k": 20})
    model = build_mlp(cfg)
    assert model.input_shape == (None, 20)
    assert [layer.name for layer in model.layers[1:]] == ["hidden_1", "dropout_1", "hidden_2", "dropout_2", "output"]
    assert cfg.layer_names == ["hidden_1", "hidden_2"]


def test_hidden_model_matches_a_manual_forward_pass() -> None:
    cfg = resolve({"hidden": [8, 3], "dropout": 0.5})
    model = build_mlp(cfg)
    compile_mlp(model, cfg)
    x = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    h1, h2 = hidden_model(model, cfg.layer_names).predict(x, verbose=0)
    w1, b1 = model.get_layer("hidden_1").get_weights()
    w2, b2 = model.get_layer("hidden_2").get_weights()
    expect1 = np.maximum(x @ w1 + b1, 0)
    assert np.allclose(h1, expect1, atol=1e-5)
    assert np.allclose(h2, np.maximum(expect1 @ w2 + b2, 0), atol=1e-5)


@pytest.mark.slow  # three trials, each compiling its steps
def test_a_reused_process_trains_a_configuration_the_same_way_again(tmp_path) -> None:
    """Trial processes serve many trials: seeding must not depend on what ran before."""
    import pandas as pd

    from sweep.trainable import run

    base = {"dataset": "mnist_small", "validation": 1000, "max_epochs": 1, "patience": None}
    first, other = resolve({**base, "hidden": [16, 4], "dropout": 0.3}), resolve({**base, "hidden": [32], "seed": 1})
    histories = []
    for i, cfg in enumerate([first, other, first]):
        run(cfg, TrialFolder(tmp_path / str(i)))
        histories.append(pd.read_csv(tmp_path / str(i) / "history.csv").drop(columns="seconds"))
    pd.testing.assert_frame_equal(histories[0], histories[2])
    assert not histories[0].equals(histories[1])


# One short trial in a fresh process whose compiled JAX steps go to the cache folder argv[1].
CACHED_RUN = """
import sys
from pathlib import Path
from sweep.backend import cache_compiles, configure
configure("jax")
cache_compiles(Path(sys.argv[1]))
from sweep.config import resolve
from sweep.folder import TrialFolder
from sweep.trainable import run
cfg = resolve({"dataset": "mnist_small", "validation": 1000, "max_epochs": 1, "patience": None, "hidden": [16]})
run(cfg, TrialFolder(Path(sys.argv[2])))
"""


@pytest.mark.slow  # two processes, each importing Keras and JAX
@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX's compilation cache")
def test_a_later_process_loads_the_compiled_steps_instead_of_compiling(tmp_path) -> None:
    import pandas as pd

    cache, entries, histories = tmp_path / "cache", [], []
    for i in range(2):
        subprocess.run([sys.executable, "-c", CACHED_RUN, str(cache), str(tmp_path / str(i))], check=True)
        entries.append(sorted(p.name for p in cache.iterdir()))
        histories.append(pd.read_csv(tmp_path / str(i) / "history.csv").drop(columns="seconds"))
    assert any(name.startswith("jit_train_step") for name in entries[0])
    assert entries[1] == entries[0]  # the second process compiled nothing new
    pd.testing.assert_frame_equal(histories[0], histories[1])


@pytest.mark.slow  # a second Keras backend in a process of its own
@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="this is the run on TensorFlow")
@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason='needs pip install -e ".[tensorflow]"')
def test_the_model_tests_pass_on_tensorflow() -> None:
    """The backend a user may choose: this file's tests of the model and the trial again, in a process
    whose Keras runs on TensorFlow (the tests of processes are about JAX's compiling and seeding)."""
    run = subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider",
                          "-k", "not process"],
                         env={**os.environ, "KERAS_BACKEND": "tensorflow"}, capture_output=True, text=True,
                         timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-3000:]
    assert " passed" in run.stdout.splitlines()[-1]  # exit 0: nothing failed; and tests did run


def test_a_trial_trains_the_model_plain_keras_does(tmp_path) -> None:
    """The whole trainable (data, split, model, fused loop, early stopping) against a plain Keras
    Sequential and its own `fit`, one step per call, from the same seed: the same final weights."""
    from sweep import data
    from sweep.trainable import run

    cfg = resolve({"dataset": "mnist_small", "validation": 1000, "hidden": [16, 4], "max_epochs": 4, "patience": 1})
    metrics = run(cfg, TrialFolder(tmp_path))
    trained = keras.saving.load_model(tmp_path / "model.keras").get_weights()

    x, y = data.features("mnist_small"), data.load("mnist_small").y_train
    n_fit = len(y) - cfg.validation
    keras.utils.set_random_seed(cfg.seed)
    plain = keras.Sequential([keras.Input((784,)), *[keras.layers.Dense(w, activation="relu") for w in cfg.hidden],
                              keras.layers.Dense(10, activation="softmax")])
    plain.compile(optimizer=keras.optimizers.RMSprop(cfg.learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = plain.fit(x[:n_fit], y[:n_fit], batch_size=cfg.batch_size, epochs=cfg.max_epochs, verbose=0,
                        validation_data=(x[n_fit:len(y)], y[n_fit:]),
                        callbacks=[keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=cfg.patience)])
    assert metrics["epochs"] == len(history.history["loss"])
    for ours, theirs in zip(trained, plain.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=2e-5)


def test_a_random_split_trains_and_validates_on_its_own_rows(tmp_path) -> None:
    """`validation_from: random`: the trial validates on the rows its split draws, and its saved
    training activations are of the rows it fitted, by their index in the training set."""
    from sweep import data
    from sweep.trainable import run

    cfg = resolve({"dataset": "mnist_small", "validation": 0.2, "validation_from": "random", "hidden": [16],
                   "max_epochs": 1, "patience": None, "seed": 3})
    metrics = run(cfg, TrialFolder(tmp_path))
    rows, ds = cfg.split(6000), data.load("mnist_small")
    assert (len(rows.fit), len(rows.validation)) == (4800, 1200)
    with np.load(tmp_path / "activations.npz") as acts:
        assert np.array_equal(acts["index_train"], rows.fit)
        assert np.array_equal(acts["y_train"], ds.y_train[rows.fit])
    model = keras.saving.load_model(tmp_path / "model.keras")
    x = data.features("mnist_small")[rows.validation]
    accuracy = (model.predict(x, verbose=0).argmax(1) == ds.y_train[rows.validation]).mean()
    assert metrics["val_accuracy"] == pytest.approx(accuracy, abs=1e-6)


def test_continuing_from_a_saved_model_carries_its_weights_and_optimizer_state(tmp_path) -> None:
    """As `fit` called again on the saved model: its weights, Adam's step count and moments; the
    learning rate is the new trial's own."""
    from sweep.trainable import continue_from

    parent, child = (resolve({"hidden": [8], "optimizer": "adam", "learning_rate": lr}) for lr in (1e-3, 5e-4))
    trained = build_mlp(parent)
    compile_mlp(trained, parent)
    x, y = np.random.default_rng(0).random((64, 784), np.float32), np.arange(64) % 10
    trained.fit(x, y, batch_size=16, epochs=2, verbose=0)
    trained.save(tmp_path / "model.keras")
    model = build_mlp(child)
    compile_mlp(model, child)
    continue_from(model, tmp_path / "model.keras", child.learning_rate)
    for ours, theirs in zip(model.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert int(model.optimizer.iterations.numpy()) == 8
    moments = [v for v in model.optimizer.variables if "momentum" in v.path]
    assert moments and all(np.abs(v.numpy()).sum() > 0 for v in moments)
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(5e-4)
    fresh = build_mlp(resolve({"hidden": [8], "optimizer": "sgd"}))
    compile_mlp(fresh, resolve({"hidden": [8], "optimizer": "sgd"}))
    continue_from(fresh, tmp_path / "model.keras", 0.01)  # another optimizer: the weights alone
    np.testing.assert_array_equal(fresh.get_weights()[0], trained.get_weights()[0])
    assert int(fresh.optimizer.iterations.numpy()) == 0

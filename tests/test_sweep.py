"""End to end: the smoke space through the command line and real Ray Tune."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlp_sweep import main
from tests.conftest import SPACES

pytestmark = pytest.mark.slow

ARTIFACTS = {"params.json", "metrics.json", "history.csv", "confusion.npz", "model.keras", "activations.npz"}


def test_every_trial_has_its_artifacts(smoke_sweep: Path) -> None:
    trials = sorted((smoke_sweep / "trials").iterdir())
    assert len(trials) == 4
    for folder in trials:
        assert ARTIFACTS <= {p.name for p in folder.iterdir()}
        assert not [p for p in folder.iterdir() if ".tmp" in p.name]
        params = json.loads((folder / "params.json").read_text())
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["status"] == "completed" and metrics["trial_id"] == folder.name
        assert metrics["hidden"] == params["hidden"] and metrics["epochs"] == 2 and metrics["backend"] == "jax"
        low = 0.1 if metrics["label"] == "bottleneck" else 0.5  # two units after two epochs may learn little
        assert low < metrics["test_accuracy"] <= 1.0 and metrics["n_params"] > 0
        assert {"test_loss", "best_epoch", "train_seconds", "dropout", "input_reduction", "dataset", "seed",
                "node"} <= set(metrics)
        history = pd.read_csv(folder / "history.csv")
        assert list(history.epoch) == [1, 2]
        assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history.columns)
        _check_arrays(folder, params, metrics)


def _check_arrays(folder: Path, params: dict, metrics: dict) -> None:
    with np.load(folder / "activations.npz", allow_pickle=False) as acts:
        assert np.array_equal(acts["index_train"], np.arange(5000))
        assert acts["y_test"].shape == acts["pred_test"].shape == (1000,)
        for i, width in enumerate(params["hidden"], start=1):
            train, test = acts[f"hidden_{i}_train"], acts[f"hidden_{i}_test"]
            assert train.shape == (5000, width) and test.shape == (1000, width)
            assert train.dtype == np.float16 and np.isfinite(test).all() and test.min() >= 0  # relu
        assert np.isclose((acts["pred_test"] == acts["y_test"]).mean(), metrics["test_accuracy"])
    with np.load(folder / "confusion.npz", allow_pickle=False) as conf:
        assert conf["train"].sum() == 5000 and conf["test"].sum() == 1000
        assert np.isclose(np.trace(conf["test"]) / 1000, metrics["test_accuracy"])


def test_saved_model_reproduces_test_predictions(smoke_sweep: Path) -> None:
    import keras

    from sweep import data, reduce
    from sweep.config import resolve

    folder = next(p for p in (smoke_sweep / "trials").iterdir()
                  if json.loads((p / "params.json").read_text())["reduction"] == "pca")
    params = json.loads((folder / "params.json").read_text())
    model = keras.saving.load_model(folder / "model.keras", safe_mode=True)
    cfg = resolve({k: v for k, v in params.items() if k not in ("trial_id", "trial_name")})
    red = reduce.load(smoke_sweep / "reductions" / f"{reduce.key(cfg)}.npz")
    x = red.transform(data.pixels(data.load("mnist_small").x_test))
    with np.load(folder / "activations.npz") as acts:
        assert np.array_equal(model.predict(x, verbose=0).argmax(1), acts["pred_test"])


def test_existing_sweep_is_refused(smoke_sweep: Path, capsys) -> None:
    code = main(["run", str(SPACES / "smoke.yaml"), "--results", str(smoke_sweep.parent)])
    assert code == 2 and "the sweep exists; pass --resume" in capsys.readouterr().err

from __future__ import annotations

import keras
import numpy as np
import pytest

from sweep import data, steps
from sweep.config import resolve
from sweep.model import build_mlp, compile_mlp


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the fused loop is JAX's")
# With dropout only the loop's shape is compared (11 s): the slow tier runs it.
@pytest.mark.parametrize("dropout, batch", [(0.0, 32), pytest.param(0.3, 32, marks=pytest.mark.slow), (0.0, 300)])
def test_fused_steps_train_as_keras_own_loop(dropout: float, batch: int) -> None:
    """1,000 rows at batch 32: 31 full batches and one of 8 rows, padded with weightless rows; at batch
    300, one call of 4 batches (not 8), the last of 100 rows."""
    cfg = resolve({"dataset": "mnist_small", "hidden": [16, 4], "dropout": dropout})
    x, y = data.features("mnist_small")[:1200], data.load("mnist_small").y_train[:1200]
    runs = []
    for fit in (steps.fit, keras.Model.fit):
        keras.utils.set_random_seed(0)  # the same initial weights and shuffles
        model = build_mlp(cfg)
        compile_mlp(model, cfg, steps_per_execution=8)
        history = fit(model, x[:1000], y[:1000], batch_size=batch, epochs=3, validation_data=(x[1000:], y[1000:]),
                      verbose=0)
        assert model.steps_per_execution == 8
        runs.append((model.get_weights(), history.history))
    (fused, fused_log), (plain, plain_log) = runs
    if not dropout:  # dropout draws its masks per padded batch, so only the dropout-free model matches
        for a, b in zip(fused, plain):
            np.testing.assert_allclose(a, b, atol=1e-5)
        for key, values in plain_log.items():
            np.testing.assert_allclose(fused_log[key], values, atol=1e-5, err_msg=key)
    assert fused_log.keys() == plain_log.keys() == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(fused_log["loss"]) == 3 and np.isfinite(fused_log["loss"]).all()

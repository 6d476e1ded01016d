"""`model.fit` with many training steps per compiled call on the JAX backend.

Keras 3 on JAX runs `steps_per_execution` as a Python loop: per batch it slices the data, calls
the compiled train step, and it compiles that step again for the epoch's smaller last batch.
Here Keras hands over `steps_per_execution` batches at once (it shuffles once per epoch and
slices in order, so one batch of `steps * batch_size` rows is `steps` batches back to back),
and one compiled `fori_loop` runs Keras' own `train_step` on each. The last batch is padded to
full size with rows of sample weight 0; with the loss reduced by `mean_with_sample_weight` and
accuracy a weighted metric, training matches Keras' loop to float rounding, and so do the logged
loss and accuracy (the loss tracker, which counts a batch's rows, is corrected for the padding).
This saves the per-batch Python work and one compilation per model (figures in the README).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import keras
import numpy as np


def fit(model: keras.Model, x: np.ndarray, y: np.ndarray, *, batch_size: int, **kwargs: Any) -> keras.callbacks.History:
    """`model.fit(x, y, batch_size=batch_size, **kwargs)`, with the model's `steps_per_execution`
    batches in one compiled call on JAX (other backends compile that loop themselves; weighted
    samples or classes take Keras' own loop)."""
    # No more batches per call than the data has: the padded last call stays below len(x) + batch_size rows.
    steps = min(model.steps_per_execution, -(-len(x) // batch_size))
    if keras.backend.backend() != "jax" or steps == 1 or {"sample_weight", "class_weight"} & kwargs.keys():
        return model.fit(x, y, batch_size=batch_size, **kwargs)
    per_execution = model.steps_per_execution
    model.steps_per_execution, model.train_function = 1, _train_function(model, batch_size, steps)
    try:
        return model.fit(x, y, batch_size=steps * batch_size, **kwargs)
    finally:
        model.steps_per_execution, model.train_function = per_execution, None


def _train_function(model: keras.Model, batch_size: int, steps: int) -> Callable[[Any, Iterator], tuple[Any, Any]]:
    """A `model.train_function` that trains Keras' next batch as up to `steps` batches of `batch_size`."""
    tracker = next(m for m in model.metrics if m.name == "loss")

    def train_steps(state, xs, ys, ws, count):
        # `train_step` logs the running metrics; trace it once more for their structure.
        shapes = jax.eval_shape(model.train_step, state, (xs[0], ys[0], ws[0]))[0]
        counted = [any(v is t for t in tracker.variables) for v in model.metrics_variables]

        def body(i, carried):
            before = carried[0][3]
            logs, state = model.train_step(carried[0], (xs[i], ys[i], ws[i]))
            share = ws[i].sum() / batch_size  # the loss tracker weighs a batch by its padded size
            metrics = [jnp.where(share < 1, b + (a - b) * share, a) if c else a
                       for a, b, c in zip(state[3], before, counted)]
            return (*state[:3], metrics), logs

        logs = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        state, logs = jax.lax.fori_loop(0, count, body, (state, logs))
        return logs, state

    compiled = jax.jit(train_steps, donate_argnums=0)
    size = steps * batch_size
    full = np.ones((steps, batch_size), np.float32)

    def train_function(state, iterator: Iterator) -> tuple[Any, Any]:
        x, y = next(iterator)
        rows, weights = len(x), full
        if rows < size:  # the epoch's last: pad with weightless rows
            x, y = (np.pad(a, [(0, size - rows)] + [(0, 0)] * (a.ndim - 1)) for a in (x, y))
            weights = (np.arange(size) < rows).astype(np.float32).reshape(steps, batch_size)
        xs, ys = (a.reshape(steps, batch_size, *a.shape[1:]) for a in (x, y))
        return compiled(state, xs, ys, weights, -(-rows // batch_size))

    return train_function

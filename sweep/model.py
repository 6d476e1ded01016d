"""The MLP: `build_mlp(config)` makes it, `compile_mlp(model, config)` readies it to train.

Keras 3 API only, so the backend (JAX, TensorFlow, PyTorch) is a setting. Import this module
only after `sweep.backend.configure()`, which must run before Keras is first imported.
"""

from __future__ import annotations

import keras
import numpy as np

from sweep.space import CLASSES, TrialConfig

OPTIMIZERS = {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}


@keras.saving.register_keras_serializable(package="mlp_sweep")
class GlorotUniform(keras.initializers.GlorotUniform):
    """Keras' default Dense kernel initializer, drawn by NumPy from an integer seed.

    Same distribution; JAX would compile a random kernel for every new weight shape instead
    (about 0.3 s each, a second per model on this project's machines).
    """

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = shape
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return np.random.default_rng(self.seed).uniform(-limit, limit, shape).astype(dtype or "float32")


def build_mlp(config: TrialConfig) -> keras.Model:
    """Input -> [Dense(width, activation) -> Dropout]* -> Dense(10, softmax)."""
    inputs = keras.Input(shape=(config.input_dim,), name="input")
    x = inputs
    for i, (name, width) in enumerate(zip(config.layer_names, config.hidden)):
        x = keras.layers.Dense(width, activation=config.activation, name=name,
                               kernel_initializer=GlorotUniform(seed=_layer_seed(config, i)))(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, seed=config.seed, name=name.replace("hidden", "dropout"))(x)
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="output",
                                 kernel_initializer=GlorotUniform(seed=_layer_seed(config, len(config.hidden))))(x)
    return keras.Model(inputs, outputs, name="mlp")


def _layer_seed(config: TrialConfig, layer: int) -> int:
    return config.seed * 1000 + layer


def compile_mlp(model: keras.Model, config: TrialConfig, steps_per_execution: int = 1) -> None:
    """Sparse categorical cross-entropy: the studies' categorical loss without one-hot labels.

    Loss and accuracy honour sample weights (`sweep.steps` pads a short batch with weightless
    rows); without weights they are Keras' defaults.
    """
    model.compile(
        optimizer=OPTIMIZERS[config.optimizer](learning_rate=config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight"),
        weighted_metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
        jit_compile=True,
    )


def hidden_model(model: keras.Model, names: list[str]) -> keras.Model:
    """A model from the same input to every hidden layer's output (dropout is off at inference)."""
    return keras.Model(model.input, [model.get_layer(n).output for n in names])

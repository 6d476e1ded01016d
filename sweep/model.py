"""The MLP: `build_mlp(config)` makes it, `compile_mlp(model, config)` readies it to train.

Keras 3 API only, so the backend (JAX, TensorFlow, PyTorch) is a setting. Import this module
only after `sweep.backend.configure()`, which must run before Keras is first imported.
"""

from __future__ import annotations

import keras

from sweep.config import TrialConfig

OPTIMIZERS = {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}


def build_mlp(config: TrialConfig) -> keras.Model:
    """Input -> [Dense(width, activation) -> Dropout]* -> Dense(classes, softmax).

    Keras' own initializers and layer seeds, drawn in the order a `keras.Sequential` of the same
    layers draws them: after `keras.utils.set_random_seed(seed)` this is the very model plain
    Keras builds, weight for weight (`bench/fidelity.py`, `tests/test_model.py`).
    """
    inputs = keras.Input(shape=(config.input_dim,), name="input")
    x = inputs
    for name, width in zip(config.layer_names, config.hidden):
        x = keras.layers.Dense(width, activation=config.activation, name=name)(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=name.replace("hidden", "dropout"))(x)
    outputs = keras.layers.Dense(config.classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="mlp")


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

"""A trial's configuration: every parameter it reads, the rule each value must keep, and its names.

`resolve(values)` turns one flat mapping of fixed values into a checked `TrialConfig`; each
rule break is a `SpaceError` naming where the value came from, the parameter and what it allows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from sweep import data
from sweep.errors import SpaceError, SweepError
from sweep.formats import Spec

REDUCTIONS = ("none", "pca", "rf")
SPLITS = ("end", "random")
MAX_SEED = 2**32 - 1  # NumPy's and Keras' seeding take 32 bits
SHORTHAND = ("width", "depth", "bottleneck")  # resolved into `hidden`
# Rows a trial fits on at least: the report's KNN probes look for up to 10 neighbours among them.
MIN_FIT_ROWS = 20


def _param(default: Any, kind: str, **rule: Any) -> Any:
    return field(default=default, metadata={"kind": kind, **rule})


@dataclass(frozen=True)
class TrialConfig:
    """Everything one trial needs; `sweep.trainable` reads nothing else."""

    # A shipped data set's name, or the user's own: a path, or a mapping (`sweep.formats.Spec`).
    dataset: str = _param("mnist", "dataset")
    hidden: tuple[int, ...] = _param((128,), "widths")  # hidden layer widths, input to output
    dropout: float = _param(0.0, "float", low=0.0, below=1.0)  # after every hidden layer; 0 = none
    activation: str = _param("relu", "str", choices=("relu", "tanh", "sigmoid", "elu", "gelu"))
    optimizer: str = _param("rmsprop", "str", choices=("rmsprop", "adam", "sgd"))
    learning_rate: float = _param(1e-3, "float", above=0.0)
    batch_size: int = _param(32, "int", low=1)
    max_epochs: int = _param(200, "int", low=1)
    patience: int | None = _param(2, "int?", low=0)  # early stopping on val_accuracy; null = off
    restore_best: bool = _param(False, "bool")  # keep the best epoch's weights (Keras' option)
    # Training rows held out to validate: a count, or a fraction of the training rows (0 < f < 1).
    validation: int | float = _param(5000, "rows", low=1)
    validation_from: str = _param("end", "str", choices=SPLITS)  # the last rows, as Keras, or drawn at random
    split_seed: int | None = _param(None, "int?", low=0, high=MAX_SEED)  # the random split's seed; null: `seed`
    reduction: str = _param("none", "str", choices=REDUCTIONS)  # input reduction
    reduction_k: int = _param(0, "int", low=0)  # PCA components or the forest's top features
    # What a reduction is fitted on: the rows the trial fits on, or every training row (validation too).
    reduction_rows: str = _param("fit", "str", choices=("fit", "train"))
    # The share of rows each tree sees. A quarter is 3.4x less work than all, and its top 70 MNIST
    # pixels share 53 of 70 with a forest on all rows, as many as two all-row forests with different
    # seeds share (52-56).
    forest_rows: float = _param(0.25, "float", above=0.0, high=1.0)
    forest_labels: str = _param("integer", "str", choices=("integer", "onehot"))  # the forest's targets
    forest_seed: int | None = _param(None, "int?", low=0, high=MAX_SEED)  # null: `seed`
    keep_train: int | None = _param(None, "int?", low=1)  # train rows whose activations are kept
    activation_dtype: str = _param("float16", "str", choices=("float16", "float32"))
    seed: int = _param(0, "int", low=0, high=MAX_SEED)
    label: str = _param("", "str")  # a name for this configuration in tables
    init_from: str = _param("", "str")  # the label of the trial whose end this one starts from ("": fresh)
    # Shorthand for `hidden`: `depth` layers of `width`, then a `bottleneck` layer if > 0.
    width: int | None = _param(None, "int?", low=1)
    depth: int | None = _param(None, "int?", low=1)
    bottleneck: int | None = _param(None, "int?", low=0)

    @property
    def input_dim(self) -> int:
        return data.info(self.dataset).features if self.reduction == "none" else self.reduction_k

    @property
    def classes(self) -> int:
        """Units of the output layer: the data set's classes."""
        return data.info(self.dataset).classes

    def validation_rows(self, train_rows: int) -> int:
        """Rows held out of `train_rows`: the count, or what a fraction leaves after the rows fitted,
        `floor(rows x (1 - fraction))`, as Keras' `validation_split` and `train_test_split` count."""
        if isinstance(self.validation, int):
            return self.validation
        return train_rows - math.floor(train_rows * (1.0 - self.validation))

    def split(self, train_rows: int) -> data.Split:
        """Which of `train_rows` training rows are fitted on and which validate."""
        return data.split(train_rows, self.validation_rows(train_rows), self._split_seed)

    @property
    def split_key(self) -> str:
        """The validation split in a cache key: `v5000`, `v0.2`, `v10000-random7` (drawn with seed 7)."""
        return f"v{self.validation:g}" + ("" if self._split_seed is None else f"-random{self._split_seed}")

    @property
    def _split_seed(self) -> int | None:
        if self.validation_from == "end":
            return None
        return self.seed if self.split_seed is None else self.split_seed

    @property
    def input_reduction(self) -> str:
        """`none`, or the reduction and its size: `pca154`, `rf70`."""
        return "none" if self.reduction == "none" else f"{self.reduction}{self.reduction_k}"

    @property
    def architecture(self) -> str:
        """Layer widths input to output, `784-128-5-10`, with a reduced input named: `pca154-128-5-10`."""
        inputs = str(self.input_dim) if self.reduction == "none" else self.input_reduction
        return "-".join(map(str, [inputs, *self.hidden, self.classes]))

    @property
    def layer_names(self) -> list[str]:
        """Names of the hidden layers, input to output: `hidden_1`, `hidden_2`, ..."""
        return [f"hidden_{i}" for i in range(1, len(self.hidden) + 1)]

    def describe(self) -> str:
        """A short text for a trial: `mnist pca154-128-5-10 dropout 0.5 seed 0`."""
        drop = f" dropout {self.dropout:g}" if self.dropout else ""
        return f"{self.dataset} {self.architecture}{drop} seed {self.seed}"

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in SHORTHAND}  # resolved into hidden
        out["hidden"] = list(self.hidden)
        return out


FIELDS = {f.name: f for f in fields(TrialConfig)}


def check_value(name: str, value: Any, where: str) -> Any:
    """Validate one parameter value and return it normalised; `where` prefixes the error."""
    check_known(name, where)
    meta = FIELDS[name].metadata
    kind = meta["kind"]
    key = f"{where}: {name}"
    if value is None:
        if kind.endswith("?"):
            return None
        raise SpaceError(f"{key} must not be null")
    if kind == "dataset":
        return _dataset(key, value)
    if kind == "widths":
        if not isinstance(value, (list, tuple)) or not value:
            raise SpaceError(f"{key} must be a non-empty list of layer widths, got {value!r}")
        return tuple(check_number(key, w, int, low=1) for w in value)
    if kind == "str":
        if not isinstance(value, str):
            raise SpaceError(f"{key} must be a string, got {value!r}")
        if "choices" in meta and value not in meta["choices"]:
            raise SpaceError(f"{key} must be one of {', '.join(meta['choices'])}, got {value!r}")
        return value
    if kind == "rows":  # a count, or a fraction strictly between 0 and 1
        if isinstance(value, float) and 0 < value < 1:
            return value
        if isinstance(value, float):
            raise SpaceError(f"{key} must be a row count (an integer >= 1) or a fraction between 0 and 1, "
                             f"got {value!r}")
        return check_number(key, value, int, low=1)
    if kind == "bool":
        if not isinstance(value, bool):
            raise SpaceError(f"{key} must be true or false, got {value!r}")
        return value
    return check_number(key, value, float if kind == "float" else int, **meta)


SPEC_KEYS = {"path": str, "name": str, "label": str, "split": str, "test_fraction": float, "test_seed": int,
             "classes": list}


def _dataset(key: str, value: Any) -> str:
    """A data set's name: a shipped one's, or that of the user's own data that `value` (a path or a
    mapping of `sweep.formats.Spec`'s keys) names, read and checked now."""
    if isinstance(value, str) and data.known(value):
        return value
    if isinstance(value, str) and value:
        if not Path(value).exists() and not any(c in value for c in "/.\\"):
            try:
                data.source(value)  # a name that is none of the shipped ones: its error lists them
            except SweepError as exc:
                raise SpaceError(f"{key}: {exc}") from None
        return data.own(Spec(path=value))
    if not isinstance(value, dict):
        raise SpaceError(f"{key} must be a shipped data set's name ({', '.join(data.names())}), a path, or "
                         f"{{path: ..., label: ...}}; got {value!r}")
    unknown = sorted(set(value) - set(SPEC_KEYS))
    if unknown or "path" not in value:
        raise SpaceError(f"{key}: {f'unknown key {unknown[0]!r}' if unknown else 'path is missing'}; a data set "
                         f"mapping takes {', '.join(SPEC_KEYS)}")
    for name, kind in SPEC_KEYS.items():
        if name in value and kind in (str, list) and not isinstance(value[name], kind):
            raise SpaceError(f"{key}.{name} must be a {'string' if kind is str else 'list of class names'}, "
                             f"got {value[name]!r}")
    classes = tuple(str(c) for c in value.get("classes", ()))
    if len(set(classes)) < len(classes):
        raise SpaceError(f"{key}.classes names a class twice; give each class once")
    fraction = check_number(f"{key}.test_fraction", value.get("test_fraction", 0.2), float, above=0.0, below=1.0)
    seed = check_number(f"{key}.test_seed", value.get("test_seed", 0), int, low=0, high=MAX_SEED)
    return data.own(Spec(path=value["path"], name=value.get("name", ""), label=value.get("label", "label"),
                         split=value.get("split", ""), test_fraction=fraction, test_seed=seed, classes=classes))


def check_known(name: str, where: str) -> None:
    if name not in FIELDS:
        raise SpaceError(f"{where}: unknown parameter {name!r}; allowed: {', '.join(FIELDS)}")


def check_number(key: str, value: Any, cast: type, low: float | None = None, high: float | None = None,
                 above: float | None = None, below: float | None = None, **_: Any) -> Any:
    """`value` as `cast` (int or float) within the bounds given; `key` names it in the error."""
    ok_types = (int, float) if cast is float else (int,)
    if isinstance(value, bool) or not isinstance(value, ok_types) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise SpaceError(f"{key} must be {'a number' if cast is float else 'an integer'}, got {value!r}")
    for bound, fails, text in ((low, lambda b: value < b, ">="), (high, lambda b: value > b, "<="),
                               (above, lambda b: value <= b, ">"), (below, lambda b: value >= b, "<")):
        if bound is not None and fails(bound):
            raise SpaceError(f"{key} must be {text} {bound:g}, got {value!r}" if isinstance(bound, float)
                             else f"{key} must be {text} {bound}, got {value!r}")
    return cast(value)


def resolve(params: dict[str, Any], where: str = "config") -> TrialConfig:
    """Turn one flat dict of fixed values into a checked `TrialConfig`."""
    values = {name: check_value(name, value, where) for name, value in params.items()}
    short = {k: values[k] for k in SHORTHAND if values.get(k) is not None}
    if short:
        if "hidden" in values:
            raise SpaceError(f"{where}: give either hidden or {'/'.join(SHORTHAND)}, not both")
        if "width" not in short:
            raise SpaceError(f"{where}: depth and bottleneck need width")
        for name in SHORTHAND:
            values.pop(name, None)
        values["hidden"] = (short["width"],) * short.get("depth", 1) + (
            (short["bottleneck"],) if short.get("bottleneck") else ())
    if values.get("reduction", "none") == "none":
        values["reduction_k"] = 0  # so a space may cross reduction: {grid: [none, pca]} with reduction_k
    config = TrialConfig(**values)
    size = data.info(config.dataset)
    rows = size.train_rows
    if rows - config.validation_rows(rows) < MIN_FIT_ROWS:
        raise SpaceError(f"{where}: validation must leave rows to fit of the {rows} training rows of "
                         f"{config.dataset} (at least {MIN_FIT_ROWS}); got {config.validation}")
    if config.batch_size > rows:
        raise SpaceError(f"{where}: batch_size must be <= {rows} (the training rows of {config.dataset}), got "
                         f"{config.batch_size}")
    most = size.features if config.reduction == "rf" else min(size.features, rows - config.validation_rows(rows))
    if config.reduction != "none" and not 1 <= config.reduction_k <= most:
        raise SpaceError(f"{where}: reduction {config.reduction} needs reduction_k between 1 and {most} "
                         f"({config.dataset}: {size.features} features, {rows} training rows); got "
                         f"{config.reduction_k}")
    return config


"""Search spaces: a YAML file in, validated trial configurations out.

A space file is flat data:

```yaml
description: one line shown in reports
search: grid              # grid | random | optuna
num_samples: 1            # draws of the distributions (random, optuna)
seeds: [0, 1, 2]          # every configuration runs once per seed
params:                   # fixed values, {grid: [...]}, or distributions
  hidden: [128]           # a list is a value here: the widths of the hidden layers
  dropout: {grid: [0.0, 0.5]}
  learning_rate: {loguniform: [1.0e-4, 1.0e-2]}
experiments:              # optional: explicit configurations, each crossed with params
  - {label: exp1, hidden: [128, 1]}
```

Distributions: `choice: [values]`, `uniform: [low, high]`, `loguniform: [low, high]`,
`randint: [low, high]` (both ends included), and `grid: [values]`, which is expanded, not drawn.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sweep import data
from sweep.errors import SpaceError

REDUCTIONS = ("none", "pca", "rf")
SEARCHES = ("grid", "random", "optuna")
SCHEDULERS = ("none", "asha")
DISTRIBUTIONS = ("grid", "choice", "uniform", "loguniform", "randint")
PIXELS = 28 * 28
CLASSES = 10  # both data sets: digits, or ten kinds of clothing
REDUCTION_KEYS = ("dataset", "validation", "reduction", "reduction_k")  # what a fitted reduction depends on
MAX_SEED = 2**32 - 1  # NumPy's and Keras' seeding take 32 bits
MAX_TRIALS = 10_000  # per sweep; beyond it draw a random or optuna sample of the space
MAX_SPACE_BYTES = 1 << 20  # a space file is a page of YAML


def _param(default: Any, kind: str, **rule: Any) -> Any:
    return field(default=default, metadata={"kind": kind, **rule})


@dataclass(frozen=True)
class TrialConfig:
    """Everything one trial needs; `sweep.trainable` reads nothing else."""

    dataset: str = _param("mnist", "str", choices=tuple(data.SOURCES))
    hidden: tuple[int, ...] = _param((128,), "widths")  # hidden layer widths, input to output
    dropout: float = _param(0.0, "float", low=0.0, below=1.0)  # after every hidden layer; 0 = none
    activation: str = _param("relu", "str", choices=("relu", "tanh", "sigmoid", "elu", "gelu"))
    optimizer: str = _param("rmsprop", "str", choices=("rmsprop", "adam", "sgd"))
    learning_rate: float = _param(1e-3, "float", above=0.0)
    batch_size: int = _param(32, "int", low=1, high=data.MAX_TRAIN_ROWS)  # a batch is at most the training set
    max_epochs: int = _param(200, "int", low=1)
    patience: int | None = _param(2, "int?", low=0)  # early stopping on val_accuracy; null = off
    restore_best: bool = _param(False, "bool")  # keep the best epoch's weights (Keras' option)
    validation: int = _param(5000, "int", low=1)  # last training rows held out, as Keras does
    reduction: str = _param("none", "str", choices=REDUCTIONS)  # input reduction
    reduction_k: int = _param(0, "int", low=0, high=PIXELS)  # PCA components or RF pixels
    keep_train: int | None = _param(None, "int?", low=1)  # train rows whose activations are kept
    activation_dtype: str = _param("float16", "str", choices=("float16", "float32"))
    seed: int = _param(0, "int", low=0, high=MAX_SEED)
    label: str = _param("", "str")  # a name for this configuration in tables
    # Shorthand for `hidden`: `depth` layers of `width`, then a `bottleneck` layer if > 0.
    width: int | None = _param(None, "int?", low=1)
    depth: int | None = _param(None, "int?", low=1)
    bottleneck: int | None = _param(None, "int?", low=0)

    @property
    def input_dim(self) -> int:
        return PIXELS if self.reduction == "none" else self.reduction_k

    @property
    def input_reduction(self) -> str:
        return input_name(self.reduction, self.reduction_k)

    @property
    def architecture(self) -> str:
        return architecture(self.hidden, self.reduction, self.reduction_k)

    @property
    def layer_names(self) -> list[str]:
        """Names of the hidden layers, input to output: `hidden_1`, `hidden_2`, ..."""
        return hidden_names(len(self.hidden))

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in SHORTHAND}  # resolved into hidden
        out["hidden"] = list(self.hidden)
        return out


def input_name(reduction: str, k: int) -> str:
    """`none`, or the reduction and its size: `pca154`, `rf70`."""
    return "none" if reduction == "none" else f"{reduction}{k}"


def architecture(hidden: tuple[int, ...] | list[int], reduction: str, k: int) -> str:
    """Layer widths input to output, `784-128-5-10`, with a reduced input named: `pca154-128-5-10`."""
    inputs = str(PIXELS) if reduction == "none" else input_name(reduction, k)
    return "-".join(map(str, [inputs, *hidden, CLASSES]))


def hidden_names(depth: int) -> list[str]:
    return [f"hidden_{i}" for i in range(1, depth + 1)]


FIELDS = {f.name: f for f in fields(TrialConfig)}
SHORTHAND = ("width", "depth", "bottleneck")


def check_value(name: str, value: Any, where: str) -> Any:
    """Validate one parameter value and return it normalised; `where` prefixes the error."""
    _known(name, where)
    meta = FIELDS[name].metadata
    kind = meta["kind"]
    key = f"{where}: {name}"
    if value is None:
        if kind.endswith("?"):
            return None
        raise SpaceError(f"{key} must not be null")
    if kind == "widths":
        if not isinstance(value, (list, tuple)) or not value:
            raise SpaceError(f"{key} must be a non-empty list of layer widths, got {value!r}")
        return tuple(_number(key, w, int, low=1) for w in value)
    if kind == "str":
        if not isinstance(value, str):
            raise SpaceError(f"{key} must be a string, got {value!r}")
        if "choices" in meta and value not in meta["choices"]:
            raise SpaceError(f"{key} must be one of {', '.join(meta['choices'])}, got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise SpaceError(f"{key} must be true or false, got {value!r}")
        return value
    return _number(key, value, float if kind == "float" else int, **meta)


def _known(name: str, where: str) -> None:
    if name not in FIELDS:
        raise SpaceError(f"{where}: unknown parameter {name!r}; allowed: {', '.join(FIELDS)}")


def _number(key: str, value: Any, cast: type, low: float | None = None, high: float | None = None,
            above: float | None = None, below: float | None = None, **_: Any) -> Any:
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
    if config.reduction != "none" and config.reduction_k < 1:
        raise SpaceError(f"{where}: reduction {config.reduction} needs reduction_k between 1 and {PIXELS}")
    rows = data.source(config.dataset).train_rows
    if config.validation >= rows:
        raise SpaceError(f"{where}: validation must be < {rows}, the training rows of {config.dataset}; "
                         f"got {config.validation}")
    return config


@dataclass(frozen=True)
class Distribution:
    """A parameter that is drawn (or, for `grid`, expanded) rather than fixed."""

    kind: str
    args: tuple[Any, ...]

    def sample(self, rng: np.random.Generator) -> Any:
        if self.kind == "choice":
            return self.args[rng.integers(len(self.args))]
        low, high = self.args
        if self.kind == "uniform":
            return float(rng.uniform(low, high))
        if self.kind == "loguniform":
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))
        return int(rng.integers(low, high + 1))

    def describe(self) -> str:
        return f"{self.kind}({', '.join(json.dumps(a) for a in self.args)})"


@dataclass(frozen=True)
class Space:
    """A validated search space; `trials()` expands it for grid and random search."""

    path: Path
    description: str = ""
    search: str = "grid"
    num_samples: int = 1
    seeds: tuple[int, ...] = (0,)
    search_seed: int = 0  # seeds the random draws and Optuna's sampler
    scheduler: str = "none"  # none | asha: stop weak trials early, next to EarlyStopping
    max_failures: int = 1  # retries of a trial whose process dies
    params: dict[str, Any] = field(default_factory=dict)  # name -> value or Distribution
    experiments: tuple[dict[str, Any], ...] = ({},)

    @property
    def name(self) -> str:
        return self.path.stem

    def trials(self) -> list[TrialConfig]:
        """Every trial of a grid or random search: seeds × experiments × grid × samples."""
        if self.search == "optuna":
            raise SpaceError(f"{self.path}: an optuna search is drawn while it runs; it has no fixed list of trials")
        return list(self._expanded)

    @cached_property
    def _expanded(self) -> tuple[TrialConfig, ...]:
        """The trials, expanded and checked once per space (a sweep asks for them several times)."""
        rng = np.random.default_rng(self.search_seed)
        fixed = {k: v for k, v in self.params.items() if not isinstance(v, Distribution)}
        grid = {k: v.args for k, v in self.params.items() if isinstance(v, Distribution) and v.kind == "grid"}
        drawn = {k: v for k, v in self.params.items() if isinstance(v, Distribution) and v.kind != "grid"}
        samples = [{k: d.sample(rng) for k, d in drawn.items()} for _ in range(self.num_samples)]
        configs = []
        for seed in self.seeds:
            for experiment in self.experiments:
                for combo in itertools.product(*grid.values()):
                    for sample in samples:
                        values = {**fixed, **dict(zip(grid, combo)), **sample, **experiment, "seed": seed}
                        configs.append(resolve(values, str(self.path)))
        repeats = len(configs) - len({json.dumps(c.to_dict()) for c in configs})
        if repeats:
            raise SpaceError(f"{self.path}: {repeats} of {len(configs)} trials repeat another's configuration and seed; "
                             f"remove the repeated grid value, experiment or seed (or draw fewer random samples)")
        return tuple(configs)

    def values(self, name: str) -> set[Any]:
        """Every value parameter `name` takes in this space's trials (drawn ones: every choice or end)."""
        if self.search != "optuna":
            return {getattr(c, name) for c in self.trials()}
        value = self.experiments[0].get(name, self.params.get(name, FIELDS[name].default))
        return set(value.args) if isinstance(value, Distribution) else {value}

    @property
    def size(self) -> int:
        """How many trials the space runs, computed without expanding it."""
        if self.search == "optuna":
            return self.num_samples
        grid = math.prod(len(v.args) for v in self.params.values() if isinstance(v, Distribution) and v.kind == "grid")
        return len(self.seeds) * len(self.experiments) * grid * self.num_samples

    def check(self) -> None:
        """Resolve every trial, or for Optuna every input reduction it can sample: a bad combination
        raises `SpaceError` before anything starts."""
        if self.search == "optuna" and len(self.seeds) != 1:
            raise SpaceError(f"{self.path}: seeds: an optuna search takes one seed; rerun its best configurations "
                             f"over seeds in a grid space")
        if self.size > MAX_TRIALS:
            raise SpaceError(f"{self.path}: {self.size:,} trials (seeds x experiments x grid x num_samples) exceed "
                             f"the limit of {MAX_TRIALS:,}; sample the space instead (search: random or optuna)")
        if self.search != "optuna":
            self.trials()
            return
        fixed = {**self.experiments[0], "seed": self.seeds[0]}
        options = {k: (self.params[k].args if isinstance(self.params.get(k), Distribution) else (fixed.get(k, self.params.get(k)),))
                   for k in REDUCTION_KEYS if k in self.params or k in fixed}
        for combo in itertools.product(*options.values()):
            resolve(dict(zip(options, combo), seed=self.seeds[0]), str(self.path))

    def optuna_space(self) -> dict[str, Any]:
        """The space for Ray's OptunaSearch: Ray distributions and constants (Ray imported lazily)."""
        from ray import tune

        domains = {"choice": lambda a: tune.choice(list(a)), "uniform": lambda a: tune.uniform(*a),
                   "loguniform": lambda a: tune.loguniform(*a), "randint": lambda a: tune.randint(a[0], a[1] + 1)}
        space = {k: domains[v.kind](v.args) if isinstance(v, Distribution) else _plain(v) for k, v in self.params.items()}
        return {**space, **{k: _plain(v) for k, v in self.experiments[0].items()}, "seed": self.seeds[0]}

    def with_overrides(self, *, seeds: tuple[int, ...] | None = None, **params: Any) -> Space:
        """A copy with command-line overrides (`--seeds`, `--dataset`, `--max-epochs`) applied, checked again."""
        if seeds is None and all(v is None for v in params.values()):
            return self
        new_params = dict(self.params)
        for name, value in params.items():
            if value is not None:
                new_params[name] = check_value(name, value, "command line")
        experiments = tuple({k: v for k, v in e.items() if params.get(k) is None} for e in self.experiments)
        space = replace(self, params=new_params, experiments=experiments,
                        seeds=_checked_seeds("--seeds", list(seeds)) if seeds is not None else self.seeds)
        space.check()
        return space


_TOP_KEYS = {f.name for f in fields(Space)} - {"path"}


def load_space(path: str | Path, **overrides: Any) -> Space:
    """Read and validate a space file; every problem is a `SpaceError` naming file and key.

    `overrides` replace top-level keys (`search`, `num_samples`, `scheduler`) before validation.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if path.is_file() and size > MAX_SPACE_BYTES:
            raise SpaceError(f"{path}: {size / 2**20:.1f} MiB; a space file is YAML of at most "
                             f"{MAX_SPACE_BYTES >> 20} MiB: pass the right file")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SpaceError(f"{path}: no such space file") from None
    except UnicodeDecodeError as exc:
        raise SpaceError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                         f"save the space file as UTF-8") from None
    except OSError as exc:
        raise SpaceError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        doc = yaml.load(text, Loader=_Loader)
    except RecursionError:
        raise SpaceError(f"{path}: nested too deeply; a space file holds numbers, strings and flat lists") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        kind = "YAML" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
        raise SpaceError(f"{path}: {kind}{at}: {getattr(exc, 'problem', exc)}") from None
    if doc is None:
        raise SpaceError(f"{path}: the file is empty; it needs at least a 'params' mapping")
    if not isinstance(doc, dict):
        raise SpaceError(f"{path}: expected a mapping of keys ({', '.join(sorted(_TOP_KEYS))}), got {type(doc).__name__}")
    doc |= {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise SpaceError(f"{path}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_TOP_KEYS))}")
    return _build(path, doc)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if (key_node.tag, key_node.value) in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key_node.value!r} is given twice; keep one", key_node.start_mark)
                seen.add((key_node.tag, key_node.value))
        return super().construct_mapping(node, deep)


def _checked_seeds(where: str, seeds: Any) -> tuple[int, ...]:
    if not isinstance(seeds, list) or not seeds:
        raise SpaceError(f"{where} must be a non-empty list of integers, got {seeds!r}")
    checked = tuple(_number(where, s, int, low=0, high=MAX_SEED) for s in seeds)
    if len(set(checked)) < len(checked):
        repeated = next(s for s in checked if checked.count(s) > 1)
        raise SpaceError(f"{where}: seed {repeated} is given twice; each seed runs every configuration once")
    return checked


def _build(path: Path, doc: dict[str, Any]) -> Space:
    where = str(path)
    search = _choice(where, "search", doc.get("search", "grid"), SEARCHES)
    scheduler = _choice(where, "scheduler", doc.get("scheduler", "none"), SCHEDULERS)
    num_samples = _number(f"{where}: num_samples", doc.get("num_samples", 1), int, low=1)
    search_seed = _number(f"{where}: search_seed", doc.get("search_seed", 0), int, low=0, high=MAX_SEED)
    max_failures = _number(f"{where}: max_failures", doc.get("max_failures", 1), int, low=0)
    seeds = _checked_seeds(f"{where}: seeds", doc.get("seeds", [0]))
    params = doc.get("params") or {}
    if not isinstance(params, dict):
        raise SpaceError(f"{where}: params must be a mapping of parameter names to values")
    parsed = {name: _parse_param(where, search, name, value) for name, value in params.items()}
    experiments = doc.get("experiments") or [{}]
    if not isinstance(experiments, list) or not all(isinstance(e, dict) for e in experiments):
        raise SpaceError(f"{where}: experiments must be a list of mappings of fixed parameter values")
    for i, experiment in enumerate(experiments):
        for name, value in experiment.items():
            check_value(name, value, f"{where}: experiments[{i}]")
    if search != "optuna" and num_samples > 1 and not any(
            isinstance(v, Distribution) and v.kind != "grid" for v in parsed.values()):
        raise SpaceError(f"{where}: num_samples: {num_samples} draws of a space with nothing to draw would run "
                         f"each trial {num_samples} times; drop num_samples or draw a parameter (choice, uniform, ...)")
    space = Space(path=path, description=str(doc.get("description", "")), search=search,
                  num_samples=num_samples, seeds=seeds, search_seed=search_seed,
                  scheduler=scheduler, max_failures=max_failures, params=parsed,
                  experiments=tuple(experiments))
    if search == "optuna":
        _check_optuna(where, parsed, experiments)
    space.check()
    return space


def _check_optuna(where: str, params: dict[str, Any], experiments: list[dict[str, Any]]) -> None:
    if len(experiments) > 1:
        raise SpaceError(f"{where}: experiments: an optuna search takes at most one experiment; make the others params")
    for name, value in params.items():
        if not isinstance(value, Distribution):
            continue
        if name in REDUCTION_KEYS and value.kind != "choice":
            raise SpaceError(f"{where}: params.{name}: optuna may only draw it with choice, so every input "
                             f"reduction can be fitted before the search starts")
        if value.kind == "choice" and any(isinstance(a, tuple) for a in value.args):
            raise SpaceError(f"{where}: params.{name}: optuna draws numbers and strings only; "
                             f"draw width, depth and bottleneck instead of hidden")


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _choice(where: str, key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise SpaceError(f"{where}: {key} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _parse_param(where: str, search: str, name: str, value: Any) -> Any:
    key = f"{where}: params.{name}"
    _known(name, f"{where}: params")
    if name == "seed":
        raise SpaceError(f"{key}: set seeds at the top level (seeds: [0, 1, 2]) or with --seeds")
    if not isinstance(value, dict):
        return check_value(name, value, f"{where}: params")
    if len(value) != 1 or next(iter(value)) not in DISTRIBUTIONS:
        raise SpaceError(f"{key} must be a value or one of {{{': [...]}, {'.join(DISTRIBUTIONS)}: [...]}}, got {value!r}")
    kind, args = next(iter(value.items()))
    if not isinstance(args, list) or not args:
        raise SpaceError(f"{key}.{kind} takes a non-empty list, got {args!r}")
    if kind == "grid" and search == "optuna":
        raise SpaceError(f"{key}: grid is not drawn by optuna; use choice")
    if kind in ("grid", "choice"):
        return Distribution(kind, tuple(check_value(name, a, f"{key}.{kind}") for a in args))
    numeric = FIELDS[name].metadata["kind"].rstrip("?")
    if numeric != ("int" if kind == "randint" else "float"):
        fits = "randint" if numeric == "int" else "uniform or loguniform" if numeric == "float" else "grid or choice"
        raise SpaceError(f"{key}: {kind} does not fit this parameter; use {fits}")
    if len(args) != 2:
        raise SpaceError(f"{key}.{kind} takes [low, high], got {args!r}")
    low, high = (check_value(name, a, f"{key}.{kind}") for a in args)
    if low >= high or (kind == "loguniform" and low <= 0):
        raise SpaceError(f"{key}.{kind} needs low < high (and low > 0 for loguniform), got {args!r}")
    return Distribution(kind, (low, high))

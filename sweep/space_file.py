"""Space files: YAML in, a validated `Space` out.

A space file is flat data:

```yaml
description: one line shown in reports
search: grid              # grid | random | optuna
num_samples: 1            # draws of the distributions (random, optuna)
seeds: [0, 1, 2]          # every configuration runs once per seed
params:                   # fixed values, {grid: [...]}, or distributions
  dataset: mnist          # a shipped data set, or your own: data/digits.npz, {path: data/wine.csv, label: class}
  hidden: [128]           # a list is a value here: the widths of the hidden layers
  dropout: {grid: [0.0, 0.5]}
  learning_rate: {loguniform: [1.0e-4, 1.0e-2]}
experiments:              # optional: explicit configurations, each crossed with params
  - {label: exp1, hidden: [128, 1]}
analysis:                 # optional: what the report computes and shows (`analysis.plan`)
  show: all
reference:                # optional: a study's printed numbers, set beside ours (`analysis.reference`)
  numbers: [{label: exp1, test_accuracy: 66.94}]
```

Distributions: `choice: [values]`, `uniform: [low, high]`, `loguniform: [low, high]`,
`randint: [low, high]` (both ends included), and `grid: [values]`, which is expanded, not drawn.
Every problem is a `SpaceError` naming the file, the key and the fix.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from sweep.config import FIELDS, MAX_SEED, check_known, check_number, check_value
from sweep.errors import SpaceError
from sweep.space import DISTRIBUTIONS, REDUCTION_KEYS, SCHEDULERS, SEARCHES, Distribution, Space

MAX_SPACE_BYTES = 1 << 20  # a space file is a page of YAML

_TOP_KEYS = {f.name for f in fields(Space)} - {"path"}


def load_space(path: str | Path, *, seeds: tuple[int, ...] | None = None,
               params: dict[str, Any] | None = None, **keys: Any) -> Space:
    """Read and validate a space file, with the command line's overrides applied first, so the
    space is checked (and a grid expanded) once.

    `keys` replace top-level keys (`search`, `num_samples`, `scheduler`) before validation; `seeds`
    (`--seeds`) replaces the seeds; `params` (`--dataset`, `--max-epochs`) fixes parameters for
    every trial, experiments included. None leaves a value as the file has it.
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
        raise SpaceError(f"{path}: expected a mapping of keys ({', '.join(sorted(_TOP_KEYS))}), "
                         f"got {type(doc).__name__}")
    doc |= {k: v for k, v in keys.items() if v is not None}
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise SpaceError(f"{path}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_TOP_KEYS))}")
    fixed = {name: check_value(name, value, "command line")
             for name, value in (params or {}).items() if value is not None}
    return _build(path, doc, _checked_seeds("--seeds", list(seeds)) if seeds is not None else None, fixed)


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
    checked = tuple(check_number(where, s, int, low=0, high=MAX_SEED) for s in seeds)
    if len(set(checked)) < len(checked):
        repeated = next(s for s in checked if checked.count(s) > 1)
        raise SpaceError(f"{where}: seed {repeated} is given twice; each seed runs every configuration once")
    return checked


def _build(path: Path, doc: dict[str, Any], seeds: tuple[int, ...] | None, fixed: dict[str, Any]) -> Space:
    """The space of a parsed file; `seeds` and `fixed` parameters, when given, replace the file's."""
    where = str(path)
    search = _choice(where, "search", doc.get("search", "grid"), SEARCHES)
    scheduler = _choice(where, "scheduler", doc.get("scheduler", "none"), SCHEDULERS)
    num_samples = check_number(f"{where}: num_samples", doc.get("num_samples", 1), int, low=1)
    search_seed = check_number(f"{where}: search_seed", doc.get("search_seed", 0), int, low=0, high=MAX_SEED)
    max_failures = check_number(f"{where}: max_failures", doc.get("max_failures", 1), int, low=0)
    seeds = seeds or _checked_seeds(f"{where}: seeds", doc.get("seeds", [0]))
    params = doc.get("params") or {}
    if not isinstance(params, dict):
        raise SpaceError(f"{where}: params must be a mapping of parameter names to values")
    parsed = {name: _parse_param(where, search, name, value) for name, value in params.items()} | fixed
    experiments = doc.get("experiments") or [{}]
    if not isinstance(experiments, list) or not all(isinstance(e, dict) for e in experiments):
        raise SpaceError(f"{where}: experiments must be a list of mappings of fixed parameter values")
    experiments = [{name: check_value(name, value, f"{where}: experiments[{i}]")
                    for name, value in experiment.items() if name not in fixed}
                   for i, experiment in enumerate(experiments)]
    if search != "optuna" and num_samples > 1 and not any(
            isinstance(v, Distribution) and v.kind != "grid" for v in parsed.values()):
        raise SpaceError(f"{where}: num_samples: {num_samples} draws of a space with nothing to draw would run "
                         f"each trial {num_samples} times; drop num_samples or draw a parameter (choice, uniform, ...)")
    space = Space(path=path, description=str(doc.get("description", "")), search=search,
                  num_samples=num_samples, seeds=seeds, search_seed=search_seed,
                  scheduler=scheduler, max_failures=max_failures, params=parsed,
                  experiments=tuple(experiments), analysis=doc.get("analysis"),
                  reference=doc.get("reference"))
    if search == "optuna":
        _check_optuna(where, parsed, experiments)
    space.check()
    return space


def _check_optuna(where: str, params: dict[str, Any], experiments: list[dict[str, Any]]) -> None:
    if len(experiments) > 1:
        raise SpaceError(f"{where}: experiments: an optuna search takes at most one experiment; make the others params")
    if "init_from" in params or any("init_from" in e for e in experiments):
        raise SpaceError(f"{where}: init_from: an optuna search draws no labelled trials to start from; run the "
                         f"trials that start from others in a grid space")
    for name, value in params.items():
        if not isinstance(value, Distribution):
            continue
        if name in REDUCTION_KEYS and value.kind != "choice":
            raise SpaceError(f"{where}: params.{name}: optuna may only draw it with choice, so every input "
                             f"reduction can be fitted before the search starts")
        if value.kind == "choice" and any(isinstance(a, tuple) for a in value.args):
            raise SpaceError(f"{where}: params.{name}: optuna draws numbers and strings only; "
                             f"draw width, depth and bottleneck instead of hidden")


def _choice(where: str, key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise SpaceError(f"{where}: {key} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _parse_param(where: str, search: str, name: str, value: Any) -> Any:
    key = f"{where}: params.{name}"
    check_known(name, f"{where}: params")
    if name == "seed":
        raise SpaceError(f"{key}: set seeds at the top level (seeds: [0, 1, 2]) or with --seeds")
    drawn = isinstance(value, dict) and len(value) == 1 and next(iter(value)) in DISTRIBUTIONS
    if not isinstance(value, dict) or name == "dataset" and not drawn:  # a data set may be a mapping
        return check_value(name, value, f"{where}: params")
    if len(value) != 1 or next(iter(value)) not in DISTRIBUTIONS:
        raise SpaceError(f"{key} must be a value or one of {{{': [...]}, {'.join(DISTRIBUTIONS)}: [...]}}, "
                         f"got {value!r}")
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

"""What a report computes and shows: a space file's `analysis:` section, checked, as data.

```yaml
analysis:
  show: 3                  # trials shown in full: all, the best N, or a list of labels or trial ids
  rows: train              # the rows figures draw: train | test
  colour: true             # what colours points and groups box plots: true | predicted class, for
                           # every figure or per figure: {embeddings: true, pca: true, boxes: predicted, pixels: true}
  embeddings:              # drawn for the trials shown in full; a method left out is not drawn
    tsne: {rows: 10000, perplexity: 40, iterations: 300}
    umap: {rows: all, test: true}
  probes:                  # on every layer of every completed trial
    knn: [5]               # KNN on the layer itself, one accuracy per k; [] for none
    linear: true           # logistic regression on the layer
    umap_knn: {k: [3, 5, 10], rows: all}   # KNN on a 2-D UMAP fitted on `rows` train rows
    vote: plurality        # every KNN's rule: plurality | majority (more than k/2, else class 0)
  nodes: [0]               # box plots of these nodes of every hidden layer (or hidden_2:3); default: the most
  pixels: [77, 78]         # the raw pixels drawn against each other; default: the best-separating pair
```

A section replaces the defaults key by key; `DEFAULT` is the plan of a space without one: cheap,
exact probes of every layer on all rows, and embeddings of the trials shown in full on a
stratified subsample. `sweep report`'s options override a plan for one run (`Plan.overridden`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.probes import PLURALITY, VOTES
from sweep.errors import SpaceError, SweepError
from sweep.folder import SweepFolder

if TYPE_CHECKING:  # the plan itself is light: `sweep run` checks it before Ray starts
    from analysis.layers import LayerJob
    from analysis.results import Sweep, Trial

METHODS = ("pca", "tsne", "umap", "trimap", "pacmap")
MIN_ROWS = 100  # rows embedded or fitted at the least: t-SNE's perplexity of 30 needs more than 90
ROWS = ("train", "test")
COLOURS = ("true", "predicted")
FIGURES = ("embeddings", "pca", "boxes", "pixels")  # the figures `colour` may set one by one

# Each method's own parameters: name -> (default, kind, low). `rows` is every method's.
PARAMETERS: dict[str, dict[str, tuple[Any, type, float]]] = {
    "pca": {},
    "tsne": {"perplexity": (30.0, float, 1.0), "iterations": (750, int, 251), "exaggeration": (12.0, float, 1.0)},
    "umap": {"neighbours": (15, int, 2), "min_dist": (0.1, float, 0.0), "test": (False, bool, 0)},
    "trimap": {"inliers": (12, int, 1), "outliers": (4, int, 1)},
    "pacmap": {"neighbours": (10, int, 1)},
}


@dataclass(frozen=True)
class Embedding:
    """One embedding method: the training rows it draws (stratified; None: all) and its own settings."""

    method: str
    rows: int | None = 2_000
    params: tuple[tuple[str, Any], ...] = ()

    def get(self, name: str) -> Any:
        return dict(self.params).get(name, PARAMETERS[self.method][name][0])


@dataclass(frozen=True)
class Plan:
    top: int | None = 3  # the best N trials shown in full; None: every completed trial
    named: tuple[str, ...] = ()  # labels or trial ids shown in full besides
    rows: str = "test"
    colours: tuple[tuple[str, str], ...] = tuple((f, "true") for f in FIGURES)  # figure -> true | predicted
    embeddings: tuple[Embedding, ...] = tuple(Embedding(m) for m in METHODS)
    knn: tuple[int, ...] = (5,)
    linear: bool = True
    umap_knn: tuple[int, ...] = ()  # k values of KNN on a 2-D UMAP; () for none
    umap_rows: int | None = None  # train rows that UMAP fits on; None: all
    vote: str = PLURALITY  # how every KNN probe's neighbours decide a class
    nodes: tuple[tuple[str | None, int], ...] = ()  # (layer or None for every layer, node)
    pixels: tuple[int, int] | None = None
    declared: tuple[str, ...] = field(default=(), compare=False)  # the keys its section gave

    def colour(self, figure: str) -> str:
        """What colours the points of `figure` (one of `FIGURES`): true or predicted class."""
        return dict(self.colours)[figure]

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(e.method for e in self.embeddings)

    def embedding(self, method: str) -> Embedding | None:
        return next((e for e in self.embeddings if e.method == method), None)

    def overridden(self, *, top: int | None = None, trials: tuple[str, ...] = (), methods: tuple[str, ...] = (),
                   subsample: int | None = None, probe_rows: int | None = None,
                   nodes: tuple[tuple[str, int], ...] = ()) -> Plan:
        """This plan with `sweep report`'s options for one run; None or empty keeps the plan's value."""
        for name, value, least in (("--top", top, 0), ("--subsample", subsample, MIN_ROWS),
                                   ("--probe-rows", probe_rows, MIN_ROWS)):
            if value is not None and value < least:
                raise SweepError(f"{name} must be >= {least}, got {value}")
        plan = self
        if methods:
            _check_methods("--methods", methods)
            plan = replace(plan, embeddings=tuple(self.embedding(m) or Embedding(m) for m in methods))
        if subsample is not None:
            plan = replace(plan, embeddings=tuple(replace(e, rows=subsample) for e in plan.embeddings))
        return replace(plan, top=self.top if top is None else top, named=(*self.named, *trials),
                       umap_rows=self.umap_rows if probe_rows is None else probe_rows,
                       nodes=nodes or self.nodes)


DEFAULT = Plan()


def parse(section: Any, where: str) -> Plan:
    """The plan a space file's `analysis:` section declares (`where` names the file); every problem
    is one `SpaceError` naming the key and the fix. None: the default plan."""
    if section is None:
        return DEFAULT
    key = f"{where}: analysis"
    section = mapping(key, section, ("show", "rows", "colour", "embeddings", "probes", "nodes", "pixels"))
    plan = replace(DEFAULT, declared=tuple(section))
    if "show" in section:
        plan = replace(plan, **_show(f"{key}.show", section["show"]))
    if "rows" in section:
        plan = replace(plan, rows=_choice(f"{key}.rows", section["rows"], ROWS))
    if "colour" in section:
        plan = replace(plan, colours=_colours(f"{key}.colour", section["colour"], plan.colours))
    if "embeddings" in section:
        plan = replace(plan, embeddings=_embeddings(f"{key}.embeddings", section["embeddings"]))
    if "probes" in section:
        plan = replace(plan, **_probes(f"{key}.probes", section["probes"]))
    if "nodes" in section:
        plan = replace(plan, nodes=_nodes(f"{key}.nodes", section["nodes"]))
    if "pixels" in section:
        plan = replace(plan, pixels=_pixels(f"{key}.pixels", section["pixels"]))
    return plan


def mapping(key: str, value: Any, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    """`value` as a mapping of `allowed` keys (empty for None); `key` names it in the error."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SpaceError(f"{key} must be a mapping with keys among {', '.join(allowed)}, got {value!r}")
    if unknown := [k for k in value if k not in allowed]:
        raise SpaceError(f"{key}: unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}")
    return value


def _choice(key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise SpaceError(f"{key} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _colours(key: str, value: Any, default: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """One colour for every figure, or a mapping of figures to colours. YAML reads `true` as a boolean."""
    if not isinstance(value, Mapping):
        return tuple((f, _choice(key, "true" if value is True else value, COLOURS)) for f in FIGURES)
    given = mapping(key, value, FIGURES)
    return tuple((f, _choice(f"{key}.{f}", "true" if given[f] is True else given[f], COLOURS) if f in given else c)
                 for f, c in default)


def _integer(key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SpaceError(f"{key} must be an integer >= {low}, got {value!r}")
    return value


def _rows(key: str, value: Any) -> int | None:
    """A count of training rows, or `all`."""
    if value == "all":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_ROWS:
        raise SpaceError(f"{key} must be all or a number of rows >= {MIN_ROWS}, got {value!r}")
    return value


def _ks(key: str, value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    ks = value if isinstance(value, list) else [value]
    checked = tuple(_integer(key, k, 1) for k in ks)
    if len(set(checked)) < len(checked):
        raise SpaceError(f"{key}: a k is given twice in {value!r}; give each once")
    return tuple(sorted(checked))


def _show(key: str, value: Any) -> dict[str, Any]:
    if value == "all":
        return {"top": None, "named": ()}
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return {"top": value, "named": ()}
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return {"top": 0, "named": tuple(value)}
    raise SpaceError(f"{key} must be all, a number of trials (the best first) or a list of labels, got {value!r}")


def _check_methods(key: str, methods: Any) -> None:
    if unknown := [m for m in methods if m not in METHODS]:
        raise SweepError(f"{key}: unknown embedding method {unknown[0]!r}; choose from {', '.join(METHODS)}")


def _embeddings(key: str, value: Any) -> tuple[Embedding, ...]:
    value = mapping(key, value, METHODS)
    found = []
    for method, settings in value.items():
        where = f"{key}.{method}"
        own = PARAMETERS[method]
        settings = mapping(where, settings, ("rows", *own))
        params = []
        for name, given in settings.items():
            if name == "rows":
                continue
            default, kind, low = own[name]
            if kind is bool:
                if not isinstance(given, bool):
                    raise SpaceError(f"{where}.{name} must be true or false, got {given!r}")
            elif kind is int:
                given = _integer(f"{where}.{name}", given, int(low))
            elif isinstance(given, bool) or not isinstance(given, int | float) or given < low:
                raise SpaceError(f"{where}.{name} must be a number >= {low}, got {given!r}")
            params.append((name, kind(given)))
        rows = _rows(f"{where}.rows", settings["rows"]) if "rows" in settings else Embedding.rows
        found.append(Embedding(method, rows, tuple(sorted(params))))
    return tuple(found)


def _probes(key: str, value: Any) -> dict[str, Any]:
    value = mapping(key, value, ("knn", "linear", "umap_knn", "vote"))
    out: dict[str, Any] = {}
    if "knn" in value:
        out["knn"] = _ks(f"{key}.knn", value["knn"])
    if "linear" in value:
        if not isinstance(value["linear"], bool):
            raise SpaceError(f"{key}.linear must be true or false, got {value['linear']!r}")
        out["linear"] = value["linear"]
    if "vote" in value:
        out["vote"] = _choice(f"{key}.vote", value["vote"], VOTES)
    if "umap_knn" in value:
        umap = mapping(f"{key}.umap_knn", value["umap_knn"], ("k", "rows"))
        out["umap_knn"] = _ks(f"{key}.umap_knn.k", umap.get("k", [3, 5, 10]))
        out["umap_rows"] = _rows(f"{key}.umap_knn.rows", umap.get("rows", "all"))
    return out


def _nodes(key: str, value: Any) -> tuple[tuple[str | None, int], ...]:
    items = value if isinstance(value, list) else [value]
    nodes = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
            nodes.append((None, item))
        elif isinstance(item, str) and item.count(":") == 1 and item.split(":")[1].isdigit():
            layer, node = item.split(":")
            nodes.append((layer, int(node)))
        else:
            raise SpaceError(f"{key}: expected node numbers of every layer (0) or layer:node (hidden_1:3), "
                             f"got {item!r}")
    return tuple(nodes)


def _pixels(key: str, value: Any) -> tuple[int, int]:
    if (not isinstance(value, list) or len(value) != 2 or len(set(map(str, value))) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)):
        raise SpaceError(f"{key} must be two different pixel numbers like [77, 78], got {value!r}")
    return tuple(value)


def check_data(plan: Plan, dataset: str, where: str) -> None:
    """Refuse a plan that names pixels beyond those of `dataset` (its rows' features)."""
    from sweep import data

    features = data.info(dataset).features
    if plan.pixels and max(plan.pixels) >= features:
        raise SpaceError(f"{where}: analysis.pixels {list(plan.pixels)} lie beyond the {features} features of "
                         f"{dataset}; name two of 0-{features - 1}")


def saved_plan(files: SweepFolder) -> Plan:
    """The plan of the space file saved with a sweep; the default plan if it has none (or none yet)."""
    return parse(saved_section(files, "analysis"), str(files.space))


def saved_section(files: SweepFolder, key: str) -> Any:
    """A top-level key of the space file saved with a sweep; None if it has none (or none yet)."""
    if not files.space.is_file():
        return None
    import yaml

    try:
        doc = yaml.safe_load(files.space.read_text())
    except yaml.YAMLError as exc:
        raise SweepError(f"{files.space}: not readable as YAML ({exc}); restore the space file the sweep ran") from None
    return doc.get(key) if isinstance(doc, dict) else None


def shown(sweep: Sweep, plan: Plan, strict: bool = True) -> list[Trial]:
    """The completed trials shown in full: the best `plan.top` by test accuracy (every one for
    None), then those `plan.named` by trial id or label, in the sweep's order. With `strict`, a
    name that matches no trial folder, or only trials that did not complete, is an error."""
    ranked = sorted(sweep.completed(), key=lambda t: -t.metrics["test_accuracy"])
    chosen = ranked if plan.top is None else ranked[: plan.top]
    for name in plan.named:
        matches = [t for t in sweep.trials if name in (t.trial_id, t.config.label)]
        done = [t for t in matches if t.completed]
        if strict and not done:
            state = f"its trials are {', '.join(sorted({t.status for t in matches}))}" if matches else "no trial has it"
            raise SweepError(f"{sweep.files.path}: {name!r} is shown in full, but {state}; name a completed trial's "
                             f"id or label")
        chosen += [t for t in done if t not in chosen]
    return chosen


def raw_key(trial: Trial) -> str:
    """Which raw-pixel rows a trial's are: its data set, validation split and kept rows (drawn with
    its seed); the raw-pixel jobs of trials with the same key are shared, in `cache/<key>`."""
    cfg = trial.config
    return f"raw-{cfg.dataset}-{cfg.split_key}" + (f"-k{cfg.keep_train}-s{cfg.seed}" if cfg.keep_train else "")


def jobs_of(sweep: Sweep, plan: Plan, cache: Path, strict: bool = True, **common: Any) -> list[LayerJob]:
    """Every layer job of the plan: raw pixels once per (data set, validation split, kept rows),
    then every hidden layer of every completed trial. Each layer has its probes, and the layers of
    trials shown in full their embeddings; a layer of width <= 2 is its own embedding. `common`
    goes to every job (data_dir, seed, sweep_uri)."""
    from analysis.layers import PROBES, RAW, RAW_PIXELS, UMAP, LayerJob
    from sweep import data

    chosen = shown(sweep, plan, strict)
    raw: dict[str, tuple[Trial, bool]] = {}
    layers = []
    for trial in sweep.completed():
        cfg = trial.config
        key = raw_key(trial)
        first, drawn = raw.get(key, (trial, False))
        raw[key] = (first, drawn or trial in chosen)
        shapes = trial.shapes()
        for layer in trial.hidden_layers:
            rows, width = shapes[f"{layer}_train"]
            layers.append((LayerJob(dataset=cfg.dataset, source=trial.trial_id, label=cfg.label, layer=layer,
                                    task=PROBES, trial_folder=str(trial.files.path),
                                    cache_dir=str(cache / trial.trial_id), width=width, n_train=rows,
                                    n_test=shapes[f"{layer}_test"][0], trained=trial.metrics.get("trial_ended"),
                                    **common), trial in chosen))
    raw_layers = []
    for key, (trial, drawn) in raw.items():
        shapes = trial.shapes()
        raw_layers.append((LayerJob(dataset=trial.config.dataset, source=RAW_PIXELS, label="", layer=RAW,
                                    task=PROBES, trial_folder=str(trial.files.path), cache_dir=str(cache / key),
                                    width=data.info(trial.config.dataset).features, n_train=shapes["y_train"][0],
                                    n_test=shapes["y_test"][0], split=key, **common), drawn))
    jobs = []
    for base, drawn in raw_layers + layers:
        if plan.knn or plan.linear:
            jobs.append(replace(base, ks=plan.knn, linear=plan.linear, vote=plan.vote))
        umap = plan.embedding(UMAP) if drawn else None
        if drawn and base.flat and umap is None and plan.embeddings:  # drawn as it is, in every column
            umap = Embedding(UMAP, plan.embeddings[0].rows)
        settings = tuple((k, v) for k, v in umap.params if k != "test") if umap else ()
        shared = umap is not None and umap.rows == plan.umap_rows
        if plan.umap_knn:
            jobs.append(replace(base, task=UMAP, rows=plan.umap_rows, params=settings, ks=plan.umap_knn, vote=plan.vote,
                                draw=shared, test=shared and umap.get("test")))
        if umap and not (shared and plan.umap_knn):
            jobs.append(replace(base, task=UMAP, rows=umap.rows, params=settings, draw=True, test=umap.get("test")))
        if drawn and not base.flat:
            jobs += [replace(base, task=e.method, rows=e.rows, params=e.params)
                     for e in plan.embeddings if e.method != UMAP]
    return jobs

"""The numbers a study printed, set beside ours: a space file's `reference:` section, checked, and
the table of the report's "Against the study" section (`tables/seed_comparison.csv`).

```yaml
reference:
  source: Study A's notebook, one run per experiment   # who printed the numbers
  protocol: validation_split 0.0833; test set          # what they were measured on, unless a number says
  numbers:
    - {label: exp0, test_accuracy: 97.27, protocol: validation_split 0.2; test set}
    - {label: exp4, val_accuracy: 96.24}
    - {label: exp0, layer: raw, pca_variance: [0.097, 0.071]}
    - {dataset: mnist, layer: hidden_1, umap-knn3: 96.80, umap-knn5: 96.97}
```

Each entry picks the trials it speaks of (`label`, `dataset`; either may be left out) and, for
probes and PCA, a `layer` (`raw` or `hidden_<i>`), then gives one or more printed numbers:
accuracies in percent (`test_accuracy`, `val_accuracy`, or a probe by its name in the report:
`knn5`, `umap-knn3`, `linear`), `epochs`, and `pca_variance` (explained variance ratios, first
component first). Every printed number becomes one row beside our mean, spread and range over
the sweep's seeds, each side with the protocol it was measured under.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from analysis.plan import mapping, saved_section
from sweep.errors import SpaceError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from analysis.results import Sweep, Trial
    from sweep.folder import SweepFolder

METRICS = {"test_accuracy": 100.0, "val_accuracy": 100.0, "epochs": 1.0}  # metrics.json key -> scale to print
PCA_VARIANCE = "pca_variance"
PROBE = re.compile(r"(umap-)?knn[1-9][0-9]*|linear")
LAYER = re.compile(r"raw|hidden_[1-9][0-9]*")
SELECTORS = ("label", "dataset", "layer", "protocol")


@dataclass(frozen=True)
class Printed:
    """One number a study printed, and what it was printed of."""

    measure: str  # a key of METRICS, PCA_VARIANCE or a probe name
    value: float
    label: str = ""  # "" for every trial
    dataset: str = ""
    layer: str = ""  # probes and PCA: raw or hidden_<i>
    component: int = 0  # PCA_VARIANCE: 1 for the first component
    protocol: str = ""

    @property
    def precision(self) -> float:
        """Half a unit of the last digit the number was written with (97.27: 0.005)."""
        digits = repr(self.value).partition(".")[2].rstrip("0")
        return 0.5 * 10.0 ** -len(digits)


@dataclass(frozen=True)
class Reference:
    source: str
    numbers: tuple[Printed, ...]


def parse(section: Any, where: str, labels: set[str] | None = None) -> Reference | None:
    """The `reference:` section of the space file `where` (None when it has none). With `labels`,
    the space's experiment labels, a number about a label no trial has is refused. Every problem is
    one `SpaceError` naming the key and the fix."""
    if section is None:
        return None
    key = f"{where}: reference"
    section = mapping(key, section, ("source", "protocol", "numbers"))
    numbers = section.get("numbers")
    if not isinstance(numbers, list) or not numbers:
        raise SpaceError(f"{key}.numbers must be a non-empty list of mappings, e.g. [{{label: exp0, "
                         f"test_accuracy: 97.27}}]")
    protocol = _text(f"{key}.protocol", section.get("protocol", ""))
    out = []
    for i, entry in enumerate(numbers):
        out += _entry(f"{key}.numbers[{i}]", entry, protocol, labels)
    return Reference(_text(f"{key}.source", section.get("source", "")), tuple(out))


def of_sweep(files: SweepFolder) -> Reference | None:
    """The reference of the space file saved with a sweep (None if it has none, or none yet)."""
    return parse(saved_section(files, "reference"), str(files.space))


def _entry(key: str, entry: Any, protocol: str, labels: set[str] | None) -> list[Printed]:
    if not isinstance(entry, Mapping):
        raise SpaceError(f"{key} must be a mapping such as {{label: exp0, test_accuracy: 97.27}}, got {entry!r}")
    chosen = {name: _text(f"{key}.{name}", entry[name]) for name in SELECTORS if name in entry}
    if labels is not None and chosen.get("label", "") and chosen["label"] not in labels:
        raise SpaceError(f"{key}.label: no experiment is labelled {chosen['label']!r}; the space's labels are "
                         f"{', '.join(sorted(labels)) or 'none'}")
    if "layer" in chosen and not LAYER.fullmatch(chosen["layer"]):
        raise SpaceError(f"{key}.layer must be raw or hidden_<i> (hidden_1 is the first), got {chosen['layer']!r}")
    measures = {name: value for name, value in entry.items() if name not in SELECTORS}
    if not measures:
        raise SpaceError(f"{key} gives no number; add one of {', '.join([*METRICS, PCA_VARIANCE])} or a probe "
                         f"(knn5, umap-knn3, linear)")
    base = dict(label=chosen.get("label", ""), dataset=chosen.get("dataset", ""), layer=chosen.get("layer", ""),
                protocol=chosen.get("protocol", protocol))
    out = []
    for name, value in measures.items():
        where = f"{key}.{name}"
        if name == PCA_VARIANCE:
            if not isinstance(value, list) or not value:
                raise SpaceError(f"{where} must be a list of explained variance ratios, first component first")
            out += [Printed(name, _number(where, v, 1.0), component=c, **base) for c, v in enumerate(value, 1)]
        elif name in METRICS or PROBE.fullmatch(name):
            out.append(Printed(name, _number(where, value, 100.0 if name != "epochs" else math.inf), **base))
        else:
            raise SpaceError(f"{where}: unknown; a number is one of {', '.join([*METRICS, PCA_VARIANCE])} or a "
                             f"probe (knn<k>, umap-knn<k>, linear); the entry's other keys are {', '.join(SELECTORS)}")
        if (name == PCA_VARIANCE or PROBE.fullmatch(name)) and not base["layer"]:
            raise SpaceError(f"{where} needs the entry's layer: raw or hidden_<i>")
    return out


def _text(key: str, value: Any) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise SpaceError(f"{key} must be text, got {value!r}")
    return str(value)


def _number(key: str, value: Any, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
        raise SpaceError(f"{key} must be a number between 0 and {high:g}, got {value!r}")
    return float(value)


def compare(sweep: Sweep, reference: Reference, records: list[dict],
            variance: Callable[[Trial, str, int], np.ndarray]) -> pd.DataFrame:
    """One row per printed number: the study's value and protocol, then ours over the sweep's
    seeds (mean, std, min, max, n), whether the study's lies within our range to the precision it
    was printed with, and the protocol ours was measured under. `records` are the
    report's probe records; `variance(trial, layer, k)` the first k explained variance ratios."""
    import numpy as np
    import pandas as pd

    rows = []
    for p in reference.numbers:
        trials = [t for t in sweep.completed() if p.label in ("", t.config.label)
                  and p.dataset in ("", t.config.dataset)]
        values, ours = _ours(p, trials, records, variance)
        found = np.array(values, float)
        rows.append({"measure": p.measure + (f" {p.component}" if p.component else ""), "label": p.label,
                     "dataset": p.dataset, "layer": p.layer, "study": p.value,
                     "ours": found.mean() if len(found) else np.nan,
                     "std": found.std(ddof=1) if len(found) > 1 else np.nan,
                     "min": found.min() if len(found) else np.nan, "max": found.max() if len(found) else np.nan,
                     "n": len(found), "difference": found.mean() - p.value if len(found) else np.nan,
                     "within_range": bool(found.min() - p.precision <= p.value <= found.max() + p.precision)
                     if len(found) > 1 else None,
                     "study_protocol": p.protocol, "our_protocol": ours})
    return pd.DataFrame(rows)


def _ours(p: Printed, trials: list[Trial], records: list[dict],
          variance: Callable[[Trial, str, int], np.ndarray]) -> tuple[list[float], str]:
    """Our values of a printed number, one per trial (or per raw-pixel split), and their protocol."""
    if p.measure in METRICS:
        values = [METRICS[p.measure] * t.metrics[p.measure] for t in trials]
        return values, _split_text(trials) + ("; test set" if p.measure == "test_accuracy" else "")
    if p.measure == PCA_VARIANCE:
        values = [float(variance(t, p.layer, p.component)[p.component - 1]) for t in trials]
        rows = {t.shapes().get("y_train", (0,))[0] for t in trials}
        return values, f"PCA of each trial's {', '.join(f'{n:,}' for n in sorted(rows))} training rows"
    from analysis.layers import RAW

    ids = {t.trial_id for t in trials}
    datasets = {t.config.dataset for t in trials}
    found = [r for r in records if r["probe"] == p.measure and r["layer"] == p.layer and r["dataset"] in datasets
             and (p.layer == RAW or r["source"] in ids)]
    if not found:
        return [], "not computed: the analysis plan has no such probe"
    fitted = ", ".join(f"{n:,}" for n in sorted({r["fitted"] for r in found}))
    scored = ", ".join(f"{n:,}" for n in sorted({r["scored"] for r in found}))
    return ([100.0 * r["accuracy"] for r in found],
            f"{found[0].get('vote') or 'plurality'} vote; fitted on {fitted} training rows, scored on {scored} "
            f"test rows")


def _split_text(trials: list[Trial]) -> str:
    """How the trials' validation rows were held out."""
    texts = set()
    for cfg in (t.config for t in trials):
        held = f"{cfg.validation:,} rows" if isinstance(cfg.validation, int) else f"{cfg.validation:g} of the rows"
        texts.add(f"validation {held}, " + ("drawn at random" if cfg.validation_from == "random" else "the last"))
    return "; ".join(sorted(texts)) or "no completed trial"

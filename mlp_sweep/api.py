"""The Python API, for notebooks: run a space, load a sweep, read it as DataFrames and figures.

    >>> import mlp_sweep
    >>> sweep = mlp_sweep.run("search_spaces/smoke.yaml", results="/tmp/results")
    >>> sweep.configurations()                      # test accuracy per configuration, over seeds
    >>> report = sweep.report(top=1, methods=("pca",))
    >>> report.figures["accuracy_by_configuration"]  # a matplotlib Figure

The command line (`mlp_sweep.cli`) is a thin layer over `space`, `run` and `Sweep.report`. Nothing
here changes global state: figures are drawn off pyplot's list of open figures, and the report
keeps the caller's matplotlib backend and logging.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from sweep.errors import SweepError
from sweep.folder import SweepFolder
from sweep.runner import RunOptions, run_sweep
from sweep.space import Space
from sweep.space_file import load_space
from sweep.storage import Storage, is_uri


def space(path: str | Path, *, dataset: str | dict | None = None, max_epochs: int | None = None,
          seeds: tuple[int, ...] | None = None, search: str | None = None, num_samples: int | None = None,
          scheduler: str | None = None) -> Space:
    """Read and check a space file, its analysis plan and reference numbers, as `sweep run` does.

    Args:
        path: the space file, e.g. `search_spaces/smoke.yaml`.
        dataset: a shipped data set's name, or the path (or `{path: ..., label: ...}`) of your own,
            for every trial.
        max_epochs, seeds, search, num_samples, scheduler: the command line's overrides.

    Returns:
        The checked `Space`; every problem raises a `SweepError` naming the file, the key and the fix.

    Example:
        >>> mlp_sweep.space("search_spaces/study_a.yaml", seeds=(0, 1, 2)).size
        33
    """
    from analysis import plan, reference

    checked = load_space(path, search=search, num_samples=num_samples, scheduler=scheduler, seeds=seeds,
                         params={"dataset": dataset, "max_epochs": max_epochs})
    declared = plan.parse(checked.analysis, str(path))
    for name in checked.values("dataset"):
        plan.check_data(declared, name, str(path))
    reference.parse(checked.reference, str(path), checked.labels)
    return checked


def run(space_file: str | Path | Space, *, results: str | Path = "results", name: str | None = None,
        report: bool = False, log: Callable[[str], None] = print, **options: Any) -> Sweep:
    """Run every trial of a space on Ray Tune and wait for them; return the sweep.

    Args:
        space_file: a space file (checked with `space()`) or a `Space`.
        results: the results root, a folder or a URI like `s3://bucket/sweeps`; the sweep lands in
            `<results>/<name>`.
        name: the sweep's name; default: the space file's stem.
        report: analyse each trial as it completes and keep `report/report.html` up to date.
        log: where progress lines go (default: printed).
        **options: `RunOptions` fields: `concurrency`, `cpus_per_trial`, `gpus_per_trial`, `address`,
            `resume`, `data_dir`, `backend`, `mlflow`.

    Returns:
        The `Sweep`, whether or not every trial completed (see `Sweep.trials()`'s `status`).

    Example:
        >>> sweep = mlp_sweep.run("search_spaces/smoke.yaml", results="/tmp/results")
        >>> sweep.trials()[["label", "test_accuracy"]]
    """
    checked = space_file if isinstance(space_file, Space) else space(space_file)
    run_options = RunOptions(results=place(str(results)), name=name, **options)
    if report:
        from analysis.report import ReportOptions, run_with_report

        run_with_report(checked, run_options, ReportOptions(data_dir=run_options.data_dir), log=log)
    else:
        run_sweep(checked, run_options, log=log)
    return load(run_options.location(checked))


def load(where: str | Path) -> Sweep:
    """A sweep, from its folder or its URI on object storage (fetched into this machine's mirror).

    Args:
        where: `results/<name>`, or e.g. `s3://bucket/sweeps/<name>` (credentials from the environment).

    Returns:
        The `Sweep`; a `SweepError` if there is none there.

    Example:
        >>> sweep = mlp_sweep.load("results/study_a")
        >>> sweep.configurations()
    """
    from analysis.results import load_sweep

    folder, storage = opened(where)
    load_sweep(folder.path)  # a wrong folder is an error now
    return Sweep(str(where), folder, storage)


def opened(where: str | Path, say: Callable[[str], None] | None = None) -> tuple[SweepFolder, Storage | None]:
    """A sweep's folder to read, and its storage where `where` is a URI: then the folder is this
    machine's mirror, fetched now (`say` is told first)."""
    if not is_uri(str(where)):
        return SweepFolder(Path(where)), None
    storage = Storage(str(where))
    storage.check()
    if not storage.exists():
        raise SweepError(f"{where}: no sweep here (sweep.json missing); give the URI of a sweep, <results>/<name>")
    if say:
        say(f"fetching {where} into {storage.mirror.path}")
    return storage.fetch(), storage


@dataclass(frozen=True)
class Sweep:
    """A sweep's results: its trials, configurations and activations, and its report.

    Each call reads the folder as it is now, so a sweep still running shows its progress."""

    location: str  # the folder or URI it was loaded from
    folder: SweepFolder  # on object storage, this machine's mirror
    storage: Storage | None = None

    @property
    def results(self) -> Any:
        """The sweep as `analysis.results` reads it (`analysis.results.Sweep`)."""
        from analysis.results import load_sweep

        if self.storage:
            self.storage.fetch()
        return load_sweep(self.folder.path)

    def trials(self) -> pd.DataFrame:
        """One row per trial: its configuration, status, test accuracy, epochs, timings.

        Example:
            >>> sweep.trials().sort_values("test_accuracy", ascending=False).head()
        """
        return self.results.table()

    def configurations(self) -> pd.DataFrame:
        """Completed trials pooled over seeds: per configuration the mean, sample std and count of
        each metric (`test_accuracy_mean`, `test_accuracy_std`, `n`, ...), best first.

        Example:
            >>> sweep.configurations()[["label", "architecture", "test_accuracy_mean", "n"]]
        """
        from analysis import tables

        return tables.configurations(self.trials())

    def activations(self, trial: str, layer: str, rows: str = "test") -> pd.DataFrame:
        """One hidden layer's activations, a row per example, with its labels.

        Args:
            trial: a trial id, or a label that one trial carries.
            layer: `hidden_1`, `hidden_2`, ...
            rows: `test`, or `train` (the rows the trial fitted on, or those it kept).

        Returns:
            Columns `node_0` ... `node_<width-1>`, then `true` and `predicted` (class names) and `row`
            (the data set's row).

        Example:
            >>> acts = sweep.activations("bottleneck", "hidden_2")
            >>> acts.plot.scatter("node_0", "node_1", c=acts.true.cat.codes, cmap="tab10")
        """
        if rows not in ("test", "train"):
            raise SweepError(f"rows must be test or train, got {rows!r}")
        found = self._trial(trial)
        if layer not in found.hidden_layers:
            raise SweepError(f"trial {found.trial_id} has layers {', '.join(found.hidden_layers)}, not {layer!r}")
        from sweep import data

        classes = list(data.load(found.config.dataset).classes)
        with found.activations() as acts:
            values = acts[f"{layer}_{rows}"].astype("float32")
            frame = pd.DataFrame(values, columns=[f"node_{i}" for i in range(values.shape[1])])
            for column, key in (("true", "y"), ("predicted", "pred")):
                frame[column] = pd.Categorical.from_codes(acts[f"{key}_{rows}"].astype(int), categories=classes)
            frame["row"] = acts[f"index_{rows}"]
        return frame

    def report(self, *, top: int | None = None, trials: tuple[str, ...] = (), methods: tuple[str, ...] = (),
               subsample: int | None = None, quiet: bool = True, **options: Any) -> Report:
        """Analyse the sweep as its plan says (cached layer jobs are read, not computed again), write
        `report/report.html`, and return every figure and table of it.

        Args:
            top, trials, methods, subsample: `sweep report`'s overrides of the plan: the best N trials
                shown in full, trial ids or labels shown in full besides, the embedding methods drawn,
                the training rows each embedding draws.
            quiet: no progress on stderr.
            **options: other `analysis.report.ReportOptions` fields (`probe_rows`, `nodes`, `image`,
                `address`, `data_dir`, `seed`).

        Returns:
            A `Report`: the page's path, its figures (matplotlib), its interactive figures (Plotly, and
            the embedding explorer as HTML) and its tables.

        Example:
            >>> report = sweep.report(top=1, methods=("pca", "umap"))
            >>> report.figures["probes_by_layer"]
            >>> report.interactive[f"{report.shown[0]}_embeddings"]   # the explorer
        """
        from analysis.progress import Progress
        from analysis.report import ReportOptions, build_report

        summary = build_report(self.folder.path, ReportOptions(top=top, trials=tuple(trials), methods=tuple(methods),
                                                               subsample=subsample, keep_figures=True, **options),
                               progress=Progress(quiet=quiet))
        if self.storage:
            self.storage.push(self.storage.mirror.report)
        return Report(summary.html, {n: d.figure for n, d in summary.drawn.items()},
                      {n: d.live for n, d in summary.drawn.items() if d.live is not None}, summary.failed)

    def _trial(self, trial: str) -> Any:
        swept = self.results
        named = [t for t in swept.trials if trial in (t.trial_id, t.config.label)]
        if len(named) != 1:
            raise SweepError(f"{self.location}: {len(named)} trials have id or label {trial!r}; give a trial id "
                             f"(the trial_id column of trials())")
        if not named[0].completed:
            raise SweepError(f"trial {named[0].trial_id} has not completed ({named[0].status})")
        return named[0]


@dataclass(frozen=True)
class Report:
    """A report as written: where its page is, its figures, interactive figures and tables."""

    html: Path
    figures: dict[str, Any]  # name -> matplotlib Figure, as `report/figures/<name>.png`
    interactive: dict[str, Any]  # name -> the page's interactive twin (`plotly` holds Plotly's figure)
    failed: list[str]  # layer jobs that failed, with their errors

    @property
    def tables(self) -> Path:
        return self.html.parent / "tables"

    @cached_property
    def probes(self) -> pd.DataFrame:
        """Every probe's test accuracy on every layer: one row per (trial, layer, probe), with what it
        was fitted and scored on (`tables/probes_long.csv`)."""
        return pd.read_csv(self.tables / "probes_long.csv")

    @cached_property
    def cka(self) -> pd.DataFrame:
        """Linear CKA between the layers of each trial shown in full (`tables/cka_within_trials.csv`)."""
        path = self.tables / "cka_within_trials.csv"
        return pd.read_csv(path) if path.stat().st_size else pd.DataFrame()

    @property
    def shown(self) -> list[str]:
        """The trials shown in full, by id."""
        return sorted({name.split("_learning_curves")[0] for name in self.figures if name.endswith("_learning_curves")})

    def _repr_html_(self) -> str:
        return f"<p>report: <a href='{self.html.as_uri()}'>{self.html}</a>, {len(self.figures)} figures</p>"


def place(text: str) -> str:
    """A folder made absolute, so that it means the same in Ray's workers (which run in folders of
    their own), or a URI on object storage as given."""
    return text if is_uri(text) else str(Path(text).absolute())

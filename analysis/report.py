"""`build_report(sweep_dir)`: the whole analysis of a sweep, written to `<sweep>/report/`.

report.html (self-contained), report.md, tables/*.csv, figures/*.png, and cache/ with every
embedding and probe score, so a second run recomputes nothing. The per-layer work runs as Ray
tasks (`analysis.runner`); with `follow`, the report keeps pace with a running sweep: each trial's
layer jobs start as soon as it completes and the page is rewritten, marked partial, as results
arrive.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import explorer, interactive, plots, reference, similarity, tables
from analysis.compute import SETTLING_CLASS, Computed
from analysis.embed import TITLES
from analysis.layers import RAW, TEST, UMAP, LayerJob, LayerResult
from analysis.page import Drawn, Page
from analysis.plan import Plan, jobs_of, parse, raw_key, saved_plan, saved_section, shown
from analysis.probes import MAJORITY, PLURALITY
from analysis.progress import Progress, duration
from analysis.results import Sweep, Trial, finished, load_sweep
from analysis.runner import SLOTS, JobRunner
from sweep import data, reduce, trackers
from sweep.artifacts import write_text
from sweep.errors import SweepError
from sweep.folder import SweepFolder
from sweep.runner import RunOptions
from sweep.space import Space
from sweep.storage import mirrored

POLL = 2.0  # seconds between looks at a followed sweep's folder
REWRITE = 15.0  # least seconds between two partial pages (and at least 3x the time one takes)
EXPLORED_ROWS = 10_000  # the most rows the embedding explorer carries (each with its picture)


@dataclass(frozen=True)
class ReportOptions:
    """One run of a report: where it computes, and overrides of the sweep's analysis plan for this
    run (None or empty: as the plan says)."""

    top: int | None = None  # the best N trials shown in full
    trials: tuple[str, ...] = ()  # trial ids or labels shown in full besides
    methods: tuple[str, ...] = ()  # embedding methods drawn
    subsample: int | None = None  # rows every embedding draws
    probe_rows: int | None = None  # train rows the KNN-on-UMAP probe fits on
    nodes: tuple[tuple[str, int], ...] = ()  # (layer, node) box plots
    image: int = 0  # the test image whose class probabilities each trial shown in full draws
    address: str | None = None  # Ray cluster for the layer jobs; None: the running one, or a local Ray
    data_dir: str | None = None
    seed: int = 0
    plan: Plan | None = None  # instead of the plan saved with the sweep
    keep_figures: bool = False  # every figure of the final page as an object (`ReportSummary.drawn`), all drawn afresh

    def __post_init__(self) -> None:
        if self.image < 0:
            raise SweepError(f"--image must be >= 0, got {self.image}")
        self.plan_for(Plan())  # the overrides' own checks, before anything starts

    def plan_for(self, saved: Plan) -> Plan:
        return (self.plan or saved).overridden(top=self.top, trials=self.trials, methods=self.methods,
                                               subsample=self.subsample, probe_rows=self.probe_rows, nodes=self.nodes)


@dataclass
class ReportSummary:
    html: Path
    markdown: Path
    seconds: dict[str, float] = field(default_factory=dict)  # jobs (summed), compute and page (wall), total
    computed: int = 0  # cache entries computed rather than read
    jobs: list[dict] = field(default_factory=list)  # one row per layer job: what, where, how long
    failed: list[str] = field(default_factory=list)  # layer jobs that failed, with their errors
    drawn: dict[str, Drawn] = field(default_factory=dict)  # with `keep_figures`: every figure, by name


def build_report(sweep_dir: str | Path, options: ReportOptions = ReportOptions(), *,
                 progress: Progress | None = None, follow: Callable[[], bool] | None = None,
                 share: int | None = None) -> ReportSummary:
    """Compute every layer job (Ray tasks; cached ones read) and write the report.

    With `follow`, a function that says whether the sweep has ended: until it does, the jobs of
    trials that complete meanwhile are submitted as they appear and a partial page is rewritten
    as results come in; then the final report is written. `share`: layer jobs at once until then
    (the cores the trials leave free); None: as many as Ray allows.
    """
    start = time.perf_counter()
    progress = progress or Progress()
    files = SweepFolder(Path(sweep_dir))
    out = files.report
    results: dict[LayerJob, LayerResult] = {}
    runner = JobRunner(progress, options.address)
    sweep, jobs, looked, written, page_seconds = None, [], 0.0, 0.0, 0.0
    final_look = False  # the sweep has ended and its folder was read since: nothing more will appear
    stale = False  # results came in since the last partial page began
    page: Future | None = None  # a partial page being written while the jobs go on
    drawn: set[str] = set()  # trials whose sections are drawn and kept while other jobs run
    plan = options.plan_for(saved_plan(files))
    reference.of_sweep(files)  # a saved space's bad reference is refused before Ray starts
    computed = Computed(plan, options.data_dir, options.seed, out / "cache")
    if first := _load(sweep_dir, follow is not None):  # a bad folder or option is refused before Ray starts
        _check_options(first, plan, options, strict=follow is None)
    # Partial pages are written on a thread of their own: while one is drawn, finished jobs are
    # still replaced by queued ones on the cores the trials leave.
    with runner.running(), ThreadPoolExecutor(1, thread_name_prefix="partial-page") as pages:
        while True:
            ended = follow is None or follow()
            runner.limit = None if ended else share
            if not final_look and (ended or time.perf_counter() - looked >= POLL):
                looked, final_look = time.perf_counter(), ended
                # Not following, the folder read before Ray started is the sweep as it stays.
                now = first if follow is None else _load(sweep_dir, not ended)
                if sweep is None and now:
                    progress.say(f"report: {len(now.completed())} completed of {len(now.trials)} trial folders "
                                 f"({now.planned} planned){'; following the sweep' if follow else ''}")
                sweep = now
                jobs = jobs_of(sweep, plan, out / "cache", strict=ended, data_dir=options.data_dir,
                               seed=options.seed, sweep_uri=mirrored(sweep.files)) if sweep else []
                runner.submit(jobs)
            fresh = runner.poll(timeout=1.0)
            results |= {r.job: r for r in fresh}
            stale = stale or bool(fresh)
            if page is not None and page.done():
                written, page_seconds = page.result()  # raises what writing it raised
                page = None
            if ended and not runner.busy:
                break
            # While the other jobs run, draw the trials whose jobs are in, once the trials shown in full
            # are settled (not where the final page draws every section afresh to keep its figures).
            if fresh and ended and page is None and not options.keep_figures:
                _draw_ready(sweep, plan, computed, options, out, jobs, results, drawn)
            # Once the sweep has ended, the final page is next: a partial one would only delay it.
            due = page is None and not ended and time.perf_counter() - written >= max(REWRITE, 3 * page_seconds)
            if sweep and follow and (stale or not written) and due:
                page, stale = pages.submit(_partial, sweep, plan, computed, options, out,
                                           [results[j] for j in jobs if j in results]), False
        if page is not None:
            page.result()
    compute = time.perf_counter() - start
    done = [results[j] for j in jobs]
    page_start = time.perf_counter()
    html_path, md_path, drawn = _write(sweep, plan, computed, options, out, done, partial=False)
    seconds = {"jobs": sum(r.seconds for r in done if r.computed), "compute": compute,
               "page": time.perf_counter() - page_start, "total": time.perf_counter() - start}
    summary = ReportSummary(html_path, md_path, seconds, sum(len(r.computed) for r in done), _job_rows(done),
                            [f"{r.job.title}: {r.error}" for r in done if r.error], drawn)
    write_text(out / "tables" / "layer_jobs.csv", pd.DataFrame(summary.jobs).to_csv(index=False))
    trackers.log_report(files.read_record(), out)  # to the sweep's MLflow run, where it was tracked
    failed = f", {len(summary.failed)} FAILED" if summary.failed else ""
    progress.close(f"report: {html_path} ({duration(seconds['total'])}; {len(jobs)} layer jobs, "
                   f"{summary.computed} cache entries computed{failed})")
    return summary


def run_with_report(space: Space, run: RunOptions, options: ReportOptions = ReportOptions(),
                    log: Callable[[str], None] = print) -> tuple[Path, ReportSummary]:
    """Run a sweep with its report computed beside it on the same Ray: a thread of this driver
    submits each trial's layer jobs as the trial completes and rewrites the page; the jobs run in
    report slots beside the trials still training rather than after them (`cores_for`). The final
    page follows the sweep's end. Returns the sweep folder and the report."""
    from sweep.cluster import connected
    from sweep.runner import run_sweep

    ended, outcome = threading.Event(), {}
    storage = run.storage(space)
    options = replace(options, plan=options.plan or parse(space.analysis, str(space.path)))
    run, share = cores_for(run)
    if share:
        log(f"{run.concurrency} trial(s) at once; the report's layer jobs take {share} core(s) until the last "
            f"trial ends, then every core (--concurrency sets the trials)")

    def report() -> None:
        try:
            outcome["summary"] = build_report(run.folder(space).path, options, progress=Progress(redraw=False),
                                              follow=storage.following(ended.is_set) if storage else ended.is_set,
                                              share=share)
        except Exception as exc:  # noqa: BLE001 - the sweep goes on; the report's failure is raised after it
            outcome["error"] = exc

    with connected(run.address, resources={SLOTS: os.cpu_count() or 1}):  # as many layer jobs as cores
        thread = threading.Thread(target=report, name="report", daemon=True)
        thread.start()
        try:
            sweep_dir = run_sweep(space, run, log=log)
        finally:
            ended.set()
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return sweep_dir, outcome["summary"]


def cores_for(run: RunOptions) -> tuple[RunOptions, int | None]:
    """How a sweep and its followed report share the cores of a Ray started here for CPU trials: the
    trials take half (rounded up; `--concurrency` says otherwise), the layer jobs the rest until the
    last trial ends. A trial sharing its core with a job trains slower, one of many small steps
    (batch 32) up to 4x. On a cluster, or with GPU trials, Ray's scheduler shares them (None)."""
    if run.address or os.environ.get("RAY_ADDRESS") or run.gpus_per_trial:
        return run, None
    cores = os.cpu_count() or 1
    trials = run.concurrency or max(1, int((cores + 1) // 2 / run.cpus_per_trial))
    return replace(run, concurrency=trials), max(1, cores - int(trials * run.cpus_per_trial))


def _load(sweep_dir: str | Path, early: bool) -> Sweep | None:
    """The sweep as it is now; None while a followed sweep has not written its folder yet. Trials
    that repeat another's configuration and seed are refused: pooled, they would pass for seeds."""
    if early and not SweepFolder(Path(sweep_dir)).is_sweep():
        return None
    sweep = load_sweep(sweep_dir)
    if repeats := sweep.repeated():
        raise SweepError(f"{sweep.files.path}: {len(repeats)} of {len(sweep.trials)} trials repeat another's "
                         f"configuration and seed ({', '.join(t.trial_id for t in repeats[:3])}); tables would "
                         f"count them as seeds: delete those folders under trials/")
    return sweep


def _check_options(sweep: Sweep, plan: Plan, options: ReportOptions, strict: bool) -> None:
    """Trials named by the plan exist (with `strict`; a followed sweep may complete them later),
    `--nodes` name nodes that exist in the trials shown and `--image` one of their test images."""
    chosen = shown(sweep, plan, strict)
    if chosen and options.image >= (n := min(t.shapes()["y_test"][0] for t in chosen)):
        raise SweepError(f"--image: the trials shown have {n} test images, so image {options.image} is not among them; "
                         f"give 0 to {n - 1}")
    for layer, node in plan.nodes:
        widths = {t.shapes()[f"{name}_test"][1] for t in chosen for name in t.hidden_layers if layer in (None, name)}
        if layer is not None and chosen and not widths:
            raise SweepError(f"--nodes: no trial shown in full has a layer {layer!r}; name one like hidden_1:3")
        if widths and node >= max(widths):
            raise SweepError(f"--nodes: the widest such layer of a trial shown has {max(widths)} units, so node {node} "
                             f"is in none of them; give 0 to {max(widths) - 1}")


def _job_rows(results: list[LayerResult]) -> list[dict]:
    return [{"dataset": r.job.dataset, "source": r.job.source, "label": r.job.label, "layer": r.job.layer,
             "task": r.job.task, "width": r.job.width, "rows": r.job.fitted, "estimate_s": round(r.job.cost(), 1),
             "seconds": round(r.seconds, 2), "ended": round(r.ended, 2), "computed": len(r.computed), "node": r.node,
             "error": r.error}
            for r in results]


def _write(sweep: Sweep, plan: Plan, computed: Computed, options: ReportOptions, out: Path,
           results: list[LayerResult], partial: bool) -> tuple[Path, Path, dict[str, Drawn]]:
    """The page, its tables and figures from the results in so far; with `keep_figures`, the figures too."""
    trials = sweep.table()
    chosen = shown(sweep, plan, strict=not partial)
    # The raw input's rows named for what it is: raw pixels, or raw features where rows are not images.
    records = [r | ({"source": f"raw {computed.dataset(r['dataset']).inputs}"} if r["layer"] == RAW else {})
               for res in results for r in res.records]
    keep = options.keep_figures and not partial
    page = Page(f"Sweep report: {sweep.files.name}" + (" (partial)" if partial else ""), out,
                refresh=30 if partial else None, kept=None if keep else out / "cache" / "drawn",
                drawn={} if keep else None)
    configs = tables.configurations(trials)
    _overview(page, sweep, trials, computed, partial)
    _comparison(page, trials, configs, partial)
    _optuna(page, sweep)
    probes = tables.probe_table(records)
    _probes(page, records, probes, trials)
    # Across the sweep, CKA and the hyperparameters' importance are fitted once, on the final page:
    # a rewrite while the sweep runs draws and does not compute.
    across = [] if partial else similarity.across_sweep(sweep, out / "cache" / "similarity", options.seed)
    _similarity(page, across, partial)
    _pixels(page, sweep, chosen, computed)
    _reductions(page, sweep, computed)
    columns = _columns(plan)
    drawings = _drawings(results, columns)
    study = reference.of_sweep(sweep.files)
    against = None if partial or study is None else computed.against(sweep, study, records)
    _against(page, study, against)
    within = []
    for trial in chosen:
        _trial_part(page, trial, drawings, columns, computed, options)
        own, m = computed.similarity(trial), trial.metrics
        within.append(_labelled(own.pairs(), trial_id=trial.trial_id, label=m.get("label", ""),
                                architecture=trial.config.architecture, seed=m["seed"]).assign(rows=own.rows))
    _write_tables(out / "tables", trials, configs, records, probes, within, across, against)
    return *page.write(), page.drawn or {}


def _trial_part(page: Page, trial: Trial, drawings: dict[tuple[str, str, str], LayerResult], columns: list[str],
                computed: Computed, options: ReportOptions) -> None:
    """The trial's section: kept from an earlier page that drew the same trial with the same
    results, or drawn now and kept."""
    m = trial.metrics
    drawn = {layer: result for layer in [RAW, *trial.hidden_layers]
             if (result := drawings.get((m["dataset"], raw_key(trial) if layer == RAW else trial.trial_id, layer)))
             and result.coords}
    key = json.dumps([trial.trial_id, m.get("trial_ended"), repr(computed.plan), options.image,
                      [(layer, sorted(r.notes.items())) for layer, r in drawn.items()]], default=str)
    if not page.reuse(f"trial-{trial.trial_id}", key):
        _trial_section(page, trial, drawn, columns, computed, options)
        page.keep(key)


def _partial(sweep: Sweep, plan: Plan, computed: Computed, options: ReportOptions, out: Path,
             results: list[LayerResult]) -> tuple[float, float]:
    """The partial page of a followed sweep; when it was written and the seconds it took."""
    start = time.perf_counter()
    _write(sweep, plan, computed, options, out, results, partial=True)
    return time.perf_counter(), time.perf_counter() - start


def _draw_ready(sweep: Sweep, plan: Plan, computed: Computed, options: ReportOptions, out: Path,
                jobs: list[LayerJob], results: dict[LayerJob, LayerResult], drawn: set[str]) -> None:
    """Draw and keep the sections of the trials shown in full whose layer jobs (and their data
    split's raw-pixel jobs) are all in, so the final page only gathers them; `drawn` says which are."""
    waiting = {(j.dataset, j.rows_of) for j in jobs if j not in results}
    ready = [t for t in shown(sweep, plan, strict=False) if t.trial_id not in drawn
             and not {(t.config.dataset, t.trial_id), (t.config.dataset, raw_key(t))} & waiting]
    drawn.update(t.trial_id for t in ready)
    if ready:
        columns = _columns(plan)
        drawings = _drawings([results[j] for j in jobs if j in results], columns)
        scratch = Page("", out, kept=out / "cache" / "drawn")
        for trial in ready:
            _trial_part(scratch, trial, drawings, columns, computed, options)


def _columns(plan: Plan) -> list[str]:
    """The embedding figure's columns: each method of the plan, and UMAP's test rows where drawn."""
    umap = plan.embedding(UMAP)
    return [c for m in plan.methods for c in ([m, UMAP + TEST] if m == UMAP and umap.get("test") else [m])]


def _drawings(results: list[LayerResult], columns: list[str]) -> dict[tuple[str, str, str], LayerResult]:
    """Every layer's coordinates, rows and notes, merged from its jobs, in the order of `columns`,
    by (data set, trial id or, for raw pixels, `raw_key`, layer): trials with other validation
    splits have other raw-pixel rows. A layer of width <= 2 is drawn as it is in every column."""
    merged: dict[tuple[str, str, str], LayerResult] = {}
    for res in results:
        job = res.job
        into = merged.setdefault((job.dataset, job.rows_of, job.layer), LayerResult(job))
        for part in ("coords", "positions", "notes"):
            getattr(into, part).update(getattr(res, part))
    for layer in merged.values():
        if layer.job.flat and UMAP in layer.coords:
            for column in columns:
                kind = UMAP + TEST if column.endswith(TEST) else UMAP
                if kind in layer.coords:
                    layer.coords[column], layer.positions[column] = layer.coords[kind], layer.positions[kind]
                    layer.notes[column] = layer.notes[kind]
        for part in ("coords", "positions", "notes"):
            setattr(layer, part, {c: getattr(layer, part)[c] for c in columns if c in layer.coords})
    return merged


def _overview(page: Page, sweep: Sweep, trials: pd.DataFrame, computed: Computed, partial: bool) -> None:
    page.section("overview", "Overview")
    if partial:
        page.text("Partial: the sweep is still running and its layers are being analysed; this page is rewritten "
                  "as results come in (a browser reloads it every 30 s).")
    counts = trials.status.value_counts().to_dict() if len(trials) else {}
    not_started = max(0, sweep.planned - len(sweep.trials))
    page.text(f"{sweep.files.name}: {sweep.planned} trials planned; " + ", ".join(f"{n} {s}" for s, n in counts.items())
              + (f", {not_started} not started" if not_started else ""))
    if description := saved_section(sweep.files, "description"):
        page.text(str(description))
    for name in dict.fromkeys(t.config.dataset for t in sweep.trials):
        ds = computed.dataset(name)
        page.text(f"{name} ({ds.origin}): {len(ds.y_train):,} training and {len(ds.y_test):,} test rows of "
                  f"{' x '.join(map(str, ds.shape))} {ds.inputs}, {len(ds.classes)} classes; input scaling: "
                  f"{ds.scaling}.")
    lineage = "started_from" in trials and trials.started_from.notna().any()
    page.table(trials[[c for c in ["trial_id", "status", "label", "dataset", "architecture", "dropout", "seed",
                                   *(["init_from", "started_from"] if lineage else []),
                                   "test_accuracy", "epochs", "train_seconds", "node", "error"] if c in trials]],
               "Every trial folder; running or killed trials show as running, failed ones with their error."
               + (" A trial with init_from started from the end of the trial in started_from." if lineage else ""))


def _comparison(page: Page, trials: pd.DataFrame, configs: pd.DataFrame, partial: bool) -> None:
    page.section("comparison", "Accuracy across configurations")
    if configs.empty:
        return page.text("No completed trials yet.")
    page.table(tables.readable(configs), "Configurations pooled over seeds, best first (mean ± sample std).")
    page.figure("accuracy_by_configuration", plots.plot_accuracy_by_configuration(configs),
                "Test accuracy per configuration, mean ± std over seeds.")
    page.figure("accuracy_vs_parameters", plots.plot_accuracy_vs(configs, "n_params", log=True),
                "Test accuracy against the number of parameters.")
    if len(series := tables.last_width_series(trials)):
        page.figure("accuracy_vs_bottleneck", plots.plot_accuracy_vs_width(series),
                    "Test accuracy against the width of the last hidden layer, for configurations that differ in "
                    "nothing else: the mean over seeds as a line, ± one standard deviation as a band, each seed a dot.")
    elif configs.bottleneck.nunique() > 1:
        page.figure("accuracy_vs_bottleneck", plots.plot_accuracy_vs(configs, "bottleneck", log=True),
                    "Test accuracy against the narrowest hidden layer (the bottleneck).")
    if varying := tables.varying(trials, [*tables.HYPERPARAMETERS, "dataset"]):
        page.figure("parallel_coordinates", plots.plot_parallel(*plots.parallel_info(trials, varying)),
                    "Hyperparameters of every completed trial and its test accuracy; colour: test accuracy. Drag "
                    "along an axis to keep only the trials in that range (drag again to move it, click to clear); "
                    "drag an axis's title to reorder.",
                    live=interactive.parallel(finished(trials)[[*varying, "test_accuracy"]]))
    for dataset, group in trials.groupby("dataset", sort=False):  # accuracies of two data sets are not comparable
        scores = pd.Series() if partial else tables.importance(group)
        if len(scores):
            page.figure(f"hyperparameter_importance_{dataset}",
                        plots.plot_importance(scores, "share of test-accuracy variance (random-forest importance)"),
                        f"{dataset}: which hyperparameters explain test accuracy, from a random forest over "
                        f"{len(finished(group))} trials.")


def _optuna(page: Page, sweep: Sweep) -> None:
    study = tables.optuna_study(sweep.files)
    if study is None:
        return
    history, importance = study
    page.section("optuna", "Optuna search")
    db = sweep.files.optuna_db.name
    page.text(f"{len(history)} finished trials in the study stored at {sweep.files.name}/{db} "
              f"(open it with optuna.load_study(study_name={sweep.files.name!r}, storage='sqlite:///{db}')). "
              "The objective is validation accuracy; test data never steers the search.")
    if len(history):
        page.figure("optuna_history", plots.plot_optimization_history(history), "Optimisation history.")
    if len(importance):
        page.figure("optuna_importance", plots.plot_importance(importance.sort_values(ascending=False),
                                                               "share of validation-accuracy variance (fANOVA)"),
                    "Optuna's parameter importances (fANOVA) for validation accuracy.")


def _probes(page: Page, records: list[dict], table: pd.DataFrame, trials: pd.DataFrame) -> None:
    page.section("probes", "Probes per layer")
    if not records:
        return page.text("No probes: the analysis plan asks for none, or no trial has completed yet.")
    frame = pd.DataFrame(records)
    page.text("Each probe's test accuracy on every layer; raw pixels (or features) are the input before any "
              "reduction. "
              + " ".join(_probe_text(name, group) for name, group in frame.groupby("probe", sort=False)))
    page.table(table, "Test accuracy of each probe, by layer.")
    names = {t: f"{label} {arch}".strip() for t, label, arch in zip(trials.trial_id, trials.label.fillna(""),
                                                                     trials.architecture)}
    shown_probe = next(p for p in ("umap-knn5", "knn5", *frame.probe) if p in set(frame.probe))
    page.figure("probes_by_layer", plots.plot_probes_by_layer(records, shown_probe, names),
                f"{shown_probe} by layer: how separable the classes become with depth.")


def _probe_text(name: str, group: pd.DataFrame) -> str:
    """What one probe is, and the rows it was fitted and scored on, so its numbers keep their context."""
    vote = _VOTES.get(group.vote.iloc[0] if "vote" in group else "", "")
    what = ("the linear probe, a logistic regression on the standardised layer" if name == "linear"
            else f"{name.removeprefix('umap-knn')}-nearest-neighbour {vote} on a 2-D UMAP of the layer, fitted on "
                 f"training rows and applied to the test rows (a layer of one or two units: on the layer itself, "
                 f"column 'probed directly')" if name.startswith("umap-knn")
            else f"{name.removeprefix('knn')}-nearest-neighbour {vote} on the layer itself (exact, all its columns)")
    fitted = ", ".join(f"{n:,}" for n in sorted(set(group.fitted)))
    scored = ", ".join(f"{n:,}" for n in sorted(set(group.scored)))
    return f"{name}: {what}; fitted on {fitted} training rows, scored on {scored} test rows."


_VOTES = {PLURALITY: "plurality vote",
          MAJORITY: "majority vote (a class needs more than k/2 of the neighbours, else class 0, as "
                           "scikit-learn's KNN fitted on one-hot labels)"}


def _against(page: Page, study: reference.Reference | None, table: pd.DataFrame | None) -> None:
    """Every number the study printed beside ours, each with the protocol it was measured under."""
    if study is None:
        return
    page.section("study", "Against the study")
    if table is None:
        return page.text("Set beside the study's numbers on the final page, once the sweep has ended.")
    several = table[table.n > 1]
    page.text(f"{len(table)} numbers printed by {study.source or 'the study'}, beside ours: the mean over "
              f"the sweep's trials (its seeds), with std, min and max where there are several. "
              + (f"{int(several.within_range.sum())} of the {len(several)} with several seeds lie within our "
                 f"range. " if len(several) else "")
              + "Each side names the protocol it was measured under; accuracies are in percent.")
    page.table(table, "The study's numbers and ours (tables/seed_comparison.csv).", digits=3)


def _similarity(page: Page, across: list[similarity.SweepSimilarity], partial: bool) -> None:
    if partial:
        page.section("similarity", "Layer similarity across the sweep (CKA)")
        return page.text("Computed once the sweep has ended, over every layer it trained.")
    if not across:
        return
    page.section("similarity", "Layer similarity across the sweep (CKA)")
    page.text(f"Linear centered kernel alignment between the hidden layers of every completed configuration (its "
              f"lowest seed), on the same {similarity.ROWS} stratified test rows of its data set: 1 for "
              f"representations equal up to a rotation and scale. Left the plain estimator, right the debiased one "
              f"(no drift towards 1 for wide layers). Each trial shown in full below also compares its own layers "
              f"with the raw input and its output.")
    for found in across:
        page.figure(f"cka_{found.dataset}", plots.plot_cka(found.layers.matrices(), found.layers.names),
                    f"{found.dataset}: every hidden layer against every other, grouped by architecture.")
        if len(found.seeds):
            page.table(found.seeds.round(3), f"{found.dataset}: the same layer across seeds, linear CKA over every "
                                             f"pair of seeds (mean and lowest): how stable the representation is.")


def _pixels(page: Page, sweep: Sweep, chosen: list[Trial], computed: Computed) -> None:
    """Per data set, two raw pixels against each other: the plan's pair, or the one that best
    separates the classes and the best of the others."""
    datasets = [d for d in dict.fromkeys(t.config.dataset for t in sweep.completed()) if computed.dataset(d).images]
    if not datasets:
        return
    plan = computed.plan
    page.section("pixels", "Raw pixels")
    for dataset in datasets:
        trial = next((t for t in chosen if t.config.dataset == dataset), None)
        pair = computed.pixels(dataset, trial)
        ds = computed.dataset(dataset)
        names = [f"pixel {p} ({', '.join(f'{axis} {i}' for axis, i in zip(('row', 'column', 'channel'), at))})"
                 for p in pair.pixels for at in [np.unravel_index(p, ds.shape)]]
        chosen_by = ("as the analysis plan names them" if plan.pixels else
                     "the one that best separates the classes (largest ANOVA F) and the best of the others once its "
                     "correlation with the first is discounted")
        coloured = (f"the predicted class of trial {trial.trial_id} {trial.config.label}".rstrip()
                    if plan.colour("pixels") == "predicted" and trial else "true class")
        page.figure(f"pixels_{dataset}", plots.plot_pixel_pair(pair.values, pair.groups, list(ds.classes), names,
                                                               computed.seed),
                    f"{dataset}: two raw pixels on {len(pair.values)} {plan.rows} images, coloured by {coloured}: "
                    f"{chosen_by}. How far two inputs alone get.")


def _reductions(page: Page, sweep: Sweep, computed: Computed) -> None:
    saved = {path: t.config.dataset for t in sweep.trials
             if (path := reduce.path(t.config, sweep.files.reductions)) and path.is_file()}
    if not saved:
        return
    page.section("reductions", "Input reductions")
    for path, dataset in sorted(saved.items()):
        red = reduce.load(path)
        ds = computed.dataset(dataset)
        if red.method == "rf" and ds.images:
            picture = ds.pictures(ds.x_test[:1])[0]
            page.figure(f"reduction_{path.stem}", plots.plot_pixel_importance(red.scores, red.kept, picture),
                        f"{path.stem}: random-forest pixel importance and the {red.k} pixels kept.")
        elif red.method == "rf":
            page.figure(f"reduction_{path.stem}", plots.plot_feature_importance(red.scores, red.kept),
                        f"{path.stem}: random-forest importance of each feature; the {red.k} kept in red.")
        else:
            page.figure(f"reduction_{path.stem}", plots.plot_explained_variance(red.scores),
                        f"{path.stem}: cumulative explained variance of the kept components "
                        f"({red.scores.sum():.3f} with {red.k}).")


def _trial_section(page: Page, trial: Trial, drawn: dict[str, LayerResult], columns: list[str],
                   computed: Computed, options: ReportOptions) -> None:
    """The trial's section, drawn from what is computed: `drawn` holds its layers' embeddings."""
    m, plan = trial.metrics, computed.plan
    page.section(f"trial-{trial.trial_id}", f"Trial {trial.trial_id} {m.get('label', '')}".strip())
    page.text(f"{m['dataset']} {trial.config.architecture}"
              f", dropout {m['dropout']}, {m['optimizer']} lr {m['learning_rate']}, batch {m['batch_size']}, "
              f"seed {m['seed']}: test accuracy {100 * m['test_accuracy']:.2f}% after {m['epochs']} epochs "
              f"(best validation epoch {m['best_epoch']}).")
    ds = computed.dataset(m["dataset"])
    figures = computed.trial(trial)
    classes = list(ds.classes)
    tid = trial.trial_id
    page.heading("Learning curves")
    page.figure(f"{tid}_learning_curves", plots.plot_learning_curves(trial.history()),
                "Loss and accuracy, train vs validation.")
    page.heading("Confusion matrices")
    page.figure(f"{tid}_confusion", plots.plot_confusions(trial.confusion(), classes), "Confusion matrices.")
    with trial.activations() as acts:
        pred, y_test, index = acts["pred_test"][:25], acts["y_test"][:25], acts["index_test"]
        if ds.images:
            page.heading("Test images")
            page.figure(f"{tid}_test_images", plots.plot_image_grid(ds.pictures(ds.x_test[index[:25]]), y_test, pred,
                                                                    classes),
                        "The first 25 test images, predicted / true; wrong ones in red.")
        image = options.image  # a trial keeps every test row, in the data set's order
        picture = ds.pictures(ds.x_test[index[image:image + 1]])[0] if ds.images else None
        page.figure(f"{tid}_probabilities", plots.plot_probabilities(picture, acts["proba_test"][image],
                                                                     int(acts["y_test"][image]), classes, image),
                    f"The output of the trial for test {'image' if ds.images else 'row'} {options.image} (--image): "
                    f"its probability for each class.")
    own = figures.similarity
    page.heading("Layer similarity (CKA)")
    page.figure(f"{tid}_cka", plots.plot_cka(own.matrices(), own.names),
                f"Linear centered kernel alignment between raw {ds.inputs}, each hidden layer and the output "
                f"probabilities, on the same {own.rows} test rows: 1 for representations equal up to a rotation "
                f"and scale. Left the plain estimator, right the debiased one (no drift towards 1 for wide layers).")
    rows = figures.drawn
    points = figures.pca
    ratios = "; ".join(f"{name} {', '.join(f'{r:.3f}' for r in ratio)}" for name, (_, ratio) in points.items())
    page.heading("PCA to 3 components")
    colour = plan.colour("pca")
    page.figure(f"{tid}_pca_3d", plots.plot_pca_3d(points, rows.by(colour), classes),
                f"Raw {ds.inputs} and each hidden layer on their first three principal components, {len(rows.index)} "
                f"{rows.which} rows coloured by {colour} class; explained variance ratios: {ratios}. The menu "
                f"switches the representation, drag to rotate, scroll to zoom, click a class in the legend to hide it.",
                live=interactive.pca_3d(points, rows.by(colour), classes))
    page.heading("Class-discriminative nodes")
    which = ("the nodes the analysis plan names" if plan.nodes
             else "the most class-discriminative nodes (largest ANOVA F)")
    by = f"{plan.colour('boxes')} class"
    page.figure(f"{tid}_node_boxes", plots.plot_node_boxes(figures.nodes, figures.groups, classes, by),
                f"Activation of {which} by {by}, on the {len(figures.groups):,} {plan.rows} rows.")
    page.heading("Activations as pictures")
    page.figure(f"{tid}_class_pictures", plots.plot_class_pictures(figures.pictures, classes, figures.counts),
                "Hidden activations as pictures per class: one test example, and summed over the class's test "
                "examples.")
    settled = classes[SETTLING_CLASS]
    page.figure(f"{tid}_settling", plots.plot_settling(figures.settling, settled),
                f"When each layer's picture settles: class {settled}'s activations summed over its first n training "
                f"examples (Study B's animation), and how far each frame moved from the one before (the mean absolute "
                f"change of the picture scaled to its maximum). A layer settles at the frame after which no frame "
                f"moves by {plots.SETTLED:.0%} or more (dotted line).")
    if drawn:
        _embeddings(page, trial, drawn, columns, ds, plan.colour("embeddings"))


def _embeddings(page: Page, trial: Trial, drawn: dict[str, LayerResult], columns: list[str], ds: data.Dataset,
                colour: str) -> None:
    """The trial's embeddings: every layer by every method as one figure, and the explorer of the
    methods that draw the same rows (at most `EXPLORED_ROWS`) in the page."""
    with trial.activations() as acts:
        groups = {which: acts[f"{'pred' if colour == 'predicted' else 'y'}_{which}"] for which in ("train", "test")}
    shown_columns = [c for c in columns if any(c in r.coords for r in drawn.values())]
    labels = {f"{layer}/{c}": groups["test" if c.endswith(TEST) else "train"][r.positions[c]]
              for layer, r in drawn.items() for c in r.coords}
    notes = {f"{layer}/{c}": note for layer, r in drawn.items() for c, note in r.notes.items()}
    explore = explorer.of_trial(trial, drawn, ds, EXPLORED_ROWS)
    page.heading(f"Embeddings: {', '.join(TITLES[c] for c in shown_columns)}")
    page.figure(f"{trial.trial_id}_embeddings",
                plots.plot_embeddings({k: r.coords for k, r in drawn.items()}, labels, notes, list(ds.classes),
                                      shown_columns),
                f"2-D embeddings of the training rows (and, where a column says so, of the test rows): raw {ds.inputs} "
                f"and each hidden layer, coloured by {colour} class."
                + (f" Hover a point for its {'image, ' if ds.images else ''}true and predicted class; click a "
                   "class in the legend to hide it; select points in one layer to see the same rows in the others; "
                   f"the menu switches the method (figures/{trial.trial_id}_embeddings.png has them all at once)."
                   if explore else ""),
                live=explore.live() if explore else None)


def _labelled(frame: pd.DataFrame, **columns: object) -> pd.DataFrame:
    """`frame` with constant columns in front."""
    return pd.concat([pd.DataFrame(columns, index=frame.index), frame], axis=1)


def _write_tables(folder: Path, trials: pd.DataFrame, configs: pd.DataFrame, records: list[dict],
                  probes: pd.DataFrame, within: list[pd.DataFrame], across: list[similarity.SweepSimilarity],
                  against: pd.DataFrame | None) -> None:
    write_text(folder / "trials.csv", trials.to_csv(index=False))
    if against is not None:
        write_text(folder / "seed_comparison.csv", against.to_csv(index=False))
    write_text(folder / "cka_within_trials.csv", pd.concat(within).to_csv(index=False) if within else "")
    if across:
        write_text(folder / "cka_across_sweep.csv",
                   pd.concat([_labelled(s.layers.pairs(), dataset=s.dataset) for s in across]).to_csv(index=False))
        write_text(folder / "cka_across_seeds.csv",
                   pd.concat([s.seeds.assign(dataset=s.dataset) for s in across]).to_csv(index=False))
    write_text(folder / "configurations.csv", configs.to_csv(index=False))
    write_text(folder / "probes.csv", probes.to_csv(index=False))
    write_text(folder / "probes_long.csv", pd.DataFrame(records).to_csv(index=False))

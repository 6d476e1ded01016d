"""`build_report(sweep_dir)`: the whole analysis of a sweep, written to `<sweep>/report/`.

report.html (self-contained), report.md, tables/*.csv, figures/*.png, and cache/ with every
embedding and probe score, so a second run recomputes nothing. The per-layer work runs as Ray
tasks (`analysis.runner`); with `follow`, the report keeps pace with a running sweep: each trial's
layer jobs start as soon as it completes and the page is rewritten, marked partial, as results
arrive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import explorer, interactive, plots, similarity, tables
from analysis.embed import METHODS, TITLES, check_methods, pca, stratified
from analysis.layers import PROBES, RAW, RAW_PIXELS, LayerJob, LayerResult
from analysis.page import Page
from analysis.progress import Progress, duration
from analysis.results import Sweep, Trial, finished, load_sweep
from analysis.runner import JobRunner
from sweep import data, reduce
from sweep.artifacts import write_text
from sweep.errors import SweepError
from sweep.folder import SweepFolder
from sweep.runner import RunOptions
from sweep.space import Space
from sweep.storage import mirrored

POLL = 2.0  # seconds between looks at a followed sweep's folder
REWRITE = 15.0  # least seconds between two partial pages (and at least 3x the time one takes)
MIN_ROWS = 100  # rows embedded or probed at the least: t-SNE's perplexity of 30 needs more than 90
DRAWN_ROWS = 2_000  # stratified test rows in the 3-D PCA and the two-pixel scatter


@dataclass(frozen=True)
class ReportOptions:
    top: int = 3  # trials with full per-trial sections and embeddings, best test accuracy first
    trials: tuple[str, ...] = ()  # trial ids shown in full besides the top ones
    methods: tuple[str, ...] = tuple(METHODS)  # embedding methods drawn
    subsample: int = 10_000  # rows embedded by t-SNE, TriMAP, PaCMAP and PCA (stratified)
    probe_rows: int | None = None  # train rows UMAP and the probes fit on; None: all, as Study B
    nodes: tuple[tuple[str, int], ...] = ()  # (layer, node) box plots instead of the most discriminative
    image: int = 0  # the test image whose class probabilities each trial shown in full draws
    address: str | None = None  # Ray cluster for the layer jobs; None: the running one, or a local Ray
    data_dir: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name, value, least in (("--top", self.top, 0), ("--subsample", self.subsample, MIN_ROWS),
                                   ("--probe-rows", self.probe_rows, MIN_ROWS), ("--image", self.image, 0)):
            if value is not None and value < least:
                raise SweepError(f"{name} must be >= {least}, got {value}")
        check_methods(list(self.methods))


@dataclass
class ReportSummary:
    html: Path
    markdown: Path
    seconds: dict[str, float] = field(default_factory=dict)  # jobs (summed), compute and page (wall), total
    computed: int = 0  # cache entries computed rather than read
    jobs: list[dict] = field(default_factory=list)  # one row per layer job: what, where, how long
    failed: list[str] = field(default_factory=list)  # layer jobs that failed, with their errors


def build_report(sweep_dir: str | Path, options: ReportOptions = ReportOptions(), *,
                 progress: Progress | None = None, follow: Callable[[], bool] | None = None) -> ReportSummary:
    """Compute every layer job (Ray tasks; cached ones read) and write the report.

    With `follow`, a function that says whether the sweep has ended: until it does, the jobs of
    trials that complete meanwhile are submitted as they appear and a partial page is rewritten
    as results come in; then the final report is written.
    """
    start = time.perf_counter()
    progress = progress or Progress()
    out = SweepFolder(Path(sweep_dir)).report
    results: dict[LayerJob, LayerResult] = {}
    runner = JobRunner(progress, options.address)
    sweep, jobs, looked, written, page_seconds = None, [], 0.0, 0.0, 0.0
    final_look = False  # the sweep has ended and its folder was read since: nothing more will appear
    if first := _load(sweep_dir, follow is not None):  # a bad folder or option is refused before Ray starts
        _check_options(first, options)
    with runner.running():
        while True:
            ended = follow is None or follow()
            if not final_look and (ended or time.perf_counter() - looked >= POLL):
                looked, final_look = time.perf_counter(), ended
                # Not following, the folder read before Ray started is the sweep as it stays.
                now = first if follow is None else _load(sweep_dir, not ended)
                if sweep is None and now:
                    progress.say(f"report: {len(now.completed())} completed of {len(now.trials)} trial folders "
                                 f"({now.planned} planned){'; following the sweep' if follow else ''}")
                sweep = now
                jobs = plan(sweep, options, out / "cache") if sweep else []
                known = set(results) | set(runner.pending.values())
                runner.submit([j for j in jobs if j not in known])
            fresh = runner.poll(timeout=1.0)
            results |= {r.job: r for r in fresh}
            if ended and not runner.pending:
                break
            due = time.perf_counter() - written >= max(REWRITE, 3 * page_seconds)
            if sweep and follow and (fresh or not written) and due:
                page_start = time.perf_counter()
                _write(sweep, options, out, [results[j] for j in jobs if j in results], partial=True)
                written, page_seconds = time.perf_counter(), time.perf_counter() - page_start
    compute = time.perf_counter() - start
    done = [results[j] for j in jobs]
    page_start = time.perf_counter()
    html_path, md_path = _write(sweep, options, out, done, partial=False)
    seconds = {"jobs": sum(r.seconds for r in done if r.computed), "compute": compute,
               "page": time.perf_counter() - page_start, "total": time.perf_counter() - start}
    summary = ReportSummary(html_path, md_path, seconds, sum(len(r.computed) for r in done), _job_rows(done),
                            [f"{r.job.title}: {r.error}" for r in done if r.error])
    write_text(out / "tables" / "layer_jobs.csv", pd.DataFrame(summary.jobs).to_csv(index=False))
    failed = f", {len(summary.failed)} FAILED" if summary.failed else ""
    progress.close(f"report: {html_path} ({duration(seconds['total'])}; {len(jobs)} layer jobs, "
                   f"{summary.computed} cache entries computed{failed})")
    return summary


def run_with_report(space: Space, run: RunOptions, options: ReportOptions = ReportOptions(),
                    log: Callable[[str], None] = print) -> tuple[Path, ReportSummary]:
    """Run a sweep with its report computed beside it on the same Ray: a thread of this driver
    submits each trial's layer jobs as the trial completes and rewrites the page; the final page
    follows the sweep's end. Returns the sweep folder and the report."""
    from sweep.cluster import connected
    from sweep.runner import run_sweep

    ended, outcome = threading.Event(), {}
    storage = run.storage(space)

    def report() -> None:
        try:
            outcome["summary"] = build_report(run.folder(space).path, options, progress=Progress(redraw=False),
                                              follow=storage.following(ended.is_set) if storage else ended.is_set)
        except Exception as exc:  # noqa: BLE001 - the sweep goes on; the report's failure is raised after it
            outcome["error"] = exc

    with connected(run.address):
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


def _check_options(sweep: Sweep, options: ReportOptions) -> None:
    """`--trials` names completed trials, `--nodes` nodes that exist in the trials shown and
    `--image` one of their test images."""
    shown = _selected(sweep, options)
    if shown and options.image >= (n := min(t.shapes()["y_test"][0] for t in shown)):
        raise SweepError(f"--image: the trials shown have {n} test images, so image {options.image} is not among them; "
                         f"give 0 to {n - 1}")
    for layer, node in options.nodes:
        widths = {t.shapes()[f"{layer}_test"][1] for t in shown if layer in t.hidden_layers}
        if not widths:
            raise SweepError(f"--nodes: no trial shown in full has a layer {layer!r}; name one like hidden_1:3")
        if not 0 <= node < min(widths):
            raise SweepError(f"--nodes: {layer} has {min(widths)} units in a trial shown, so node {node} is not in it; "
                             f"give 0 to {min(widths) - 1}")


def _job_rows(results: list[LayerResult]) -> list[dict]:
    return [{"dataset": r.job.dataset, "source": r.job.source, "label": r.job.label, "layer": r.job.layer,
             "task": r.job.task, "width": r.job.width, "rows": r.job.n_train, "estimate_s": round(r.job.cost(), 1),
             "seconds": round(r.seconds, 2), "computed": len(r.computed), "node": r.node, "error": r.error}
            for r in results]


def _selected(sweep: Sweep, options: ReportOptions) -> list[Trial]:
    ranked = sorted(sweep.completed(), key=lambda t: -t.metrics["test_accuracy"])
    chosen = ranked[: options.top]
    for trial_id in options.trials:
        trial = sweep.trial(trial_id)
        if not trial.completed:
            raise SweepError(f"{trial.files.path}: trial {trial_id} is {trial.status}; only completed trials "
                             f"have a section")
        if trial not in chosen:
            chosen.append(trial)
    return chosen


def plan(sweep: Sweep, options: ReportOptions, cache: Path) -> list[LayerJob]:
    """Every layer job of the report: raw pixels once per (data set, validation split, kept rows),
    then every hidden layer of every completed trial. Each layer has its probes job, and, for the
    trials shown in full, one job per embedding method other than UMAP (drawn from the probes'
    fit), unless the layer is its own 2-D embedding."""
    selected = _selected(sweep, options)
    common = dict(subsample=options.subsample, probe_rows=options.probe_rows, data_dir=options.data_dir,
                  seed=options.seed, sweep_uri=mirrored(sweep.files))
    raw: dict[str, tuple[Trial, bool]] = {}
    layers = []
    for trial in sweep.completed():
        cfg = trial.config  # kept rows are drawn with the trial's seed
        key = f"raw-{cfg.dataset}-v{cfg.validation}" + (f"-k{cfg.keep_train}-s{cfg.seed}" if cfg.keep_train else "")
        first, drawn = raw.get(key, (trial, False))
        raw[key] = (first, drawn or trial in selected)
        shapes = trial.shapes()
        for layer in trial.hidden_layers:
            rows, width = shapes[f"{layer}_train"]
            layers.append((LayerJob(dataset=cfg.dataset, source=trial.trial_id, label=cfg.label,
                                    layer=layer, task=PROBES, trial_folder=str(trial.files.path),
                                    cache_dir=str(cache / trial.trial_id), width=width, n_train=rows,
                                    n_test=shapes[f"{layer}_test"][0], trained=trial.metrics.get("trial_ended"),
                                    **common), trial in selected))
    raw_layers = []
    for key, (trial, drawn) in raw.items():
        shapes = trial.shapes()
        raw_layers.append((LayerJob(dataset=trial.config.dataset, source=RAW_PIXELS, label="", layer=RAW,
                                    task=PROBES, trial_folder=str(trial.files.path), cache_dir=str(cache / key),
                                    width=data.PIXELS, n_train=shapes["y_train"][0], n_test=shapes["y_test"][0],
                                    **common), drawn))
    jobs = []
    for probes_job, drawn in raw_layers + layers:
        jobs.append(probes_job)
        if drawn and not probes_job.flat:
            jobs += [replace(probes_job, task=m) for m in options.methods if m != "umap"]
    return jobs


def _write(sweep: Sweep, options: ReportOptions, out: Path, results: list[LayerResult],
           partial: bool) -> tuple[Path, Path]:
    """The page, its tables and figures from the results in so far."""
    trials = sweep.table()
    selected = _selected(sweep, options)
    records = [r for res in results for r in res.records]
    page = Page(f"Sweep report: {sweep.files.name}" + (" (partial)" if partial else ""), out,
                refresh=30 if partial else None)
    configs = tables.configurations(trials)
    _overview(page, sweep, trials, partial)
    _comparison(page, trials, configs)
    _optuna(page, sweep)
    probes = tables.probe_table(records)
    _probes(page, records, probes, trials)
    across = similarity.across_sweep(sweep, out / "cache" / "similarity", options.seed)
    _similarity(page, across)
    _pixels(page, sweep, options)
    _reductions(page, sweep, options.data_dir)
    drawings = _drawings(results, options.methods)
    within = [_trial_section(page, trial, drawings, options, out / "cache" / "similarity") for trial in selected]
    _write_tables(out / "tables", trials, configs, records, probes, within, across)
    return page.write()


def _drawings(results: list[LayerResult], methods: tuple[str, ...]) -> dict[tuple[str, str, str], LayerResult]:
    """Every layer's coordinates, labels and notes, merged from its jobs, in the order of `methods`.
    A layer of width <= 2 is drawn as it is in every column."""
    merged: dict[tuple[str, str, str], LayerResult] = {}
    for res in results:
        into = merged.setdefault((res.job.dataset, res.job.source, res.job.layer), LayerResult(res.job))
        for part in ("coords", "labels", "notes"):
            getattr(into, part).update(getattr(res, part))
    for layer in merged.values():
        if layer.job.flat and "umap" in layer.coords:
            itself = (layer.coords["umap"], layer.labels["umap"], layer.notes["umap"])
            for m in methods:
                layer.coords[m], layer.labels[m], layer.notes[m] = itself
        for part in ("coords", "labels", "notes"):
            setattr(layer, part, {m: getattr(layer, part)[m] for m in methods if m in layer.coords})
    return merged


def _overview(page: Page, sweep: Sweep, trials: pd.DataFrame, partial: bool) -> None:
    page.section("overview", "Overview")
    if partial:
        page.text("Partial: the sweep is still running and its layers are being analysed; this page is rewritten "
                  "as results come in (a browser reloads it every 30 s).")
    counts = trials.status.value_counts().to_dict() if len(trials) else {}
    not_started = max(0, sweep.planned - len(sweep.trials))
    page.text(f"{sweep.files.name}: {sweep.planned} trials planned; " + ", ".join(f"{n} {s}" for s, n in counts.items())
              + (f", {not_started} not started" if not_started else ""))
    space = sweep.files.space
    if space.is_file():
        import yaml

        description = (yaml.safe_load(space.read_text()) or {}).get("description")
        if description:
            page.text(str(description))
    page.table(trials[[c for c in ["trial_id", "status", "label", "dataset", "architecture", "dropout", "seed",
                                   "test_accuracy", "epochs", "train_seconds", "node", "error"] if c in trials]],
               "Every trial folder; running or killed trials show as running, failed ones with their error.")


def _comparison(page: Page, trials: pd.DataFrame, configs: pd.DataFrame) -> None:
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
        scores = tables.importance(group)
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
    page.section("probes", "Probes per layer: KNN on UMAP, 5-NN and linear probe")
    page.text("umap-knnK: UMAP fitted on the train activations, test rows transformed, K-nearest-neighbour "
              "accuracy on the test embedding (Study B). knn5: 5-NN on the full-dimensional layer. "
              "linear: a linear probe (logistic regression on the layer). Raw pixels are the input before any "
              "reduction. A layer of one or two units is its own 2-D embedding: its umap-knnK columns are KNN on "
              "the layer itself (column 'probed directly').")
    page.table(table, "Test accuracy of each probe, by layer.")
    if records:
        names = {t: f"{label} {arch}".strip() for t, label, arch in zip(trials.trial_id, trials.label.fillna(""),
                                                                         trials.architecture)}
        page.figure("probes_by_layer", plots.plot_probes_by_layer(records, "umap-knn5", names),
                    "KNN (k=5) on the UMAP embedding, by layer: how separable the classes become with depth.")


def _similarity(page: Page, across: list[similarity.SweepSimilarity]) -> None:
    if not across:
        return
    page.section("similarity", "Layer similarity across the sweep (CKA)")
    page.text(f"Linear centered kernel alignment between the hidden layers of every completed configuration (its "
              f"lowest seed), on the same {similarity.ROWS} stratified test rows of its data set: 1 for "
              f"representations equal up to a rotation and scale. Left the plain estimator, right the debiased one "
              f"(no drift towards 1 for wide layers). Each trial shown in full below also compares its own layers "
              f"with the raw pixels and its output.")
    for found in across:
        page.figure(f"cka_{found.dataset}", plots.plot_cka(found.layers.matrices(), found.layers.names),
                    f"{found.dataset}: every hidden layer against every other, grouped by architecture.")
        if len(found.seeds):
            page.table(found.seeds.round(3), f"{found.dataset}: the same layer across seeds, linear CKA over every "
                                             f"pair of seeds (mean and lowest): how stable the representation is.")


def _pixels(page: Page, sweep: Sweep, options: ReportOptions) -> None:
    """Per data set, the two raw pixels that best separate the classes, against each other."""
    datasets = list(dict.fromkeys(t.config.dataset for t in sweep.completed()))
    if not datasets:
        return
    page.section("pixels", "Raw pixels")
    for dataset in datasets:
        ds = data.load(dataset, options.data_dir)
        pixels = data.pixels(ds.x_test)
        best = plots.pixel_pair(pixels, ds.y_test)
        rows = stratified(ds.y_test, DRAWN_ROWS, options.seed)
        side = ds.x_test.shape[2]
        names = [f"pixel {p} (row {p // side}, column {p % side})" for p in best]
        page.figure(f"pixels_{dataset}", plots.plot_pixel_pair(ds.x_test.reshape(len(pixels), -1)[rows][:, best],
                                                               ds.y_test[rows], list(ds.classes), names, options.seed),
                    f"{dataset}: two raw pixels on {len(rows)} test images, coloured by class: the one that best "
                    f"separates the classes (largest ANOVA F) and the best of the others once its correlation with "
                    f"the first is discounted. How far two inputs alone get.")


def _reductions(page: Page, sweep: Sweep, data_dir: str | None) -> None:
    saved = {path: t.config.dataset for t in sweep.trials
             if (path := reduce.path(t.config, sweep.files.reductions)) and path.is_file()}
    if not saved:
        return
    page.section("reductions", "Input reductions")
    for path, dataset in sorted(saved.items()):
        red = reduce.load(path)
        if red.method == "rf":
            digit = data.load(dataset, data_dir).x_test[0]
            page.figure(f"reduction_{path.stem}", plots.plot_pixel_importance(red.scores, red.pixels, digit),
                        f"{path.stem}: random-forest pixel importance and the {red.k} pixels kept.")
        else:
            page.figure(f"reduction_{path.stem}", plots.plot_explained_variance(red.scores),
                        f"{path.stem}: cumulative explained variance of the kept components "
                        f"({red.scores.sum():.3f} with {red.k}).")


def _trial_section(page: Page, trial: Trial, by_layer: dict, options: ReportOptions,
                   similarity_cache: Path) -> pd.DataFrame:
    """The trial's section; returns its layer similarities (CKA) as table rows."""
    m = trial.metrics
    page.section(f"trial-{trial.trial_id}", f"Trial {trial.trial_id} {m.get('label', '')}".strip())
    page.text(f"{m['dataset']} {trial.config.architecture}"
              f", dropout {m['dropout']}, {m['optimizer']} lr {m['learning_rate']}, batch {m['batch_size']}, "
              f"seed {m['seed']}: test accuracy {100 * m['test_accuracy']:.2f}% after {m['epochs']} epochs "
              f"(best validation epoch {m['best_epoch']}).")
    ds = data.load(m["dataset"], options.data_dir)
    classes = list(ds.classes)
    tid = trial.trial_id
    page.heading("Learning curves")
    page.figure(f"{tid}_learning_curves", plots.plot_learning_curves(trial.history()),
                "Loss and accuracy, train vs validation.")
    page.heading("Confusion matrices")
    page.figure(f"{tid}_confusion", plots.plot_confusions(trial.confusion(), classes), "Confusion matrices.")
    with trial.activations() as acts:
        pred, y_test, index = acts["pred_test"], acts["y_test"], acts["index_test"]
        layers = {name: acts[f"{name}_test"] for name in trial.hidden_layers}
        page.heading("Test images")
        page.figure(f"{tid}_test_images", plots.plot_image_grid(ds.x_test[index[:25]], y_test[:25], pred[:25], classes),
                    "The first 25 test images, predicted / true; wrong ones in red.")
        image = options.image  # a trial keeps every test row, in the data set's order
        page.figure(f"{tid}_probabilities", plots.plot_probabilities(ds.x_test[index[image]], acts["proba_test"][image],
                                                                     int(y_test[image]), classes, image),
                    f"The output of the trial for test image {options.image} (--image): its probability for each "
                    f"class.")
    own = similarity.within_trial(trial, ds.x_test, options.subsample, options.seed, similarity_cache)
    chosen = {layer: [n for l2, n in options.nodes if l2 == layer] for layer in layers}
    nodes = plots.discriminative_nodes(layers, pred, chosen=chosen)
    page.heading("Layer similarity (CKA)")
    page.figure(f"{tid}_cka", plots.plot_cka(own.matrices(), own.names),
                f"Linear centered kernel alignment between raw pixels, each hidden layer and the output "
                f"probabilities, on the same {own.rows} test rows: 1 for representations equal up to a rotation "
                f"and scale. Left the plain estimator, right the debiased one (no drift towards 1 for wide layers).")
    rows = stratified(y_test, DRAWN_ROWS, options.seed)
    points = {name: pca(x.astype(np.float32), 3, options.seed)
              for name, x in {RAW_PIXELS: data.pixels(ds.x_test[index[rows]]),
                              **{layer: acts[rows] for layer, acts in layers.items()}}.items()}
    page.heading("PCA to 3 components")
    page.figure(f"{tid}_pca_3d", plots.plot_pca_3d(points, y_test[rows], classes),
                f"Raw pixels and each hidden layer on their first three principal components, {len(rows)} test rows "
                f"coloured by class; the menu switches the representation, drag to rotate, scroll to zoom, click a "
                f"class in the legend to hide it.", live=interactive.pca_3d(points, y_test[rows], classes))
    page.heading("Class-discriminative nodes")
    page.figure(f"{tid}_node_boxes", plots.plot_node_boxes(layers, pred, nodes, classes),
                "Activation of the most class-discriminative nodes (largest ANOVA F) by predicted class on the test "
                "set.")
    page.heading("Activations as pictures")
    counts = np.bincount(y_test, minlength=len(classes))
    pictures = plots.class_pictures_info(layers, y_test, len(classes))
    page.figure(f"{tid}_class_pictures", plots.plot_class_pictures(pictures, classes, counts),
                "Hidden activations as pictures per class: one test example, and summed over the class's test "
                "examples.")
    drawn = {layer: result for layer in [RAW, *trial.hidden_layers]
             if (result := by_layer.get((m["dataset"], RAW_PIXELS if layer == RAW else tid, layer))) and result.coords}
    if drawn:
        methods = [m for m in options.methods if any(m in r.coords for r in drawn.values())]
        labels = {f"{layer}/{k}": v for layer, r in drawn.items() for k, v in r.labels.items()}
        notes = {f"{layer}/{k}": v for layer, r in drawn.items() for k, v in r.notes.items()}
        explore = explorer.of_trial(trial, drawn, ds.x_train, classes)
        page.heading(f"Embeddings: {', '.join(TITLES[m] for m in methods)}")
        page.figure(f"{tid}_embeddings", plots.plot_embeddings({k: r.coords for k, r in drawn.items()}, labels, notes,
                                                               classes, methods),
                    "2-D embeddings of the training rows: raw pixels and each hidden layer, coloured by class."
                    + (" Hover a point for its image, true and predicted class; click a class in the legend to hide "
                       "it; select points in one layer to see the same rows in the others; the menu switches the "
                       f"method (figures/{tid}_embeddings.png has them all at once)." if explore else ""),
                    live=explore.live() if explore else None)
    return _labelled(own.pairs(), trial_id=tid, label=m.get("label", ""), architecture=trial.config.architecture,
                     seed=m["seed"]).assign(rows=own.rows)


def _labelled(frame: pd.DataFrame, **columns: object) -> pd.DataFrame:
    """`frame` with constant columns in front."""
    return pd.concat([pd.DataFrame(columns, index=frame.index), frame], axis=1)


def _write_tables(folder: Path, trials: pd.DataFrame, configs: pd.DataFrame, records: list[dict],
                  probes: pd.DataFrame, within: list[pd.DataFrame], across: list[similarity.SweepSimilarity]) -> None:
    write_text(folder / "trials.csv", trials.to_csv(index=False))
    write_text(folder / "cka_within_trials.csv", pd.concat(within).to_csv(index=False) if within else "")
    if across:
        write_text(folder / "cka_across_sweep.csv",
                   pd.concat([_labelled(s.layers.pairs(), dataset=s.dataset) for s in across]).to_csv(index=False))
        write_text(folder / "cka_across_seeds.csv",
                   pd.concat([s.seeds.assign(dataset=s.dataset) for s in across]).to_csv(index=False))
    write_text(folder / "configurations.csv", configs.to_csv(index=False))
    write_text(folder / "probes.csv", probes.to_csv(index=False))
    write_text(folder / "probes_long.csv", pd.DataFrame(records).to_csv(index=False))

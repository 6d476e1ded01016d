"""`build_report(sweep_dir)`: the whole analysis of a sweep, written to `<sweep>/report/`.

report.html (self-contained), report.md, tables/*.csv, figures/*.png, and cache/ with every
embedding and probe score, so a second run recomputes nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

from analysis import plots, tables
from analysis.embed import METHODS, check_methods
from analysis.layers import RAW, LayerJob, LayerResult, run_layer
from analysis.page import Page
from analysis.results import Sweep, Trial, finished, load_sweep
from sweep.errors import SweepError


@dataclass(frozen=True)
class ReportOptions:
    top: int = 3  # trials with full per-trial sections and embeddings, best test accuracy first
    trials: tuple[str, ...] = ()  # trial ids shown in full besides the top ones
    methods: tuple[str, ...] = tuple(METHODS)  # embedding methods drawn
    subsample: int = 10_000  # rows embedded by t-SNE, TriMAP, PaCMAP and PCA (stratified)
    probe_rows: int | None = None  # train rows UMAP and the probes fit on; None: all, as Study B
    workers: int = os.cpu_count() or 1  # processes for the per-layer work
    nodes: tuple[tuple[str, int], ...] = ()  # (layer, node) box plots instead of the most discriminative
    data_dir: str | None = None
    seed: int = 0


@dataclass
class ReportSummary:
    html: Path
    markdown: Path
    seconds: dict[str, float] = field(default_factory=dict)  # embeddings, probes (CPU), plots, total (wall)
    computed: int = 0  # cache entries computed rather than read


def build_report(sweep_dir: str | Path, options: ReportOptions = ReportOptions(),
                 log: Callable[[str], None] = print) -> ReportSummary:
    start = time.perf_counter()
    check_methods(list(options.methods))
    sweep = load_sweep(sweep_dir)
    trials = sweep.table()
    done = sweep.completed()
    selected = _selected(sweep, options)
    out = Path(sweep_dir) / "report"
    log(f"report: {len(done)} completed of {len(sweep.trials)} trial folders ({sweep.planned} planned); "
        f"full sections for {len(selected)}")

    results = _run_jobs(_jobs(sweep, selected, options, out / "cache"), options.workers, log)
    records = [r for res in results for r in res.records]
    seconds = {k: sum(res.seconds.get(k, 0.0) for res in results) for k in ("embeddings", "probes")}

    plot_start = time.perf_counter()
    page = Page(f"Sweep report: {sweep.name}", out)
    configs = tables.configurations(trials)
    _overview(page, sweep, trials)
    _comparison(page, trials, configs)
    _optuna(page, sweep)
    _probes(page, records)
    _reductions(page, sweep)
    # Raw pixels: one result per data set is drawn; the one with embeddings wins.
    by_layer = {(r.job.dataset, r.job.source, r.job.layer): r for r in sorted(results, key=lambda r: bool(r.coords))}
    for trial in selected:
        _trial_section(page, trial, by_layer, options)
    _write_tables(out / "tables", trials, configs, records)
    html_path, md_path = page.write()
    seconds["plots"] = time.perf_counter() - plot_start
    seconds["total"] = time.perf_counter() - start
    computed = sum(len(r.computed) for r in results)
    log(f"report: {html_path} ({seconds['total']:.1f} s, {computed} cache entries computed)")
    return ReportSummary(html_path, md_path, seconds, computed)


def _selected(sweep: Sweep, options: ReportOptions) -> list[Trial]:
    ranked = sorted(sweep.completed(), key=lambda t: -t.metrics["test_accuracy"])
    chosen = ranked[: options.top]
    for trial_id in options.trials:
        trial = sweep.trial(trial_id)
        if not trial.completed:
            raise SweepError(f"{trial.folder}: trial {trial_id} is {trial.status}; only completed trials have a section")
        if trial not in chosen:
            chosen.append(trial)
    return chosen


def _jobs(sweep: Sweep, selected: list[Trial], options: ReportOptions, cache: Path) -> list[LayerJob]:
    """Raw pixels once per (data set, validation split), then every hidden layer of every trial."""
    common = dict(subsample=options.subsample, probe_rows=options.probe_rows, data_dir=options.data_dir,
                  seed=options.seed)
    jobs = [LayerJob(dataset=trial.params["dataset"], source=trial.trial_id, label=trial.params["label"], layer=layer,
                     trial_folder=str(trial.folder), cache_dir=str(cache / trial.trial_id),
                     methods=options.methods if trial in selected else (), **common)
            for trial in sweep.completed() for layer in trial.hidden_layers]
    raw_jobs = {}
    for trial in sweep.completed():
        key = f"raw-{trial.params['dataset']}-v{trial.params['validation']}-k{trial.params.get('keep_train')}"
        drawn = trial in selected
        if key not in raw_jobs or (drawn and not raw_jobs[key].methods):
            raw_jobs[key] = LayerJob(dataset=trial.params["dataset"], source="raw pixels", label="", layer=RAW,
                                     trial_folder=str(trial.folder), cache_dir=str(cache / key),
                                     methods=options.methods if drawn else (), **common)
    return list(raw_jobs.values()) + jobs


def _run_jobs(jobs: list[LayerJob], workers: int, log: Callable[[str], None]) -> list[LayerResult]:
    results: list[LayerResult] = []

    def done(result: LayerResult) -> None:
        results.append(result)
        spent = sum(result.seconds.values())
        log(f"  [{len(results):>3}/{len(jobs)}] {result.job.source} {result.job.layer}: "
            f"{len(result.computed)} computed, {spent:.1f} s")

    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            done(run_layer(job))
        return results
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=get_context("spawn")) as pool:
        for future in as_completed([pool.submit(run_layer, job) for job in jobs]):
            done(future.result())
    order = {job: i for i, job in enumerate(jobs)}  # results come back in finishing order, as copies
    return sorted(results, key=lambda r: order[r.job])


def _overview(page: Page, sweep: Sweep, trials: pd.DataFrame) -> None:
    page.section("overview", "Overview")
    counts = trials.status.value_counts().to_dict() if len(trials) else {}
    not_started = max(0, sweep.planned - len(sweep.trials))
    page.text(f"{sweep.folder.name}: {sweep.planned} trials planned; "
              + ", ".join(f"{n} {s}" for s, n in counts.items()) + (f", {not_started} not started" if not_started else ""))
    space = sweep.folder / "space.yaml"
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
    if configs.bottleneck.nunique() > 1:
        page.figure("accuracy_vs_bottleneck", plots.plot_accuracy_vs(configs, "bottleneck", log=True),
                    "Test accuracy against the narrowest hidden layer (the bottleneck).")
    varying = [c for c in ["depth", "bottleneck", "n_params", "dropout", "input_reduction", "optimizer",
                           "learning_rate", "batch_size", "dataset"] if trials[c].nunique(dropna=False) > 1]
    if varying:
        page.figure("parallel_coordinates", plots.plot_parallel(plots.parallel_info(trials, varying)),
                    "Hyperparameters of every completed trial, each axis scaled to its range; colour: test accuracy.")
    scores = tables.importance(trials)
    if len(scores):
        page.figure("hyperparameter_importance",
                    plots.plot_importance(scores, "share of test-accuracy variance (random-forest importance)"),
                    f"Which hyperparameters explain test accuracy, from a random forest over {len(finished(trials))} trials.")


def _optuna(page: Page, sweep: Sweep) -> None:
    study = tables.optuna_study(sweep.folder)
    if study is None:
        return
    history, importance = study
    page.section("optuna", "Optuna search")
    page.text(f"{len(history)} finished trials in the study stored at {sweep.name}/optuna.db "
              f"(open it with optuna.load_study(study_name={sweep.name!r}, storage='sqlite:///optuna.db')). "
              "The objective is validation accuracy; test data never steers the search.")
    if len(history):
        page.figure("optuna_history", plots.plot_optimization_history(history), "Optimisation history.")
    if len(importance):
        page.figure("optuna_importance", plots.plot_importance(importance.sort_values(ascending=False),
                                                               "share of validation-accuracy variance (fANOVA)"),
                    "Optuna's parameter importances (fANOVA) for validation accuracy.")


def _probes(page: Page, records: list[dict]) -> None:
    page.section("probes", "Probes per layer")
    page.text("umap-knnK: UMAP fitted on the train activations, test rows transformed, K-nearest-neighbour "
              "accuracy on the test embedding (Study B). knn5: 5-NN on the full-dimensional layer. "
              "linear: logistic regression. Raw pixels are the input before any reduction.")
    table = tables.probe_table(records)
    page.table(table, "Test accuracy of each probe, by layer.")
    if records:
        page.figure("probes_by_layer", plots.plot_probes_by_layer(records, "umap-knn5"),
                    "KNN (k=5) on the UMAP embedding, by layer: how separable the classes become with depth.")


def _reductions(page: Page, sweep: Sweep) -> None:
    files = sorted((sweep.folder / "reductions").glob("*.npz"))
    if not files:
        return
    from sweep import data, reduce

    page.section("reductions", "Input reductions")
    for path in files:
        red = reduce.load(path)
        if red.method == "rf":
            digit = data.load(path.stem.split("-v")[0]).x_test[0]
            page.figure(f"reduction_{path.stem}", plots.plot_pixel_importance(red.scores, red.pixels, digit),
                        f"{path.stem}: random-forest pixel importance and the {red.k} pixels kept.")
        else:
            page.figure(f"reduction_{path.stem}", plots.plot_explained_variance(red.scores),
                        f"{path.stem}: cumulative explained variance of the kept components "
                        f"({red.scores.sum():.3f} with {red.k}).")


def _trial_section(page: Page, trial: Trial, by_layer: dict, options: ReportOptions) -> None:
    from sweep import data

    m = trial.metrics
    page.section(f"trial-{trial.trial_id}", f"Trial {trial.trial_id} {m.get('label', '')}".strip())
    page.text(f"{m['dataset']} {trial.row()['architecture']}"
              f", dropout {m['dropout']}, {m['optimizer']} lr {m['learning_rate']}, batch {m['batch_size']}, seed {m['seed']}: "
              f"test accuracy {100 * m['test_accuracy']:.2f}% after {m['epochs']} epochs (best validation epoch {m['best_epoch']}).")
    ds = data.load(m["dataset"], options.data_dir)
    classes = list(ds.classes)
    tid = trial.trial_id
    page.figure(f"{tid}_learning_curves", plots.plot_learning_curves(trial.history()), "Loss and accuracy, train vs validation.")
    page.figure(f"{tid}_confusion", plots.plot_confusions(trial.confusion(), classes), "Confusion matrices.")
    with trial.activations() as acts:
        pred, y_test = acts["pred_test"], acts["y_test"]
        layers = {name: acts[f"{name}_test"] for name in trial.hidden_layers}
        page.figure(f"{tid}_test_images", plots.plot_image_grid(ds.x_test[acts["index_test"][:25]], y_test[:25], pred[:25], classes),
                    "The first 25 test images, predicted / true; wrong ones in red.")
    chosen = {layer: [n for l2, n in options.nodes if l2 == layer] for layer in layers}
    nodes = plots.discriminative_nodes(layers, pred, chosen=chosen)
    page.figure(f"{tid}_node_boxes", plots.plot_node_boxes(layers, pred, nodes, classes),
                "Activation of the most class-discriminative nodes (largest ANOVA F) by predicted class on the test set.")
    page.figure(f"{tid}_class_pictures", plots.plot_class_pictures(plots.class_pictures_info(layers, y_test), classes, len(y_test)),
                "Hidden activations as pictures per class: one test example, and summed over the class's test examples.")
    grid, labels, notes = {}, {}, {}
    for layer in [RAW, *trial.hidden_layers]:
        source = "raw pixels" if layer == RAW else tid
        result = by_layer.get((m["dataset"], source, layer))
        if result is None or not result.coords:
            continue
        grid[layer] = result.coords
        labels |= {f"{layer}/{k}": v for k, v in result.labels.items()}
        notes |= {f"{layer}/{k}": v for k, v in result.notes.items()}
    if grid:
        page.figure(f"{tid}_embeddings", plots.plot_embeddings(grid, labels, notes, classes),
                    "2-D embeddings of the training rows: raw pixels and each hidden layer, coloured by class.")


def _write_tables(folder: Path, trials: pd.DataFrame, configs: pd.DataFrame, records: list[dict]) -> None:
    from sweep.artifacts import write_text

    write_text(folder / "trials.csv", trials.to_csv(index=False))
    write_text(folder / "configurations.csv", configs.to_csv(index=False))
    write_text(folder / "probes.csv", tables.probe_table(records).to_csv(index=False))
    write_text(folder / "probes_long.csv", pd.DataFrame(records).to_csv(index=False))

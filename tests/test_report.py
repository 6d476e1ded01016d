"""The report on the smoke sweep: written, cached, partial-sweep safe, and clean in a real browser."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import matplotlib.image
import pandas as pd
import pytest

from analysis.layers import LayerJob, load_rows, run_layer
from analysis.plan import jobs_of, parse, saved_plan
from analysis.probes import knn
from analysis.progress import Progress
from analysis.report import ReportOptions, ReportSummary, build_report, cores_for
from analysis.results import load_sweep
from mlp_sweep import main
from sweep import data
from sweep.folder import SweepFolder
from sweep.runner import RunOptions
from tests.browser import box_select, brush_last_axis, hover_first_point
from tests.conftest import SPACES, Smoke

pytestmark = pytest.mark.slow

OPTIONS = ReportOptions()  # as the sweep's own analysis section plans it
SMOKE = SPACES / "smoke.yaml"


def planned(sweep: Path) -> list[LayerJob]:
    """The layer jobs of the sweep's saved plan."""
    return jobs_of(load_sweep(sweep), saved_plan(SweepFolder(sweep)), sweep / "report" / "cache")
SECTIONS = ["overview", "comparison", "probes", "similarity", "pixels", "reductions"]


@pytest.fixture(scope="module")
def reported(smoke: Smoke) -> tuple[Path, ReportSummary, ReportSummary, str, list[str], str]:
    """The session's smoke sweep: the report written beside it (cold), and the same report again (warm),
    the cold one's progress, the sweep's own lines and the probe table the cold report left."""
    return smoke.sweep, smoke.report, build_report(smoke.sweep, OPTIONS), smoke.progress, smoke.log, smoke.probes


def test_report_files_and_tables(reported) -> None:
    sweep, cold, *_ = reported
    out = sweep / "report"
    assert {p.name for p in (out / "tables").iterdir()} >= {"trials.csv", "configurations.csv", "probes.csv"}
    probes = (out / "tables" / "probes.csv").read_text().splitlines()
    assert len(probes) == 1 + 1 + 4  # header, raw pixels, four trials
    assert "raw umap-knn5" in probes[0] and "hidden_2 linear" in probes[0]
    markdown = (out / "report.md").read_text()
    assert "## Probes per layer" in markdown and "figures/probes_by_layer.png" in markdown
    assert cold.computed > 0
    # Each trial shown in full: CKA of raw pixels, every hidden layer and the output, pair by pair.
    similarity = pd.read_csv(out / "tables" / "cka_within_trials.csv")
    shown = pd.read_csv(out / "tables" / "trials.csv").set_index("trial_id").loc[similarity.trial_id.unique()]
    pairs = sum(len(str(a).split("-")) * (len(str(a).split("-")) - 1) // 2 for a in shown.architecture)  # layers + 2
    assert len(similarity) == pairs and similarity.cka.between(0, 1).all() and similarity.cka_debiased.le(1).all()
    assert "Layer similarity (CKA)" in markdown and "## Layer similarity across the sweep (CKA)" in markdown
    # Study A's own views: one test image's class probabilities, 3-D PCA, two pixels against each other.
    shown_id = similarity.trial_id.iloc[0]
    assert {f"{shown_id}_probabilities.png", f"{shown_id}_pca_3d.png", "pixels_mnist_small.png"} <= {
        p.name for p in (out / "figures").iterdir()}
    assert f"figures/{shown_id}_pca_3d.png" in markdown and "## Raw pixels" in markdown
    across = pd.read_csv(out / "tables" / "cka_across_sweep.csv")
    assert len(across) == 6 * 5 // 2 and across.cka.between(0, 1).all()  # the four trials' six hidden layers


def test_second_report_computes_nothing(reported) -> None:
    _, cold, warm, *_ = reported
    assert warm.computed == 0 and cold.seconds["jobs"] > 0 and warm.seconds["jobs"] == 0
    assert warm.seconds["compute"] < 0.2 * cold.seconds["compute"]


def test_layer_jobs_ran_as_ray_tasks_and_progress_was_shown(reported) -> None:
    sweep, cold, warm, progress, _, _ = reported
    jobs = pd.DataFrame(cold.jobs)
    assert jobs.error.isna().all() and len(pd.read_csv(sweep / "report" / "tables" / "layer_jobs.csv")) == len(jobs)
    assert jobs.node.notna().all()  # every job was computed by a Ray task, none on the driver
    assert pd.DataFrame(warm.jobs).node.isna().all()  # and the warm report read them all on the driver
    # each job's end time lies within its own report's run: the cold one's before the warm one's
    assert 0 < jobs.ended.max() - jobs.ended.min() <= cold.seconds["total"]
    assert jobs.ended.max() <= pd.DataFrame(warm.jobs).ended.min()
    # every layer: its exact probes and KNN on UMAP; raw pixels and the shown trial: every method besides
    assert set(jobs.task) == {"probes", "umap", "pca", "tsne", "trimap", "pacmap"}
    lines = progress.splitlines()
    assert lines[0].startswith("report: ") and lines[0].endswith("(4 planned); following the sweep")
    # a line per finished job, with the time left while any is queued
    finished = [(int(m[1]), int(m[2]), line) for line in lines if (m := re.match(r"\s+\[\s*(\d+)/(\d+)\] ", line))]
    assert len(finished) == len(jobs) and all("left" in line for n, of, line in finished if n < of)
    assert lines[-1].startswith("report: ") and "cache entries computed" in lines[-1]


def test_followed_jobs_keep_to_the_cores_the_trials_leave(reported) -> None:
    """Until the last trial ends, the trials run at `cores_for`'s concurrency and the layer jobs on
    the cores left, so neither slows the other; then the jobs take every core."""
    sweep, cold, _, _, log, _ = reported
    run, share = cores_for(RunOptions())
    assert any(line.startswith(f"{run.concurrency} trial(s) at once; the report's layer jobs take {share} core(s)")
               for line in log)
    trials = [(t.metrics["trial_started"], t.metrics["trial_ended"]) for t in load_sweep(sweep).completed()]
    jobs = pd.DataFrame(cold.jobs).dropna(subset=["node"])  # the jobs Ray ran
    last = max(end for _, end in trials)
    ran = zip(jobs.ended - jobs.seconds, jobs.ended.clip(upper=last))
    for spans, most in ((trials, run.concurrency), (ran, share)):
        spans = [(start, end) for start, end in spans if start < last]
        # running when each one started, itself included (ends are rounded to 0.01 s)
        assert max(sum(s <= t < e - 0.05 for s, e in spans) for t, _ in spans) <= most


def test_bottleneck_of_two_units_is_probed_directly(reported) -> None:
    sweep, *_ = reported
    records = pd.read_csv(sweep / "report" / "tables" / "probes_long.csv")
    bottleneck = records[(records.label == "bottleneck") & (records.layer == "hidden_2")]
    assert set(bottleneck[bottleneck.probe.str.startswith("umap")].on) == {"the layer itself"}
    table = pd.read_csv(sweep / "report" / "tables" / "probes.csv", keep_default_na=False)
    assert dict(zip(table.label, table["probed directly"])) == {
        "": "", "plain": "", "bottleneck": "hidden_2", "pca": "", "rf-dropout": ""}
    jobs = pd.read_csv(sweep / "report" / "tables" / "layer_jobs.csv")
    flat = jobs[jobs.width == 2]
    assert list(flat.task) == ["probes", "umap"] and flat.seconds.max() < 5  # no embedding of a 2-unit layer


def test_raw_pixels_knn_reads_the_data_sets_shared_search(reported) -> None:
    """The raw pixels of a validation split are probed from the search over all the data set's
    training rows, and score what a search over the split's own rows does."""
    sweep, *_ = reported
    raw = next(j for j in planned(sweep) if j.layer == "raw" and j.task == "probes")
    assert len(list((Path(raw.cache_dir).parent / f"raw-{raw.dataset}").glob("raw-nearest-*.npz"))) == 1
    records = pd.read_csv(sweep / "report" / "tables" / "probes_long.csv").set_index(["layer", "probe"])
    train, y, test, y_test = load_rows(raw.trial_folder, "raw", raw.dataset, None)
    assert len(y) < len(data.load(raw.dataset).y_train)  # a split of the training rows
    for k, accuracy in knn(train, y, test, y_test, raw.ks, raw.vote).items():
        assert records.loc[("raw", f"knn{k}"), "accuracy"] == accuracy


def test_follow_writes_a_partial_report_until_the_sweep_ends(reported, tmp_path: Path) -> None:
    sweep = tmp_path / "smoke"
    shutil.copytree(reported[0], sweep)
    record = json.loads((sweep / "sweep.json").read_text())
    (sweep / "sweep.json").write_text(json.dumps({k: v for k, v in record.items() if k != "ended"}))
    page = sweep / "report" / "report.html"
    page.unlink()
    ended, outcome = threading.Event(), {}
    thread = threading.Thread(target=lambda: outcome.update(
        summary=build_report(sweep, OPTIONS, progress=Progress(io.StringIO()), follow=ended.is_set)))
    thread.start()
    for _ in range(600):
        if page.is_file() and "(partial)" in page.read_text():
            break
        time.sleep(0.1)
    partial = page.read_text()
    ended.set()
    thread.join(120)
    assert "(partial)" in partial and "http-equiv='refresh'" in partial
    final = page.read_text()
    assert "(partial)" not in final and "refresh" not in final and outcome["summary"].computed == 0


def test_jobs_go_on_while_a_partial_page_is_written(reported, tmp_path: Path, monkeypatch) -> None:
    """A partial page is written on a thread of its own: the jobs on the cores the trials leave
    are replaced as they end, not after the page."""
    import analysis.report

    sweep = tmp_path / "smoke"
    shutil.copytree(reported[0], sweep)
    for trial in load_sweep(sweep).completed():  # the trials' layer jobs to compute again, raw pixels read
        shutil.rmtree(sweep / "report" / "cache" / trial.trial_id)
    record = json.loads((sweep / "sweep.json").read_text())
    (sweep / "sweep.json").write_text(json.dumps({k: v for k, v in record.items() if k != "ended"}))
    pages, write = [], analysis.report._partial

    def slow(*args):  # a page that takes 6 s longer than it does
        start = time.time()
        written = write(*args)
        time.sleep(6)
        pages.append((start, time.time()))
        return written

    monkeypatch.setattr(analysis.report, "_partial", slow)
    ended = threading.Event()
    threading.Timer(12, ended.set).start()
    cheap = parse({"show": 1, "embeddings": {"pca": {"rows": 400}}, "probes": {"knn": [5], "linear": True}}, "test")
    summary = build_report(sweep, ReportOptions(plan=cheap), progress=Progress(io.StringIO()), follow=ended.is_set,
                           share=1)
    jobs = pd.DataFrame(summary.jobs).dropna(subset=["node"])
    started = jobs.ended - jobs.seconds
    assert pages and any(((a + 2 < started) & (started < b)).any() for a, b in pages)


def test_html_is_self_contained_with_sections_and_images(reported) -> None:
    sweep, *_ = reported
    page = (sweep / "report" / "report.html").read_text()
    for section in SECTIONS:
        assert f"<section id='{section}'>" in page
    trial_sections = re.findall(r"<section id='trial-([\w]+)'>", page)
    assert len(trial_sections) == 1
    images = re.findall(r"src='data:image/png;base64,([^']+)'", page)
    assert len(images) >= 12
    for encoded in images:
        assert matplotlib.image.imread(io.BytesIO(base64.b64decode(encoded)), format="png").ndim == 3
    assert not re.search(r"(src|href)=['\"](http|//)", page)  # nothing fetched from outside (Chromium checks too)
    for heading in ("Learning curves", "Embeddings: PCA, t-SNE, UMAP, UMAP, test rows, TriMAP, PaCMAP",
                    "logistic regression"):
        assert heading in page  # what a reader searches the page for
    assert "<div class='wide'><table" in page  # wide tables scroll instead of running off the page


def test_every_method_draws_the_rows_umap_was_fitted_on(reported) -> None:
    sweep, *_ = reported
    jobs = [j for j in planned(sweep) if j.layer == "hidden_1"]
    umap = run_layer(next(j for j in jobs if j.task == "umap"))
    tsne = run_layer(next(j for j in jobs if j.task == "tsne"))
    assert umap.computed == tsne.computed == []  # read from the cache
    assert len(umap.coords["umap"]) == len(tsne.coords["tsne"]) >= 0.95 * 400  # the plan's rows
    assert (umap.positions["umap"] == tsne.positions["tsne"]).all()
    assert len(umap.coords["umap/test"]) == umap.job.n_test  # and its transform of every test row


def test_every_method_keeps_the_classes_of_a_trained_layer_apart(reported) -> None:
    """Each embedding of the shown trial's first layer, as the report drew it: KNN-5 on half of its
    points scores the other half far above chance (0.1), and so does KNN on UMAP's transform of the
    test rows."""
    sweep, *_ = reported
    jobs = [j for j in planned(sweep) if j.layer == "hidden_1"]
    source = next(j.source for j in jobs if j.task == "tsne")  # the trial shown in full
    shown = [j for j in jobs if j.source == source and j.task != "probes"]
    drawn = {j.task: run_layer(j) for j in shown}
    assert set(drawn) == {"pca", "tsne", "umap", "trimap", "pacmap"}
    y_train = load_rows(shown[0].trial_folder, "hidden_1", shown[0].dataset, None)[1]
    for method, result in drawn.items():
        xy, y = result.coords[method], y_train[result.positions[method]]
        half = len(y) // 2
        floor = 0.3 if method == "pca" else 0.6  # two linear components of 32 keep less
        assert knn(xy[:half], y[:half], xy[half:], y[half:], ks=(5,))[5] > floor, method
    records = pd.read_csv(sweep / "report" / "tables" / "probes_long.csv")
    transformed = records[(records.source == shown[0].source) & (records.probe == "umap-knn5")]
    assert (transformed.accuracy > 0.6).all()


def test_a_retrained_trial_gets_fresh_probes(reported, tmp_path: Path) -> None:
    sweep = tmp_path / "smoke"
    shutil.copytree(reported[0], sweep)
    retrained = min((sweep / "trials").iterdir())
    metrics = json.loads((retrained / "metrics.json").read_text())
    (retrained / "metrics.json").write_text(json.dumps({**metrics, "attempt": 2, "trial_ended": time.time()}))
    build_report(sweep, replace(OPTIONS, top=0), progress=Progress(io.StringIO()))
    jobs = pd.read_csv(sweep / "report" / "tables" / "layer_jobs.csv")
    assert (jobs[jobs.source == retrained.name].computed > 0).all()
    assert jobs[jobs.source != retrained.name].computed.sum() == 0


SELECTED_ROWS = """gd => gd.data.reduce((by, t) => { const rows = (t.selectedpoints || []).map(k => t.customdata[k]);
  by[t.xaxis] = [...(by[t.xaxis] || []), ...rows].sort((a, b) => a - b); return by; }, {})"""


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


def test_report_in_headless_chromium(reported, browser, tmp_path: Path) -> None:
    """The page loads with no console error, and its interactive parts answer a scripted user.
    Screenshots go to $MLP_SWEEP_SCREENSHOTS when set."""
    sweep, *_ = reported
    shots = Path(os.environ.get("MLP_SWEEP_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, fetched = [], []
    page.on("request", lambda request: fetched.append(request.url))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((sweep / "report" / "report.html").as_uri())
    page.wait_for_function("document.body.dataset.ready === 'yes'")

    # The explorer: hover a point for its digit and classes.
    plot = page.locator(".explorer .explorer-plot").first
    tip = hover_first_point(page, plot)
    assert re.fullmatch(r"true \d, predicted \d\ntrial \S+ \w+\ntrain row \d+", tip.inner_text())
    background = tip.locator(".picture").evaluate("d => getComputedStyle(d).backgroundImage")
    assert background.startswith('url("data:image/png')
    page.screenshot(path=shots / "explorer_hover.png")
    # Box-select in the raw pixels: the same rows are highlighted in the hidden layer.
    box_select(page, plot)
    rows = plot.evaluate(SELECTED_ROWS)
    assert set(rows) == {"x", "x2"} and 0 < len(rows["x"]) < 400 and rows["x"] == rows["x2"]
    # Class 1 toggled off in the legend: hidden in every layer. Another method keeps both choices.
    page.locator(".explorer .legend .traces").nth(1).click()
    page.wait_for_function("() => document.querySelector('.explorer-plot').data.some(t => t.visible === 'legendonly')")
    page.locator(".explorer select").first.select_option("UMAP")
    page.wait_for_function(
        "() => document.querySelector('.explorer-plot').layout.annotations[0].text.includes('fit on')")
    assert {t["visible"] for t in plot.evaluate("gd => gd.data.filter(t => t.legendgroup === '1')")} == {"legendonly"}
    assert plot.evaluate(SELECTED_ROWS)["x2"] == rows["x"]
    plot.screenshot(path=shots / "explorer_selection.png")

    # Parallel coordinates: brushing the test-accuracy axis keeps a range.
    parallel = brush_last_axis(page)
    parallel.screenshot(path=shots / "parallel_coordinates_brushed.png")

    # Tables: a header click sorts, the box above filters.
    table = page.locator("#comparison table.sortable").first
    column = table.locator("th").all_inner_texts().index("test accuracy %") + 1

    def accuracies() -> list[float]:
        return [float(t.split()[0]) for t in table.locator(f"tbody td:nth-child({column})").all_inner_texts()]

    before = accuracies()
    assert before == sorted(before, reverse=True)  # best first, as written
    table.locator("th", has_text="test accuracy %").click()
    assert accuracies() == sorted(before) != before
    trials = page.locator("#overview table.sortable")
    page.locator("#overview input.filter").fill("plain")
    assert trials.locator("tbody tr:visible").count() == 1
    assert page.locator("#overview .filter-count").inner_text() == "1 of 4 rows"
    page.locator("#overview").screenshot(path=shots / "table_filtered.png")

    assert page.locator("#probes img").count() >= 1 and page.locator(".explorer").count() == 1
    assert page.locator(".js-plotly-plot .gl-container").count() >= 1  # the 3-D PCA view drew
    assert errors == [] and {url.split(":")[0] for url in fetched} <= {"file", "data", "blob"}
    page.close()


def test_partial_sweep_lists_failed_and_running_trials(reported, tmp_path: Path, capsys) -> None:
    sweep = tmp_path / "smoke"
    shutil.copytree(reported[0], sweep)  # with its report cache: only the listing is new work
    first, second, third = sorted((sweep / "trials").iterdir())[:3]
    metrics = json.loads((first / "metrics.json").read_text())
    failed = {**metrics, "status": "failed", "error": "TrainingDiverged: loss became nan"}
    (first / "metrics.json").write_text(json.dumps(failed))
    (second / "metrics.json").write_text(json.dumps({**metrics, "status": "running", "test_accuracy": None}))
    (third / "activations.npz").unlink()  # killed before its arrays were written...
    (third / "metrics.json").unlink()  # ...so it never completed
    reduction = next((sweep / "reductions").glob("*.npz"))
    (reduction.parent / f".{reduction.stem}.123.tmp.npz").write_bytes(b"half a file")  # a killed trial's
    space = sweep / "space.yaml"
    space.write_text(space.read_text().replace("description:", "description: <b>bold</b> | a_b"))
    code = main(["report", str(sweep), "--top", "0"])
    assert code == 0
    page = (sweep / "report" / "report.html").read_text()
    assert "failed" in page and "running" in page and "starting" in page and "loss became nan" in page
    assert "1 completed" in page and "&lt;b&gt;bold&lt;/b&gt; | a_b" in page
    assert "&lt;b&gt;bold&lt;/b&gt; \\| a\\_b" in (sweep / "report" / "report.md").read_text()


@pytest.mark.parametrize("option, value, says", [
    ("--nodes", "hidden_1:999", "node 999 is in none of them"), ("--nodes", "hidden_7:0", "no trial shown in full has"),
    ("--trials", "nonesuch", "'nonesuch' is shown in full, but no trial has it"),
    ("--image", "10000", "image 10000 is not among them"),
    ("--image", "-1", "--image must be >= 0")])
def test_report_options_that_name_missing_things_are_exit_2(reported, capsys, option: str, value: str,
                                                            says: str) -> None:
    sweep = reported[0]
    before = (sweep / "report" / "report.html").stat().st_mtime
    assert main(["report", str(sweep), "--top", "1", option, value]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
    assert (sweep / "report" / "report.html").stat().st_mtime == before  # nothing rewritten


def test_report_on_missing_folder_is_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "not a sweep folder" in capsys.readouterr().err


def test_run_with_report_leaves_the_report_a_later_one_repeats(reported) -> None:
    sweep, cold, warm, progress, log, probes = reported
    assert any("s left)" in line for line in log)  # the sweep's own estimate
    assert "layer jobs" in progress and "cache entries computed" in progress  # the report's, beside it
    assert not cold.failed and "(partial)" not in cold.html.read_text()
    assert (sweep / "report" / "tables" / "probes_long.csv").read_text() == probes and warm.computed == 0


def test_a_declared_plan_runs_only_its_jobs(write_space, tmp_path: Path) -> None:
    """`sweep run --report` on a space whose analysis section names one method and two probes."""
    space = write_space(SMOKE.read_text().split("experiments:")[0] + """
experiments:
  - {label: plain, hidden: [32]}
analysis:
  show: all
  embeddings: {pca: {rows: 400}}
  probes: {knn: [5], linear: true}
""")
    assert main(["run", str(space), "--results", str(tmp_path), "--report"]) == 0
    tables = tmp_path / "space" / "report" / "tables"
    jobs = pd.read_csv(tables / "layer_jobs.csv")
    assert sorted(zip(jobs.layer, jobs.task)) == [("hidden_1", "pca"), ("hidden_1", "probes"), ("raw", "pca"),
                                                  ("raw", "probes")]
    probes = pd.read_csv(tables / "probes.csv")
    assert [c for c in probes.columns if " " in c and c != "probed directly"] == [
        "raw knn5", "raw linear", "hidden_1 knn5", "hidden_1 linear"]
    page = (tmp_path / "space" / "report" / "report.html").read_text()
    assert "Embeddings: PCA</h3>" in page and "fitted on 5,000 training rows, scored on 1,000 test rows" in page

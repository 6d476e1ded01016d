"""The report on the smoke sweep: written, cached, partial-sweep safe, and clean in a real browser."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import pytest

from analysis.report import ReportOptions, build_report
from sweep.cli import main

pytestmark = pytest.mark.slow

OPTIONS = ReportOptions(top=1, subsample=400, workers=2)
SECTIONS = ["overview", "comparison", "probes", "reductions"]


@pytest.fixture(scope="module")
def reported(smoke_sweep: Path, tmp_path_factory: pytest.TempPathFactory):
    """A copy of the smoke sweep, reported cold and then warm."""
    sweep = tmp_path_factory.mktemp("report") / "smoke"
    shutil.copytree(smoke_sweep, sweep)
    cold = build_report(sweep, OPTIONS)
    warm = build_report(sweep, OPTIONS)
    return sweep, cold, warm


def test_report_files_and_tables(reported) -> None:
    sweep, cold, _ = reported
    out = sweep / "report"
    assert {p.name for p in (out / "tables").iterdir()} >= {"trials.csv", "configurations.csv", "probes.csv"}
    probes = (out / "tables" / "probes.csv").read_text().splitlines()
    assert len(probes) == 1 + 1 + 4  # header, raw pixels, four trials
    assert "raw umap-knn5" in probes[0] and "hidden_2 linear" in probes[0]
    markdown = (out / "report.md").read_text()
    assert "## Probes per layer" in markdown and "figures/probes_by_layer.png" in markdown
    assert cold.computed > 0


def test_second_report_computes_nothing(reported) -> None:
    _, cold, warm = reported
    assert warm.computed == 0
    assert warm.seconds["embeddings"] + warm.seconds["probes"] < 0.2 * (cold.seconds["embeddings"] + cold.seconds["probes"])


def test_html_is_self_contained_with_sections_and_images(reported) -> None:
    sweep, _, _ = reported
    page = (sweep / "report" / "report.html").read_text()
    for section in SECTIONS:
        assert f"<section id='{section}'>" in page
    trial_sections = re.findall(r"<section id='trial-([\w]+)'>", page)
    assert len(trial_sections) == 1
    images = re.findall(r"src='data:image/png;base64,([^']+)'", page)
    assert len(images) >= 12
    for data in images:
        assert matplotlib.image.imread(io.BytesIO(base64.b64decode(data)), format="png").ndim == 3
    assert not re.search(r"(src|href)=['\"](http|//)", page)  # nothing fetched from outside


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_report_loads_in_headless_chromium_without_errors(reported, tmp_path: Path) -> None:
    sweep, _, _ = reported
    run = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path}", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
         "--dump-dom", (sweep / "report" / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert 'data-ready="yes"' in run.stdout  # the page's script ran to its end
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    assert run.stdout.count("<img") >= 12 and "Probes per layer" in run.stdout


def test_partial_sweep_lists_failed_and_running_trials(reported, tmp_path: Path, capsys) -> None:
    sweep = tmp_path / "smoke"
    shutil.copytree(reported[0], sweep)  # with its report cache: only the listing is new work
    first, second, third = sorted((sweep / "trials").iterdir())[:3]
    metrics = json.loads((first / "metrics.json").read_text())
    (first / "metrics.json").write_text(json.dumps({**metrics, "status": "failed", "error": "TrainingDiverged: loss became nan"}))
    (second / "metrics.json").write_text(json.dumps({**metrics, "status": "running", "test_accuracy": None}))
    (third / "activations.npz").unlink()  # killed before its arrays were written...
    (third / "metrics.json").unlink()  # ...so it never completed
    code = main(["report", str(sweep), "--top", "1", "--subsample", "400", "--workers", "1"])
    assert code == 0
    page = (sweep / "report" / "report.html").read_text()
    assert "failed" in page and "running" in page and "starting" in page and "loss became nan" in page
    assert "1 completed" in page


def test_report_on_missing_folder_is_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "not a sweep folder" in capsys.readouterr().err

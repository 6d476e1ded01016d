from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from sweep.folder import SweepFolder

ROOT = Path(__file__).resolve().parents[1]
SPACES = ROOT / "search_spaces"

os.environ.setdefault("KERAS_BACKEND", "jax")


def write_trial(root: Path, trial_id: str, hidden: list[int], seed: int, acc: float | None, status: str = "completed",
                **extra) -> None:
    """A trial folder as a trial writes it: params.json and, unless it is still starting, metrics.json."""
    folder = root / "trials" / trial_id
    folder.mkdir(parents=True)
    params = {"dataset": "mnist", "hidden": hidden, "dropout": 0.0, "reduction": "none", "reduction_k": 0,
              "optimizer": "rmsprop", "learning_rate": 0.001, "batch_size": 32, "activation": "relu",
              "seed": seed, "label": f"h{hidden[-1]}", "validation": 5000, "patience": extra.pop("patience", 2)}
    (folder / "params.json").write_text(json.dumps(params))
    if status == "starting":
        return
    metrics = {**params, "input_reduction": "none", "status": status, **extra}
    if acc is not None:
        metrics |= {"test_accuracy": acc, "best_val_accuracy": acc + 0.01, "epochs": 10 + seed,
                    "train_seconds": 5.0 * (seed + 1), "n_params": 1000 * hidden[-1]}
    (folder / "metrics.json").write_text(json.dumps(metrics))


def wait_for(condition: Callable[[], bool], timeout: float = 240) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.2)


def start_sweep(tmp_path: Path, text: str, *args: str, **popen) -> subprocess.Popen:
    """`sweep run` of the space `text` (saved as tmp_path/space.yaml) into tmp_path/results, in a
    process of its own, its output piped."""
    space = tmp_path / "space.yaml"
    space.write_text(text)
    cmd = [sys.executable, "-m", "mlp_sweep", "run", str(space), "--results", str(tmp_path / "results"), *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def trial_metrics(sweep: Path) -> dict[str, dict]:
    """Each trial's metrics as the sweep folder reports them (the driver's word on how a trial ended included)."""
    folder = SweepFolder(sweep)
    return {t.trial_id: folder.metrics(t) for t in folder.trials() if t.metrics.is_file()}


@pytest.fixture
def write_space(tmp_path: Path):
    """Write YAML text to a space file under tmp_path and return its path."""

    def write(text: str, name: str = "space.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


# The analysis section of the session's smoke sweep: one trial in full, every method and probe on
# few rows, UMAP drawn from the KNN-on-UMAP probe's own fit.
ANALYSIS = """
analysis:
  show: 1
  embeddings:
    pca: {rows: 400}
    tsne: {rows: 400}
    umap: {rows: 400, test: true}
    trimap: {rows: 400}
    pacmap: {rows: 400}
  probes: {knn: [5], linear: true, umap_knn: {k: [3, 5, 10], rows: 400}}
"""


class Smoke(NamedTuple):
    sweep: Path
    report: Any  # the ReportSummary of the report written beside the sweep as its trials completed
    progress: str  # what that report said on stderr
    log: list[str]  # what the sweep said
    probes: str  # tables/probes_long.csv as that report left it


@pytest.fixture(scope="session")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Smoke:
    """The smoke space with the analysis section ANALYSIS, run once per session on real Ray Tune with
    its report beside it and tracked in MLflow beside it, as `sweep run --report --mlflow` does.
    Tests read it; those that change it copy it."""
    from analysis.report import run_with_report
    from sweep.runner import RunOptions
    from sweep.space_file import load_space
    from sweep.trackers import BESIDE

    space = tmp_path_factory.mktemp("space") / "smoke.yaml"
    space.write_text((SPACES / "smoke.yaml").read_text() + ANALYSIS)
    log, progress = [], io.StringIO()
    with contextlib.redirect_stderr(progress):
        sweep, report = run_with_report(load_space(space), RunOptions(results=tmp_path_factory.mktemp("results"),
                                                                      mlflow=BESIDE), log=log.append)
    probes = (sweep / "report" / "tables" / "probes_long.csv").read_text()
    return Smoke(sweep, report, progress.getvalue(), log, probes)


@pytest.fixture(scope="session")
def smoke_sweep(smoke: Smoke) -> Path:
    """The session's smoke sweep folder, analysed."""
    return smoke.sweep


def digits_npz(folder: Path) -> Path:
    """scikit-learn's 8x8 digits (1,797 real images) as uint8 images in an .npz: 1,400 train, 397 test."""
    import numpy as np
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x.reshape(-1, 8, 8) * 15).astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    path = folder / "digits.npz"
    np.savez(path, x_train=x[:1400], y_train=y[:1400], x_test=x[1400:], y_test=y[1400:])
    return path


def wine_table(folder: Path, suffix: str = ".csv") -> Path:
    """scikit-learn's wine (178 rows, 13 features) as a table with string classes in `label`."""
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True)
    frame = wine.frame.rename(columns={"target": "label"})
    frame["label"] = frame["label"].map(dict(enumerate(wine.target_names)))
    path = folder / f"wine{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    return path

"""A real two-node Ray cluster on this machine: the smoke sweep spreads over both nodes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import SPACES
from tests.ray_cluster import cluster_of_two, token_env

pytestmark = pytest.mark.slow


@pytest.fixture
def two_nodes(monkeypatch: pytest.MonkeyPatch):
    for name, value in token_env().items():
        monkeypatch.setenv(name, value)
    with cluster_of_two() as address:
        yield address


def test_smoke_sweep_and_its_report_run_on_both_nodes(two_nodes: str, tmp_path: Path) -> None:
    # Processes of their own: Ray reads the cluster's token once per process.
    run = subprocess.run([sys.executable, "-m", "cli", "run", str(SPACES / "smoke.yaml"), "--results",
                          str(tmp_path), "--address", two_nodes], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = [json.loads(p.read_text()) for p in (tmp_path / "smoke" / "trials").glob("*/metrics.json")]
    assert len(metrics) == 4 and all(m["status"] == "completed" for m in metrics)
    assert len({m["node"] for m in metrics}) == 2

    report = subprocess.run([sys.executable, "-m", "cli", "report", str(tmp_path / "smoke"), "--address", two_nodes,
                             "--top", "1", "--methods", "pca,umap", "--subsample", "400", "--probe-rows", "1000"],
                            capture_output=True, text=True, timeout=600)
    assert report.returncode == 0, report.stderr[-3000:]
    jobs = pd.read_csv(tmp_path / "smoke" / "report" / "tables" / "layer_jobs.csv")
    assert len(jobs) == 1 + 6 + 2 and jobs.error.isna().all()  # raw and 6 hidden layers' probes; 2 PCA drawings
    assert set(jobs.node) == {m["node"] for m in metrics}

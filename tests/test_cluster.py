"""A real two-node Ray cluster on this machine: the smoke sweep spreads over both nodes."""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import SPACES

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_nodes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """`ray start --head` and a second `ray start --address` node, one CPU each; stopped afterwards."""
    ray = shutil.which("ray")
    assert ray, "the ray command comes with ray[tune]"
    # Ray's token authentication: every process of the cluster and the driver share one token.
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", secrets.token_hex(16))
    address = f"127.0.0.1:{_free_port()}"
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    try:
        subprocess.run([ray, "start", "--head", f"--port={address.split(':')[1]}", "--include-dashboard=false",
                        *common], check=True, capture_output=True, timeout=120)
        subprocess.run([ray, "start", f"--address={address}", *common], check=True, capture_output=True, timeout=120)
        yield address
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120)


def test_smoke_sweep_and_its_report_run_on_both_nodes(two_nodes: str, tmp_path: Path) -> None:
    # Processes of their own: Ray reads the cluster's token once per process.
    run = subprocess.run([sys.executable, "-m", "sweep.cli", "run", str(SPACES / "smoke.yaml"), "--results",
                          str(tmp_path), "--address", two_nodes], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = [json.loads(p.read_text()) for p in (tmp_path / "smoke" / "trials").glob("*/metrics.json")]
    assert len(metrics) == 4 and all(m["status"] == "completed" for m in metrics)
    assert len({m["node"] for m in metrics}) == 2

    report = subprocess.run([sys.executable, "-m", "sweep.cli", "report", str(tmp_path / "smoke"), "--address", two_nodes,
                             "--top", "1", "--methods", "pca,umap", "--subsample", "400", "--probe-rows", "1000"],
                            capture_output=True, text=True, timeout=600)
    assert report.returncode == 0, report.stderr[-3000:]
    jobs = pd.read_csv(tmp_path / "smoke" / "report" / "tables" / "layer_jobs.csv")
    assert len(jobs) == 1 + 6 + 2 and jobs.error.isna().all()  # raw and 6 hidden layers' probes; 2 PCA drawings
    assert set(jobs.node) == {m["node"] for m in metrics}

"""A real two-node Ray cluster on this machine: the smoke sweep spreads over both nodes."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import SPACES

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_node(ray: str, *args: str) -> subprocess.Popen:
    """`ray start --block` in a session of its own: ending it ends the node's processes and no others."""
    node = subprocess.Popen([ray, "start", "--block", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    lines = []
    for line in node.stdout:  # ray prints this once the node runs, then blocks
        lines.append(line)
        if "Ray runtime started" in line:
            threading.Thread(target=node.stdout.read, daemon=True).start()  # keep its pipe drained
            return node
    node.wait()
    raise AssertionError("ray start failed:\n" + "".join(lines[-30:]))


def _stop_node(node: subprocess.Popen) -> None:
    node.terminate()  # ray start --block stops the processes it started, then exits
    try:
        node.wait(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGKILL)  # whatever of its session is left


@pytest.fixture
def two_nodes(monkeypatch: pytest.MonkeyPatch):
    """A head node and a second node, one CPU each, on loopback; only their processes are stopped afterwards."""
    ray = shutil.which("ray")
    assert ray, "the ray command comes with ray[tune]"
    # Ray's token authentication: every process of the cluster and the driver share one token.
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", secrets.token_hex(16))
    temp = tempfile.mkdtemp(prefix="ray-")  # short: Ray's socket paths live under it; another cluster's files untouched
    address = f"127.0.0.1:{_free_port()}"
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    nodes = []
    try:
        nodes.append(_start_node(ray, "--head", f"--port={address.split(':')[1]}", "--include-dashboard=false",
                                 f"--temp-dir={temp}", *common))
        nodes.append(_start_node(ray, f"--address={address}", *common))
        yield address
    finally:
        for node in reversed(nodes):
            _stop_node(node)
        shutil.rmtree(temp, ignore_errors=True)


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

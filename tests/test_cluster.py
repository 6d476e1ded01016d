"""A real two-node Ray cluster on this machine: the smoke sweep spreads over both nodes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def test_smoke_sweep_runs_on_both_nodes_of_a_shared_disk(two_nodes: str, tmp_path: Path) -> None:
    """The report's layer jobs on a cluster are tested on object storage (tests/test_storage.py)."""
    # Processes of their own: Ray reads the cluster's token once per process.
    run = subprocess.run([sys.executable, "-m", "mlp_sweep", "run", str(SPACES / "smoke.yaml"), "--results",
                          str(tmp_path), "--address", two_nodes], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = [json.loads(p.read_text()) for p in (tmp_path / "smoke" / "trials").glob("*/metrics.json")]
    assert len(metrics) == 4 and all(m["status"] == "completed" for m in metrics)
    assert len({m["node"] for m in metrics}) == 2

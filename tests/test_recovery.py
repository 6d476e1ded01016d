"""Crashes with real processes and signals: a killed trial and a trial that raises. (A killed driver:
tests/test_lineage.py and tests/test_storage.py; a diverging trial: tests/test_lineage.py.)"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from sweep.data import SHIPPED
from tests.conftest import start_sweep, trial_metrics, wait_for

pytestmark = pytest.mark.slow

# Full MNIST at batch 32: about a second an epoch, slow enough to be caught mid-training.
SLOW = """
seeds: [0]
max_failures: 1
params:
  dataset: mnist
  hidden: [32]
  optimizer: adam
  max_epochs: {epochs}
  patience: null
  keep_train: 1000
experiments: {experiments}
"""


def test_a_killed_trial_is_retried_and_one_killed_on_its_last_try_fails_the_sweep(tmp_path: Path) -> None:
    """Two trials, one retry each: `b`'s process killed once, it trains again to its end; `a`'s killed on
    both tries, it is failed and the sweep exits 1."""
    proc = start_sweep(tmp_path, SLOW.format(epochs=6, experiments="[{label: a}, {label: b}]"))
    sweep = tmp_path / "results" / "space"

    def training(label: str, attempt: int) -> dict | None:
        return next((m for t, m in trial_metrics(sweep).items() if m.get("label") == label
                     and m.get("attempt") == attempt and m.get("status") == "running"
                     and (sweep / "trials" / t / "history.csv").is_file()), None)

    killed = {}
    for label, attempt in (("a", 1), ("b", 1), ("a", 2)):
        wait_for(lambda: training(label, attempt) is not None)  # noqa: B023
        killed[label, attempt] = training(label, attempt)["pid"]
        os.kill(killed[label, attempt], signal.SIGKILL)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, out
    final = {m["label"]: m for m in trial_metrics(sweep).values()}
    a, b = final["a"], final["b"]
    assert b["status"] == "completed" and b["attempt"] == 2 and b["epochs"] == 6
    assert b["pid"] != killed["b", 1]
    assert a["status"] == "failed" and a["error"] == "the trial's process died (attempt 2)"
    assert sum(f"{a['trial_id']}  FAILED: the trial's process died" in line for line in out.splitlines()) == 1


def test_a_trial_that_raises_is_retried_recorded_off_the_console_and_exits_1(tmp_path: Path) -> None:
    """The data pass the driver's check, then a file breaks before the trials read it (a disk fault)."""
    data = tmp_path / "data"
    shutil.copytree(SHIPPED / "mnist", data)
    proc = start_sweep(tmp_path, SLOW.format(epochs=1, experiments="[{label: a}]"), "--data-dir", str(data))
    wait_for(lambda: (tmp_path / "results" / "space" / "sweep.json").is_file())  # written after the check
    labels = data / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:1000])
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, out
    assert "Traceback" not in out and "ERROR" not in out, out  # Ray's own tracebacks stay off the console
    final = trial_metrics(tmp_path / "results" / "space")
    assert [m["status"] for m in final.values()] == ["failed"]
    assert all(m["attempt"] == 2 for m in final.values())  # retried once, as max_failures says
    for trial_id, m in final.items():
        assert "unreadable" in m["error"]
        assert "Traceback" in (tmp_path / "results" / "space" / "trials" / trial_id / "error.txt").read_text()
        assert sum(trial_id in line and "FAILED" in line for line in out.splitlines()) == 1
    assert "1 of 1 trials did not complete" in out

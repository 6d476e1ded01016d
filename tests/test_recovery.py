"""Crashes with real processes and signals: a killed trial, a killed driver, failing trials."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from mlp_sweep import main
from sweep.data import SHIPPED
from tests.conftest import start_sweep, trial_metrics, wait_for

pytestmark = pytest.mark.slow

# Full MNIST at batch 32: about a second an epoch, slow enough to be caught mid-training.
SLOW = """
seeds: [0]
max_failures: 2
params:
  dataset: mnist
  hidden: [32]
  optimizer: adam
  max_epochs: {epochs}
  patience: null
  keep_train: 1000
experiments: {experiments}
"""


def test_killed_trial_process_is_retried(tmp_path: Path) -> None:
    proc = start_sweep(tmp_path, SLOW.format(epochs=6, experiments="[{label: a}, {label: b}]"))
    sweep = tmp_path / "results" / "space"

    def training() -> bool:
        return any(m.get("status") == "running" and (sweep / "trials" / t / "history.csv").is_file()
                   for t, m in trial_metrics(sweep).items())

    wait_for(training)
    victim, metrics = next((t, m) for t, m in trial_metrics(sweep).items() if m.get("status") == "running")
    os.kill(metrics["pid"], signal.SIGKILL)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    final = trial_metrics(sweep)
    assert [m["status"] for m in final.values()] == ["completed", "completed"]
    assert final[victim]["attempt"] == 2 and final[victim]["pid"] != metrics["pid"]
    assert final[victim]["epochs"] == 6


def test_a_trial_killed_on_its_last_try_is_failed_and_the_sweep_exits_1(tmp_path: Path) -> None:
    text = SLOW.format(epochs=6, experiments="[{label: a}]").replace("max_failures: 2", "max_failures: 0")
    proc = start_sweep(tmp_path, text)
    sweep = tmp_path / "results" / "space"
    wait_for(lambda: any((sweep / "trials" / t / "history.csv").is_file() for t in trial_metrics(sweep)))
    (trial_id, metrics), = trial_metrics(sweep).items()
    os.kill(metrics["pid"], signal.SIGKILL)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, out
    final = trial_metrics(sweep)[trial_id]
    assert final["status"] == "failed" and final["error"] == "the trial's process died (attempt 1)"
    assert f"{trial_id}  FAILED: the trial's process died" in out


def test_killed_driver_then_resume_reruns_nothing_finished(tmp_path: Path) -> None:
    experiments = "[{label: a}, {label: b}]"
    proc = start_sweep(tmp_path, SLOW.format(epochs=3, experiments=experiments), "--concurrency", "1",
                  start_new_session=True)
    sweep = tmp_path / "results" / "space"
    wait_for(lambda: any(m.get("status") == "completed" for m in trial_metrics(sweep).values()))
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray processes it started, like a crash
    proc.wait()
    done_before = {t: m for t, m in trial_metrics(sweep).items() if m["status"] == "completed"}
    assert len(done_before) == 1

    assert main(["run", str(tmp_path / "space.yaml"), "--results", str(tmp_path / "results"), "--resume"]) == 0
    final = trial_metrics(sweep)
    assert len(final) == 2 and all(m["status"] == "completed" for m in final.values())
    for trial_id, metrics in done_before.items():
        assert final[trial_id] == metrics  # read back, not trained again
    assert sorted(m["label"] for m in final.values()) == ["a", "b"]


def test_a_diverging_trial_is_recorded_the_sweep_goes_on_and_exits_1(tmp_path: Path, capsys) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("""
params: {dataset: mnist_small, validation: 1000, hidden: [16], max_epochs: 2, patience: null, optimizer: sgd}
experiments:
  - {label: fine, learning_rate: 0.01}
  - {label: diverges, learning_rate: 1.0e+30}
""")
    assert main(["run", str(space), "--results", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "1 of 2 trials did not complete" in out and "loss became nan" in out
    by_label = {m["label"]: m for m in trial_metrics(tmp_path / "space").values()}
    assert by_label["fine"]["status"] == "completed"
    assert by_label["diverges"]["status"] == "failed" and "loss became nan" in by_label["diverges"]["error"]
    assert (tmp_path / "space" / "trials" / by_label["diverges"]["trial_id"] / "error.txt").read_text()


def test_a_trial_that_raises_is_retried_recorded_off_the_console_and_exits_1(tmp_path: Path) -> None:
    """The data pass the driver's check, then a file breaks before the trials read it (a disk fault)."""
    data = tmp_path / "data"
    shutil.copytree(SHIPPED / "mnist", data)
    proc = start_sweep(tmp_path, SLOW.format(epochs=1, experiments="[{label: a}]").replace(
        "max_failures: 2", "max_failures: 1"), "--data-dir", str(data))
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

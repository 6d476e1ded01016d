"""Trials that start from another trial's end (`init_from`), through real Ray Tune: submitted once
the parent completes, trained on from its weights, failed with it, and resumed after a crash; and a
diverging trial recorded while the sweep goes on."""

from __future__ import annotations

import contextlib
import io
import os
import signal
from pathlib import Path

import pandas as pd
import pytest

from mlp_sweep import main
from tests.conftest import start_sweep, trial_metrics, wait_for

pytestmark = pytest.mark.slow

SPACE = """
params: {dataset: mnist_small, validation: 1000, hidden: [32], optimizer: adam, patience: null, batch_size: 64}
experiments:
  - {label: child, init_from: parent, max_epochs: 1}
  - {label: parent, max_epochs: 4}
  - {label: fresh, max_epochs: 1}
  - {label: diverges, optimizer: sgd, learning_rate: 1.0e+30, max_epochs: 2}
  - {label: orphan, init_from: diverges, optimizer: sgd, max_epochs: 1}
"""


def _by_label(sweep: Path) -> dict[str, dict]:
    return {m["label"]: m for m in trial_metrics(sweep).values()}


def _history(sweep: Path, metrics: dict) -> pd.DataFrame:
    return pd.read_csv(sweep / "trials" / metrics["trial_id"] / "history.csv")


@pytest.fixture(scope="module")
def lineage(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, str, str]:
    """One sweep of SPACE: its exit code, folder, progress lines and summary."""
    tmp = tmp_path_factory.mktemp("lineage")
    (tmp / "space.yaml").write_text(SPACE)
    progress, summary = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(progress), contextlib.redirect_stdout(summary):
        code = main(["run", str(tmp / "space.yaml"), "--results", str(tmp)])
    return code, tmp / "space", progress.getvalue(), summary.getvalue()


def test_a_child_trains_on_from_its_parents_end(lineage) -> None:
    _, sweep, _, _ = lineage
    trials = _by_label(sweep)
    parent, child, fresh = trials["parent"], trials["child"], trials["fresh"]
    assert child["status"] == "completed" and child["started_from"] == parent["trial_id"]
    assert "started_from" not in fresh
    assert child["trial_started"] >= parent["trial_ended"]  # submitted once the parent completed
    first = _history(sweep, child).accuracy[0]
    assert abs(first - _history(sweep, parent).accuracy.iloc[-1]) < 0.03
    assert first > _history(sweep, fresh).accuracy[0] + 0.05


def test_a_parent_that_fails_fails_its_children_in_one_line(lineage) -> None:
    code, sweep, progress, _ = lineage
    assert code == 1
    orphan = _by_label(sweep)["orphan"]
    says = f"it starts from diverges (trial {orphan['started_from']}), which failed or was stopped early"
    assert orphan["status"] == "failed" and orphan["error"] == says
    failed = [line for line in progress.splitlines() if f"{orphan['trial_id']}  FAILED" in line]
    assert len(failed) == 1 and f"FAILED: {says}" in failed[0]


def test_a_diverging_trial_is_recorded_the_sweep_goes_on_and_exits_1(lineage) -> None:
    code, sweep, _, summary = lineage
    assert code == 1
    assert "2 of 5 trials did not complete" in summary and "loss became nan" in summary
    trials = _by_label(sweep)
    assert [trials[label]["status"] for label in ("parent", "child", "fresh")] == ["completed"] * 3
    diverges = trials["diverges"]
    assert diverges["status"] == "failed" and "loss became nan" in diverges["error"]
    assert (sweep / "trials" / diverges["trial_id"] / "error.txt").read_text()


def test_a_resumed_sweep_starts_the_child_from_the_parent_that_completed_before_the_crash(tmp_path: Path) -> None:
    """The driver killed with its Ray once the parent completed (the child may have completed too):
    the resumed sweep reads back every trial that completed and trains only what did not."""
    text = """
seeds: [0]
params: {dataset: mnist, hidden: [32], optimizer: adam, patience: null, keep_train: 1000}
experiments:
  - {label: parent, max_epochs: 2}
  - {label: child, init_from: parent, max_epochs: 3}
"""
    proc = start_sweep(tmp_path, text, start_new_session=True)
    sweep = tmp_path / "results" / "space"

    def saved() -> bool:  # Tune has saved its state since the parent completed
        return any('"ended": [[' in state.read_text() for state in (sweep / "ray").rglob("searcher-state-*"))

    wait_for(saved)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray processes it started, like a crash
    proc.wait()
    done = {label: m for label, m in _by_label(sweep).items() if m["status"] == "completed"}
    assert "parent" in done
    assert main(["run", str(tmp_path / "space.yaml"), "--results", str(tmp_path / "results"), "--resume"]) == 0
    trials = _by_label(sweep)
    assert len(trial_metrics(sweep)) == 2 and all(m["status"] == "completed" for m in trials.values())
    for label, metrics in done.items():
        assert trials[label] == metrics  # read back, not trained again
    assert trials["child"]["started_from"] == trials["parent"]["trial_id"]

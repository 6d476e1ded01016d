"""Trials that start from another trial's end (`init_from`), through real Ray Tune: submitted once
the parent completes, trained on from its weights, failed with it, and resumed after a crash."""

from __future__ import annotations

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
"""


def _by_label(sweep: Path) -> dict[str, dict]:
    return {m["label"]: m for m in trial_metrics(sweep).values()}


def _history(sweep: Path, metrics: dict) -> pd.DataFrame:
    return pd.read_csv(sweep / "trials" / metrics["trial_id"] / "history.csv")


def test_a_child_trains_on_from_its_parents_end(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    assert main(["run", str(space), "--results", str(tmp_path)]) == 0
    trials = _by_label(tmp_path / "space")
    parent, child, fresh = trials["parent"], trials["child"], trials["fresh"]
    assert child["started_from"] == parent["trial_id"] and "started_from" not in fresh
    assert child["trial_started"] >= parent["trial_ended"]  # submitted once the parent completed
    first = _history(tmp_path / "space", child).accuracy[0]
    assert abs(first - _history(tmp_path / "space", parent).accuracy.iloc[-1]) < 0.03
    assert first > _history(tmp_path / "space", fresh).accuracy[0] + 0.05


def test_a_parent_that_fails_fails_its_children_in_one_line(tmp_path: Path, capsys) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("""
params: {dataset: mnist_small, validation: 1000, hidden: [16], max_epochs: 2, patience: null, optimizer: sgd}
experiments:
  - {label: diverges, learning_rate: 1.0e+30}
  - {label: child, init_from: diverges}
""")
    assert main(["run", str(space), "--results", str(tmp_path)]) == 1
    progress = capsys.readouterr().err
    child = _by_label(tmp_path / "space")["child"]
    says = f"it starts from diverges (trial {child['started_from']}), which failed or was stopped early"
    assert child["status"] == "failed" and child["error"] == says
    failed = [line for line in progress.splitlines() if f"{child['trial_id']}  FAILED" in line]
    assert len(failed) == 1 and f"FAILED: {says}" in failed[0]


def test_a_resumed_sweep_starts_the_child_from_the_parent_that_completed_before_the_crash(tmp_path: Path) -> None:
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
    parent = _by_label(sweep)["parent"]
    assert main(["run", str(tmp_path / "space.yaml"), "--results", str(tmp_path / "results"), "--resume"]) == 0
    trials = _by_label(sweep)
    assert trials["parent"] == parent  # read back, not trained again
    assert trials["child"]["status"] == "completed" and trials["child"]["started_from"] == parent["trial_id"]

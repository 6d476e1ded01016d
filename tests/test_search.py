"""Optuna-guided search with ASHA through real Ray Tune, and its report section."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from analysis.results import load_sweep
from cli import main

pytestmark = pytest.mark.slow

SPACE = """
search: optuna
num_samples: 4
scheduler: asha
params:
  dataset: mnist_small
  validation: 1000
  width: {choice: [16, 32]}
  bottleneck: {choice: [0, 2]}
  learning_rate: {loguniform: [1.0e-4, 1.0e-2]}
  reduction: {choice: [none, pca]}
  reduction_k: 20
  optimizer: adam
  max_epochs: 6
  patience: null
"""


def test_optuna_sweep_with_asha_and_its_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    space = tmp_path / "opt.yaml"
    space.write_text(SPACE)
    assert main(["run", str(space), "--results", str(tmp_path)]) == 0
    sweep = tmp_path / "opt"
    metrics = [t.metrics for t in load_sweep(sweep).trials]
    assert len(metrics) == 4 and {m["status"] for m in metrics} <= {"completed", "stopped"}
    assert any(m["status"] == "completed" for m in metrics)
    for m in metrics:  # a stopped trial keeps its learning curve
        assert (sweep / "trials" / m["trial_id"] / "history.csv").is_file()
    study = optuna.load_study(study_name="opt", storage=f"sqlite:///{sweep / 'optuna.db'}")
    values = [t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(values) == 4 and all(0 < v <= 1 for v in values)
    assert {t.params["trial/reduction"] for t in study.trials} <= {"none", "pca"}
    assert len(list((sweep / "reductions").glob("*.npz"))) == 1  # pca20, fitted once by the first trial that needed it

    monkeypatch.chdir(sweep)  # the study is found by the sweep's name even when it is given as "."
    assert main(["report", ".", "--top", "1", "--methods", "pca", "--subsample", "300", "--probe-rows", "1000"]) == 0
    page = (sweep / "report" / "report.html").read_text()
    assert "<section id='optuna'>" in page and "Optimisation history" in page


def test_optuna_space_refuses_drawn_reduction_sizes(write_space) -> None:
    from sweep.errors import SpaceError
    from sweep.space_file import load_space

    with pytest.raises(SpaceError, match="optuna may only draw it with choice"):
        load_space(write_space("search: optuna\nparams: {reduction: pca, reduction_k: {randint: [10, 50]}}"))
    with pytest.raises(SpaceError, match="draw width, depth and bottleneck instead of hidden"):
        load_space(write_space("search: optuna\nparams: {hidden: {choice: [[8], [16]]}}"))

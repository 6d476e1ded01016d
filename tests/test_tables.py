from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis import tables
from analysis.results import load_sweep
from sweep.errors import SweepError
from tests.conftest import write_trial


@pytest.fixture
def hand_made(tmp_path: Path) -> Path:
    (tmp_path / "sweep.json").write_text('{"planned": 8}')
    for seed, acc in enumerate([0.60, 0.70, 0.80]):
        write_trial(tmp_path, f"a{seed}", [128, 1], seed, acc)
    for seed, acc in enumerate([0.97, 0.98]):
        write_trial(tmp_path, f"b{seed}", [128], seed, acc)
    write_trial(tmp_path, "c0", [128, 2], 0, None, status="failed", error="TrainingDiverged: loss became nan")
    write_trial(tmp_path, "c1", [128, 2], 1, None, status="running")
    write_trial(tmp_path, "c2", [128, 2], 2, None, status="starting")
    return tmp_path


def test_mean_and_std_over_seeds(hand_made: Path) -> None:
    configs = tables.configurations(load_sweep(hand_made).table())
    assert list(configs.label) == ["h128", "h1"]
    best, worst = configs.iloc[0], configs.iloc[1]
    assert best.n == 2 and best.test_accuracy_mean == pytest.approx(0.975)
    assert best.test_accuracy_std == pytest.approx(np.std([0.97, 0.98], ddof=1))
    assert worst.n == 3
    assert worst.test_accuracy_mean == pytest.approx(0.70) and worst.test_accuracy_std == pytest.approx(0.10)
    assert worst.epochs_mean == pytest.approx(11) and worst.train_seconds_mean == pytest.approx(10)
    assert tables.readable(configs)["test accuracy %"].tolist() == ["97.50 ± 0.71 (n=2)", "70.00 ± 10.00 (n=3)"]


def test_partial_trials_are_listed_with_status(hand_made: Path) -> None:
    sweep = load_sweep(hand_made)
    table = sweep.table().set_index("trial_id")
    assert table.loc[["c0", "c1", "c2"], "status"].tolist() == ["failed", "running", "starting"]
    assert "nan" in table.loc["c0", "error"]
    assert len(sweep.completed()) == 5 and sweep.planned == 8


def test_a_sweep_with_failed_or_missing_trials_has_faults(hand_made: Path) -> None:
    assert load_sweep(hand_made).faults() == 3  # 8 planned, 5 completed


def test_every_differing_parameter_separates_configurations(tmp_path: Path) -> None:
    (tmp_path / "sweep.json").write_text('{"planned": 4}')
    for i, (seed, patience) in enumerate([(0, 2), (1, 2), (0, None), (1, None)]):
        write_trial(tmp_path, f"t{i}", [128], seed, 0.9 + i / 100, patience=patience)
    configs = tables.configurations(load_sweep(tmp_path).table())
    assert len(configs) == 2 and list(configs.n) == [2, 2]
    assert "patience" in tables.readable(configs)


def test_repeated_configuration_and_seed_is_found_and_refused_by_the_report(hand_made: Path, capsys) -> None:
    from mlp_sweep import main

    write_trial(hand_made, "a9", [128, 1], 0, 0.6)  # a0 again
    assert [t.trial_id for t in load_sweep(hand_made).repeated()] == ["a9"]
    assert main(["report", str(hand_made)]) == 2
    err = capsys.readouterr().err
    assert "1 of 9 trials repeat another's configuration and seed (a9)" in err and err.count("\n") == 1


def test_report_of_dot_names_the_sweep(hand_made: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(hand_made)
    assert load_sweep(".").files.name == hand_made.name


def test_single_seed_has_no_spread() -> None:
    assert tables.mean_std(0.9727, 0.0, 1) == "97.27 (n=1)"


def test_importance_finds_the_parameter_that_matters(hand_made: Path) -> None:
    scores = tables.importance(load_sweep(hand_made).table())
    assert scores.index[0] in ("bottleneck", "n_params", "depth") and scores.sum() == pytest.approx(1.0)


def test_not_a_sweep_folder(tmp_path: Path) -> None:
    with pytest.raises(SweepError, match="not a sweep folder"):
        load_sweep(tmp_path)


def test_corrupt_metrics_names_the_file(hand_made: Path) -> None:
    (hand_made / "trials" / "a0" / "metrics.json").write_text("{half")
    with pytest.raises(SweepError, match=r"a0/metrics.json: not valid JSON"):
        load_sweep(hand_made).table()


def test_analysis_imports_neither_keras_nor_ray() -> None:
    import subprocess
    import sys

    code = "import sys, analysis; print(sorted(m for m in ('keras', 'ray', 'tensorflow', 'jax') if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_last_width_series_keeps_families_that_vary_only_the_last_width(tmp_path: Path) -> None:
    (tmp_path / "sweep.json").write_text('{"planned": 9}')
    for width in (1, 2, 5):
        for seed in (0, 1):
            write_trial(tmp_path, f"w{width}s{seed}", [128, width], seed, 0.5 + width / 10 + seed / 100)
    write_trial(tmp_path, "d", [128, 5], 0, 0.9, dropout=0.2)  # differs in dropout too: another family of one
    write_trial(tmp_path, "e", [64], 0, 0.95)  # one layer: 784-w-10, one width only
    series = tables.last_width_series(load_sweep(tmp_path).table())
    assert set(series.family) == {"784-128-w-10"} and sorted(series.width.unique()) == [1, 2, 5]
    assert len(series) == 6 and series.set_index(["width", "seed"]).test_accuracy[(5, 1)] == pytest.approx(1.01)
    assert tables.last_width_series(load_sweep(tmp_path).table(), least=4).empty

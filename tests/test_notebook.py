"""The example notebook, run in a real Jupyter kernel as a user would; the Python API beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlp_sweep import load
from sweep.errors import SweepError
from tests.conftest import ROOT, Smoke

NOTEBOOK = ROOT / "examples" / "notebook.ipynb"


@pytest.mark.slow
def test_the_example_notebook_runs_and_draws() -> None:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2  # two matplotlib figures
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs)  # and a Plotly one


@pytest.mark.slow
def test_a_layer_reads_with_its_labels_and_a_wrong_name_is_one_error(smoke: Smoke, tmp_path: Path) -> None:
    sweep = load(smoke.sweep)
    acts = sweep.activations("bottleneck", "hidden_2")
    assert list(acts.columns) == ["node_0", "node_1", "true", "predicted", "row"] and len(acts) == 1000
    assert (acts.true == acts.predicted).mean() == pytest.approx(
        sweep.trials().set_index("label").test_accuracy["bottleneck"])
    with pytest.raises(SweepError, match="0 trials have id or label 'nope'"):
        sweep.activations("nope", "hidden_1")
    with pytest.raises(SweepError, match="not 'hidden_3'"):
        sweep.activations("bottleneck", "hidden_3")


def test_importing_the_packages_keeps_the_callers_backend_and_logging() -> None:
    code = ("import matplotlib, optuna, logging; b = matplotlib.get_backend(); v = optuna.logging.get_verbosity(); "
            "import analysis, mlp_sweep, analysis.report, analysis.tables; "
            "assert matplotlib.get_backend() == b == 'svg', matplotlib.get_backend(); "
            "assert optuna.logging.get_verbosity() == v")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "MPLBACKEND": "svg"}, cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_quiet_restores_each_librarys_logging() -> None:
    import logging

    import optuna

    from sweep.logs import quiet

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.DEBUG)
    try:
        with quiet("optuna", "mlflow"):
            assert optuna.logging.get_verbosity() == optuna.logging.WARNING
            assert logging.getLogger("mlflow").getEffectiveLevel() == logging.WARNING
        assert optuna.logging.get_verbosity() == optuna.logging.DEBUG
    finally:
        optuna.logging.set_verbosity(before)


def test_the_notebook_is_committed_without_outputs() -> None:
    """Its outputs come from running it; a committed copy of them would only go stale."""
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPACES = ROOT / "search_spaces"

os.environ.setdefault("KERAS_BACKEND", "jax")


def write_trial(root: Path, trial_id: str, hidden: list[int], seed: int, acc: float | None, status: str = "completed",
                **extra) -> None:
    """A trial folder as a trial writes it: params.json and, unless it is still starting, metrics.json."""
    folder = root / "trials" / trial_id
    folder.mkdir(parents=True)
    params = {"dataset": "mnist", "hidden": hidden, "dropout": 0.0, "reduction": "none", "reduction_k": 0,
              "optimizer": "rmsprop", "learning_rate": 0.001, "batch_size": 32, "activation": "relu",
              "seed": seed, "label": f"h{hidden[-1]}", "validation": 5000, "patience": extra.pop("patience", 2)}
    (folder / "params.json").write_text(json.dumps(params))
    if status == "starting":
        return
    metrics = {**params, "input_reduction": "none", "status": status, **extra}
    if acc is not None:
        metrics |= {"test_accuracy": acc, "best_val_accuracy": acc + 0.01, "epochs": 10 + seed,
                    "train_seconds": 5.0 * (seed + 1), "n_params": 1000 * hidden[-1]}
    (folder / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture
def write_space(tmp_path: Path):
    """Write YAML text to a space file under tmp_path and return its path."""

    def write(text: str, name: str = "space.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture(scope="session")
def smoke_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke space run once through the real command line and Ray Tune; its sweep folder."""
    from mlp_sweep import main

    results = tmp_path_factory.mktemp("results")
    assert main(["run", str(SPACES / "smoke.yaml"), "--results", str(results)]) == 0
    return results / "smoke"

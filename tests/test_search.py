"""Optuna-guided search: what its space may draw. A sweep with it and ASHA runs through real Ray
Tune in tests/test_storage.py, on object storage, with its report section."""

from __future__ import annotations

import pytest

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


def test_optuna_space_refuses_drawn_reduction_sizes(write_space) -> None:
    from sweep.errors import SpaceError
    from sweep.space_file import load_space

    with pytest.raises(SpaceError, match="optuna may only draw it with choice"):
        load_space(write_space("search: optuna\nparams: {reduction: pca, reduction_k: {randint: [10, 50]}}"))
    with pytest.raises(SpaceError, match="draw width, depth and bottleneck instead of hidden"):
        load_space(write_space("search: optuna\nparams: {hidden: {choice: [[8], [16]]}}"))


LINEAGE = """
params: {dataset: mnist_small, validation: 1000, optimizer: adam}
experiments:
  - {label: child, hidden: [16], init_from: parent}
  - {label: parent, hidden: [16]}
  - {label: other, hidden: [8]}
"""


def test_a_child_is_suggested_once_its_parent_ended_and_resumes_from_saved_state(write_space, tmp_path) -> None:
    from ray.tune.search import Searcher

    from sweep.folder import SweepFolder
    from sweep.search import lineage
    from sweep.space_file import load_space

    search = lineage(load_space(write_space(LINEAGE)), SweepFolder(tmp_path))
    first, second = search.suggest("t1"), search.suggest("t2")
    assert {first["trial"]["label"], second["trial"]["label"]} == {"parent", "other"}
    assert search.suggest("t3") is None  # the child waits: it holds no slot
    parent = "t1" if first["trial"]["label"] == "parent" else "t2"
    search.save(str(tmp_path / "state.json"))
    search.on_trial_complete(parent, {"status": "completed"})
    again = lineage(load_space(write_space(LINEAGE)), SweepFolder(tmp_path))
    again.restore(str(tmp_path / "state.json"))
    assert again.suggest("t3") is None  # restored: given, not yet ended
    # The parent completed after the last save, and the driver crashed before Tune said so.
    folder = SweepFolder(tmp_path).trial(parent)
    folder.path.mkdir(parents=True)
    folder.write_metrics({"status": "completed"})
    child = again.suggest("t3")
    assert child["trial"]["label"] == "child" and child["parent"] == {"trial_id": parent, "completed": True}
    assert again.suggest("t4") == Searcher.FINISHED
    stopped = lineage(load_space(write_space(LINEAGE)), SweepFolder(tmp_path))
    assert stopped.suggest("a")["trial"]["label"] == "parent"
    stopped.on_trial_complete("a", {"val_accuracy": 0.5})  # its last result: stopped early by a scheduler
    assert stopped.suggest("b")["parent"] == {"trial_id": "a", "completed": False}

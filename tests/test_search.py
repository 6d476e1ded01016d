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

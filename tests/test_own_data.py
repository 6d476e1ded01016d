"""A user's own data end to end on real Ray Tune: 8x8 digits as an .npz and wine as a CSV with string
classes, swept and reported; and Fashion-MNIST (or MNIST) given as a plain IDX folder, which trains to
the same numbers as the shipped route."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlp_sweep import main
from sweep import data
from sweep.config import resolve
from sweep.folder import TrialFolder
from sweep.formats import Spec
from tests.conftest import digits_npz, wine_table

pytestmark = pytest.mark.slow

TINY = """description: a user's own small data set
seeds: [0]
params: {validation: 20, batch_size: 16, max_epochs: 2, patience: null, optimizer: adam}
experiments:
  - {label: one, hidden: [16]}
  - {label: two, hidden: [16, 4]}
analysis: {embeddings: {pca: {}, umap: {}}}
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both data sets swept through the command line, each with its report beside it (two embedding
    methods: the default's five cost half a minute more and read no differently here)."""
    root = tmp_path_factory.mktemp("own")
    space = root / "tiny.yaml"
    space.write_text(TINY)
    out = {}
    for name, path in (("digits", digits_npz(root)), ("wine", wine_table(root))):
        assert main(["run", str(space), "--dataset", str(path), "--results", str(root / "results"),
                     "--name", name, "--report"]) == 0
        out[name] = root / "results" / name
    return out


def test_each_sweep_records_its_data(swept: dict[str, Path]) -> None:
    digits = json.loads((swept["digits"] / "sweep.json").read_text())["data"]["digits"]
    assert digits["shape"] == [8, 8] and digits["train_rows"] == 1400 and digits["images"]
    wine = json.loads((swept["wine"] / "data" / "wine.json").read_text())
    assert wine["classes"] == ["class_0", "class_1", "class_2"] and wine["scaling"] == data.STANDARDISED
    assert len(wine["sha256"]) == 64 and wine["origin"].endswith("wine.csv")


def test_each_report_reads_for_its_data(swept: dict[str, Path]) -> None:
    digits = (swept["digits"] / "report" / "report.md").read_text()
    wine = (swept["wine"] / "report" / "report.md").read_text()
    assert "64-16-4-10" in digits and "13-16-4-3" in wine
    assert "Test images" in digits and "Raw pixels" in digits
    assert "Test images" not in wine and "Raw pixels" not in wine and "raw features" in wine
    probes = pd.read_csv(swept["wine"] / "report" / "tables" / "probes_long.csv")
    assert set(probes[probes.layer == "raw"].source) == {"raw features"}
    html = (swept["wine"] / "report" / "report.html").read_text()
    assert "class_2" in html and "28" not in json.loads((swept["wine"] / "sweep.json").read_text())["data"]["wine"][
        "shape"]


def test_a_resumed_sweep_refuses_other_data(swept: dict[str, Path], tmp_path: Path, capsys) -> None:
    other = wine_table(tmp_path)
    other.write_text(other.read_text().replace("14.23", "14.24", 1))
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY)
    code = main(["run", str(space), "--dataset", str(other), "--results", str(swept["wine"].parent),
                 "--name", "wine", "--resume"])
    assert code == 2 and "not the data this sweep ran on" in capsys.readouterr().err


def test_an_idx_folder_trains_to_the_shipped_numbers(tmp_path: Path) -> None:
    """The same images by path and by name: identical test accuracy and activations (so probes agree)."""
    from sweep.trainable import run

    shipped = "fashion_mnist" if Path("/usr/share/datasets/fashion-mnist").is_dir() else "mnist"
    folder = tmp_path / "plain"
    shutil.copytree(data.SOURCES[shipped].folders[0] if shipped == "mnist" else "/usr/share/datasets/fashion-mnist",
                    folder)
    own = data.own(Spec(str(folder)))
    results = {}
    for name in (shipped, own):
        cfg = resolve({"dataset": name, "hidden": [16], "max_epochs": 1, "patience": None, "batch_size": 256})
        trial = TrialFolder(tmp_path / "trials" / name)
        trial.path.mkdir(parents=True)
        results[name] = run(cfg, trial)["test_accuracy"], np.load(trial.activations)["hidden_1_test"]
    assert results[shipped][0] == results[own][0]
    assert np.array_equal(results[shipped][1], results[own][1])

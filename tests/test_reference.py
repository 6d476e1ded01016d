"""A study's printed numbers: the space file's `reference:` section, checked up front, and the
report's "Against the study" section that sets each of them beside ours."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis import reference
from mlp_sweep import main
from sweep.errors import SpaceError
from sweep.space_file import load_space
from tests.conftest import SPACES, Smoke


def test_the_studies_carry_every_number_they_printed() -> None:
    found = {}
    for study in ("study_a", "study_b"):
        space = load_space(SPACES / f"{study}.yaml")
        found[study] = reference.parse(space.reference, study, space.labels).numbers
    assert len(found["study_a"]) == 10 + 1 + 2 + 3  # 10 test accuracies, exp4's holdout, PCA ratios
    assert [p.value for p in found["study_a"] if p.label == "exp4"] == [96.24]
    assert [p.precision for p in found["study_a"][-5:]] == pytest.approx([5e-4, 5e-4, 5e-4, 5e-4, 5e-3])
    knn = [p for p in found["study_b"] if p.measure.startswith("umap-knn")]
    assert len(knn) == 2 * 3 * 3 and {p.layer for p in knn} == {"raw", "hidden_1", "hidden_2"}


@pytest.mark.parametrize("section, says", [
    ({"numbers": []}, "reference.numbers must be a non-empty list"),
    ({"numbers": [{"label": "plain"}]}, "reference.numbers[0] gives no number"),
    ({"numbers": [{"label": "nobody", "test_accuracy": 90}]}, "no experiment is labelled 'nobody'"),
    ({"numbers": [{"label": "plain", "accuracy": 90}]}, "reference.numbers[0].accuracy: unknown"),
    ({"numbers": [{"label": "plain", "test_accuracy": 190}]}, "test_accuracy must be a number between 0 and 100"),
    ({"numbers": [{"label": "plain", "knn5": 90}]}, "knn5 needs the entry's layer"),
    ({"numbers": [{"layer": "hidden", "knn5": 90}]}, "layer must be raw or hidden_<i>"),
    ({"numbers": [{"layer": "raw", "pca_variance": 0.1}]}, "pca_variance must be a list"),
    ({"source": "x", "printed": []}, "reference: unknown key 'printed'"),
])
def test_a_bad_reference_is_one_line_and_exit_2_before_anything_is_written(
        section: dict, says: str, write_space, tmp_path: Path, capsys) -> None:
    with pytest.raises(SpaceError, match=re.escape(says)):
        reference.parse(section, "space.yaml", {"plain", "pca"})
    space = write_space((SPACES / "smoke.yaml").read_text() + yaml.safe_dump({"reference": section}))
    assert main(["run", str(space), "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_the_report_sets_each_printed_number_beside_ours(smoke: Smoke, tmp_path: Path) -> None:
    """On a copy of the session's smoke sweep given a reference: one row per printed number, ours
    read from the trials' metrics, the report's probes and a PCA of the layer."""
    from sklearn.decomposition import PCA

    from analysis.layers import load_rows
    from analysis.report import ReportOptions, build_report
    from analysis.results import load_sweep

    sweep = tmp_path / "smoke"
    shutil.copytree(smoke.sweep, sweep)
    printed = {"source": "a made-up study", "numbers": [
        {"label": "plain", "test_accuracy": 90.0, "epochs": 2},
        {"label": "plain", "layer": "hidden_1", "knn5": 80.0, "pca_variance": [0.2, 0.1]},
        {"dataset": "mnist_small", "layer": "raw", "knn5": 85.0, "protocol": "every pixel"}]}
    space = sweep / "space.yaml"
    space.write_text(space.read_text() + yaml.safe_dump({"reference": printed}, sort_keys=False))
    build_report(sweep, ReportOptions())
    table = pd.read_csv(sweep / "report" / "tables" / "seed_comparison.csv")
    assert table.measure.tolist() == ["test_accuracy", "epochs", "knn5", "pca_variance 1", "pca_variance 2", "knn5"]
    assert table.study.tolist() == [90.0, 2, 80.0, 0.2, 0.1, 85.0]
    plain = next(t for t in load_sweep(sweep).completed() if t.config.label == "plain")
    assert table.ours[0] == pytest.approx(100 * plain.metrics["test_accuracy"])
    assert table.ours[1] == plain.metrics["epochs"] and (table.n == 1).all()
    probes = pd.read_csv(sweep / "report" / "tables" / "probes_long.csv")
    layer = probes[(probes.source == plain.trial_id) & (probes.layer == "hidden_1") & (probes.probe == "knn5")]
    raw = probes[(probes.layer == "raw") & (probes.probe == "knn5")]
    assert table.ours[2] == pytest.approx(100 * layer.accuracy.item())
    assert table.ours[5] == pytest.approx(100 * raw.accuracy.item())
    train = load_rows(str(plain.files.path), "hidden_1", "mnist_small", None)[0]
    assert table.ours[3:5].to_numpy() == pytest.approx(PCA(2).fit(train).explained_variance_ratio_, abs=1e-5)
    assert table.study_protocol[5] == "every pixel" and "plurality vote" in table.our_protocol[2]
    assert np.isclose(table.difference, table.ours - table.study).all()
    page = (sweep / "report" / "report.html").read_text()
    assert "Against the study" in page and "a made-up study" in page

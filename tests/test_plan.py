"""Analysis plans: a space file's `analysis:` section read and checked before anything starts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from analysis.plan import DEFAULT, Embedding, parse
from mlp_sweep import main
from sweep.errors import SpaceError
from tests.conftest import SPACES


def test_the_studies_declare_their_own_analyses() -> None:
    a = parse(yaml.safe_load((SPACES / "study_a.yaml").read_text())["analysis"], "study_a.yaml")
    assert a.top is None and a.rows == "train" and a.pixels == (77, 78) and a.nodes == ((None, 0),)
    assert a.embedding("tsne") == Embedding("tsne", 10_000, (("iterations", 300), ("perplexity", 40.0)))
    assert a.methods == ("pca", "tsne") and a.colour("boxes") == "predicted" and a.colour("embeddings") == "true"
    b = parse(yaml.safe_load((SPACES / "study_b.yaml").read_text())["analysis"], "study_b.yaml")
    assert b.methods == ("umap", "trimap") and b.embedding("umap").rows is None and b.embedding("umap").get("test")
    assert b.umap_knn == (3, 5, 10) and b.umap_rows is None and b.knn == () and not b.linear


def test_no_section_is_the_default_plan_and_options_override_it() -> None:
    assert parse(None, "x.yaml") == DEFAULT
    assert DEFAULT.knn and DEFAULT.linear and not DEFAULT.umap_knn  # exact probes; KNN on UMAP when asked
    plan = DEFAULT.overridden(top=1, trials=("exp0",), methods=("tsne",), subsample=500, probe_rows=1000)
    assert (plan.top, plan.named, plan.methods, plan.embedding("tsne").rows, plan.umap_rows) == (
        1, ("exp0",), ("tsne",), 500, 1000)


@pytest.mark.parametrize("section, says", [
    ({"no_such_key": 1}, "analysis: unknown key 'no_such_key'"),
    ({"show": -1}, "analysis.show must be all, a number"),
    ({"show": "best"}, "analysis.show must be all, a number"),
    ({"rows": "validation"}, "analysis.rows must be one of train, test"),
    ({"colour": "blue"}, "analysis.colour must be one of true, predicted"),
    ({"colour": {"boxes": "blue"}}, "analysis.colour.boxes must be one of true, predicted"),
    ({"embeddings": {"isomap": {}}}, "analysis.embeddings: unknown key 'isomap'"),
    ({"embeddings": {"tsne": {"perplexity": 0}}}, "analysis.embeddings.tsne.perplexity must be a number >= 1"),
    ({"embeddings": {"tsne": {"iterations": 100}}}, "analysis.embeddings.tsne.iterations must be an integer >= 251"),
    ({"embeddings": {"umap": {"neighbors": 15}}}, "analysis.embeddings.umap: unknown key 'neighbors'"),
    ({"embeddings": {"pca": {"rows": 10}}}, "analysis.embeddings.pca.rows must be all or a number of rows >= 100"),
    ({"probes": {"knn": [0]}}, "analysis.probes.knn must be an integer >= 1"),
    ({"probes": {"knn": [5, 5]}}, "analysis.probes.knn: a k is given twice"),
    ({"probes": {"linear": "yes"}}, "analysis.probes.linear must be true or false"),
    ({"probes": {"vote": "unanimous"}}, "analysis.probes.vote must be one of plurality, majority"),
    ({"probes": {"umap_knn": {"rows": 50}}}, "analysis.probes.umap_knn.rows must be all or a number"),
    ({"nodes": ["hidden_1"]}, "analysis.nodes: expected node numbers"),
    ({"pixels": [77]}, "analysis.pixels must be two different pixel numbers"),
    ([1, 2], "analysis must be a mapping"),
])
def test_bad_sections_are_one_line_and_exit_2_before_anything_is_written(
        section: object, says: str, write_space, tmp_path: Path, capsys) -> None:
    with pytest.raises(SpaceError, match=re.escape(says)):
        parse(section, "space.yaml")
    space = write_space((SPACES / "smoke.yaml").read_text() + yaml.safe_dump({"analysis": section}))
    assert main(["run", str(space), "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "results").exists()

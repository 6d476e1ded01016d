from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPACES = ROOT / "search_spaces"

os.environ.setdefault("KERAS_BACKEND", "jax")


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
    from cli import main

    results = tmp_path_factory.mktemp("results")
    assert main(["run", str(SPACES / "smoke.yaml"), "--results", str(results)]) == 0
    return results / "smoke"

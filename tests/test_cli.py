from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlp_sweep import main
from tests.conftest import SPACES


@pytest.mark.parametrize("args, lines", [([], 11), (["--seeds", "0,1,2"], 33)])
def test_dry_run_prints_one_json_line_per_trial(capsys, args: list[str], lines: int) -> None:
    assert main(["run", str(SPACES / "study_a.yaml"), "--dry-run", *args]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == lines
    configs = [json.loads(line) for line in out]
    assert configs[1]["hidden"] == [128, 1] and {c["seed"] for c in configs} == ({0, 1, 2} if args else {0})


def test_dry_run_overrides(capsys) -> None:
    assert main(["run", str(SPACES / "smoke.yaml"), "--dry-run", "--dataset", "mnist", "--max-epochs", "7"]) == 0
    configs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {(c["dataset"], c["max_epochs"]) for c in configs} == {("mnist", 7)}


@pytest.mark.parametrize("text", [
    "params: {colour: red}", "params: {batch_size: big}", "params: {hidden: [128, 0]}",
    "params: {dropout: 1.0}", "params: {dataset: cifar}", "params: {reduction: lda, reduction_k: 3}",
    "params: [unclosed", "",
])
def test_bad_space_is_one_line_and_exit_2(capsys, write_space, text: str) -> None:
    path = write_space(text)
    assert main(["run", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"sweep: error: {path}:")


def test_missing_space_file(capsys, tmp_path: Path) -> None:
    assert main(["run", str(tmp_path / "none.yaml")]) == 2
    assert capsys.readouterr().err == f"sweep: error: {tmp_path / 'none.yaml'}: no such space file\n"


def test_bad_override_exit_2(capsys) -> None:
    assert main(["run", str(SPACES / "smoke.yaml"), "--dry-run", "--max-epochs", "0"]) == 2
    assert "max_epochs must be >= 1" in capsys.readouterr().err


def test_bad_seeds_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", str(SPACES / "smoke.yaml"), "--seeds", "a,b"])
    assert info.value.code == 2


@pytest.mark.parametrize("option, value",
                         [("--concurrency", "0"), ("--cpus-per-trial", "0"), ("--gpus-per-trial", "-1")])
def test_bad_resources_exit_2(capsys, tmp_path: Path, option: str, value: str) -> None:
    assert main(["run", str(SPACES / "smoke.yaml"), "--results", str(tmp_path), option, value]) == 2
    assert f"{option} must be" in capsys.readouterr().err
    assert not (tmp_path / "smoke").exists()  # refused before anything was written

"""Every bad input a user can give stops before Ray starts: one line on stderr naming the file or
option, exit code 2, no traceback, nothing written under --results."""

from __future__ import annotations

import gzip
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import yaml

from mlp_sweep import main
from sweep.data import SHIPPED
from tests.conftest import SPACES, digits_npz, wine_table

SMOKE = str(SPACES / "smoke.yaml")


def _space(tmp: Path, text: str | bytes) -> str:
    path = tmp / "space.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def _grid(tmp: Path, size: int) -> str:
    doc = {"params": {"hidden": [8], "dropout": {"grid": [i / 1000 for i in range(size)]},
                      "learning_rate": {"grid": [1e-3 * (i + 1) for i in range(size)]},
                      "batch_size": {"grid": list(range(1, size + 1))}}}
    return _space(tmp, yaml.safe_dump(doc))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # free again once closed: nothing listens there


def _data(tmp: Path, change: str) -> str:
    """A copy of MNIST's files, or an .npz of its arrays, with one thing wrong."""
    folder = tmp / "data"
    shutil.copytree(SHIPPED / "mnist", folder)
    images = folder / "train-images-idx3-ubyte.gz"
    if change == "truncated":
        images.write_bytes(images.read_bytes()[:100_000])
    elif change == "magic":  # an IDX header that says int32 where the file holds bytes
        raw = bytearray(gzip.decompress(images.read_bytes()))
        raw[2] = 0x0C
        images.write_bytes(gzip.compress(bytes(raw), compresslevel=1))
    elif change == "missing":
        (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    else:
        from sweep import data

        arrays = {k: np.asarray(v) for k, v in vars(data.load("mnist")).items() if k.startswith(("x_", "y_"))}
        if change == "npz-shape":
            arrays["x_train"] = arrays["x_train"].reshape(-1, 784)
        elif change == "npz-object":
            arrays["y_test"] = arrays["y_test"].astype(object)
        elif change == "npz-missing":
            del arrays["y_test"]
        shutil.rmtree(folder)
        folder.mkdir()
        np.savez(folder / "mnist.npz", **arrays)
        return str(folder / "mnist.npz")
    return str(folder)


def _own(tmp: Path, change: str) -> str:
    """A user's own data set with one thing wrong (`wine`, `digits`: right, but not for the space)."""
    if change in ("cut", "digits"):
        path = digits_npz(tmp)
        if change == "cut":
            path.write_bytes(path.read_bytes()[:3000])
    else:
        path = wine_table(tmp)
        if change == "nan":
            path.write_text(path.read_text().replace("\n13.16,", "\n,", 1))
    return str(path)


# (case, command-line arguments after `sweep run` or `sweep report` given tmp, what stderr must say)
CASES = [
    ("space: missing", lambda t: ["run", str(t / "none.yaml")], "no such space file"),
    ("space: a folder", lambda t: ["run", str(t)], "cannot read"),
    ("space: 2 MiB binary", lambda t: ["run", _space(t, np.random.default_rng(0).bytes(2 << 20))], "at most 1 MiB"),
    ("space: not UTF-8", lambda t: ["run", _space(t, b"\xff\xfe\x00bad")], "not UTF-8 text"),
    ("space: nested 5,000 deep", lambda t: ["run", _space(t, "a: " + "[" * 5000 + "]" * 5000)], "nested too deeply"),
    ("space: duplicate key", lambda t: ["run", _space(t, "params:\n  dropout: 0.1\n  dropout: 0.2\n")],
     "line 3, column 3: key 'dropout' is given twice"),
    ("space: syntax", lambda t: ["run", _space(t, "params: [unclosed")], "YAML syntax error"),
    ("space: 10^6 trials", lambda t: ["run", _grid(t, 100)], "1,000,000 trials"),
    ("space: num_samples without draws", lambda t: ["run", _space(t, "num_samples: 3\nparams: {hidden: [8]}")],
     "would run each trial 3 times"),
    ("space: repeated seed", lambda t: ["run", _space(t, "seeds: [0, 0]")], "seed 0 is given twice"),
    ("space: repeated experiment", lambda t: ["run", _space(t, "experiments: [{label: a}, {label: a}]")],
     "1 of 2 trials repeat another's configuration and seed"),
    ("space: repeated grid value", lambda t: ["run", _space(t, "params: {dropout: {grid: [0.1, 0.1]}}")],
     "repeat another's configuration"),
    ("space: seed >= 2^32", lambda t: ["run", _space(t, "seeds: [4294967296]")], "seeds must be <= 4294967295"),
    ("space: search_seed >= 2^32", lambda t: ["run", _space(t, "search_seed: 4294967296")], "search_seed must be <="),
    ("space: batch_size above the training rows", lambda t: ["run", _space(t, "params: {batch_size: 100000}")],
     "batch_size must be <= 60000"),
    ("space: validation takes every row",
     lambda t: ["run", _space(t, "params: {dataset: mnist_small, validation: 6000}")],
     "validation must leave rows to fit of the 6000 training rows"),
    ("space: validation fraction 1.5", lambda t: ["run", _space(t, "params: {validation: 1.5}")],
     "validation must be a row count (an integer >= 1) or a fraction between 0 and 1, got 1.5"),
    ("space: split drawn from nowhere", lambda t: ["run", _space(t, "params: {validation_from: middle}")],
     "validation_from must be one of end, random"),
    ("space: init_from a missing label", lambda t: ["run", _space(t, "experiments: [{label: b, init_from: a}]")],
     "init_from 'a': no trial of seed 0 has that label"),
    ("space: init_from another architecture", lambda t: ["run", _space(
        t, "experiments: [{label: a, hidden: [8]}, {label: b, hidden: [16], init_from: a}]")],
     "a trial starts only from the same layers"),
    ("space: init_from in a cycle", lambda t: ["run", _space(
        t, "experiments: [{label: a, init_from: b}, {label: b, init_from: a}]")], "init_from forms a cycle"),
    ("space: init_from under optuna", lambda t: ["run", _space(
        t, "search: optuna\nparams: {width: {choice: [8, 16]}, init_from: a}")], "an optuna search draws no labelled"),
    ("space: forest labels", lambda t: ["run", _space(t, "params: {forest_labels: binary}")],
     "forest_labels must be one of integer, onehot"),
    ("--name escapes --results", lambda t: ["run", SMOKE, "--name", "../escape"], "--name must be a folder name"),
    ("--name .", lambda t: ["run", SMOKE, "--name", "."], "--name must be a folder name"),
    ("--concurrency 0 (dry run)", lambda t: ["run", SMOKE, "--concurrency", "0", "--dry-run"],
     "--concurrency must be >= 1"),
    ("--cpus-per-trial -1 (dry run)", lambda t: ["run", SMOKE, "--cpus-per-trial", "-1", "--dry-run"],
     "--cpus-per-trial must be > 0"),
    ("--gpus-per-trial -1", lambda t: ["run", SMOKE, "--gpus-per-trial", "-1"], "--gpus-per-trial must be >= 0"),
    ("--seeds 0,0", lambda t: ["run", SMOKE, "--seeds", "0,0", "--dry-run"], "--seeds: seed 0 is given twice"),
    ("--seeds 2^32", lambda t: ["run", SMOKE, "--seeds", "4294967296"], "--seeds must be <= 4294967295"),
    ("--max-epochs 0", lambda t: ["run", SMOKE, "--max-epochs", "0"], "max_epochs must be >= 1"),
    ("--dataset unknown", lambda t: ["run", SMOKE, "--dataset", "cifar"], "unknown dataset 'cifar'; choose one of"),
    ("--dataset a missing path", lambda t: ["run", SMOKE, "--dataset", "./mnist"], "./mnist: no such file or folder"),
    ("own data: cut short", lambda t: ["run", SMOKE, "--dataset", _own(t, "cut")], "not a readable npz file"),
    ("own data: NaN in a table", lambda t: ["run", SMOKE, "--dataset", _own(t, "nan")],
     "row 2 (from 0, header not counted) holds an empty or NaN feature"),
    ("own data: wine's 142 training rows", lambda t: ["run", SMOKE, "--dataset", _own(t, "wine")],
     "validation must leave rows to fit of the 142 training rows of wine"),
    ("own data: PCA beyond 13 features", lambda t: ["run", _space(
        t, f"params: {{dataset: {{path: {_own(t, 'wine')}}}, validation: 20, reduction: pca, reduction_k: 50}}")],
     "reduction_k between 1 and 13"),
    ("own data: a pixel pair beyond 64 pixels", lambda t: ["run", _space(
        t, f"params: {{dataset: {_own(t, 'digits')}, validation: 20}}\nanalysis: {{pixels: [77, 78]}}")],
     "analysis.pixels [77, 78] lie beyond the 64 features of digits"),
    ("own data: an unknown key", lambda t: ["run", _space(t, "params: {dataset: {path: x.csv, labels: y}}")],
     "unknown key 'labels'"),
    ("--mlflow a plain file store", lambda t: ["run", SMOKE, "--mlflow", str(t / "mlruns")],
     "MLflow 3 refuses a plain file store"),
    ("--mlflow sqlite in no folder", lambda t: ["run", SMOKE, "--mlflow", f"sqlite:///{t}/none/mlflow.db"],
     "does not exist or is not writable"),
    ("--mlflow nobody answers", lambda t: ["run", SMOKE, "--mlflow", f"http://127.0.0.1:{_closed_port()}"],
     "the tracking server is unreachable or refused"),
    ("--mlflow an unknown store", lambda t: ["run", SMOKE, "--mlflow", "ftp://host/x"], "unknown tracking store 'ftp'"),
    ("--address nobody answers", lambda t: ["run", SMOKE, "--address", f"127.0.0.1:{_closed_port()}"],
     "no Ray cluster answers there"),
    ("--address malformed", lambda t: ["run", SMOKE, "--address", "nonsense"], "expected host:port"),
    ("--cpus-per-trial beyond the machine", lambda t: ["run", SMOKE, "--cpus-per-trial", "1000"],
     "--cpus-per-trial 1000: this machine's Ray has"),
    ("data: missing folder", lambda t: ["run", SMOKE, "--data-dir", str(t / "nope")], "no such directory"),
    ("data: a plain file", lambda t: ["run", SMOKE, "--data-dir", SMOKE], "no such directory or .npz file"),
    ("data: file missing", lambda t: ["run", SMOKE, "--data-dir", _data(t, "missing")], "missing (expected"),
    ("data: truncated .gz", lambda t: ["run", SMOKE, "--data-dir", _data(t, "truncated")], "unreadable"),
    ("data: wrong IDX magic", lambda t: ["run", SMOKE, "--data-dir", _data(t, "magic")], "SHA-256 mismatch"),
    ("data: .npz of wrong shape", lambda t: ["run", SMOKE, "--data-dir", _data(t, "npz-shape")], "bytes, expected"),
    ("data: .npz of objects", lambda t: ["run", SMOKE, "--data-dir", _data(t, "npz-object")], "not a readable .npz"),
    ("data: .npz lacks an array", lambda t: ["run", SMOKE, "--data-dir", _data(t, "npz-missing")], "missing array"),
    ("data: checked on a dry run too", lambda t: ["run", SMOKE, "--dry-run", "--data-dir", str(t / "nope")],
     "no such directory"),
    ("report: not a sweep", lambda t: ["report", str(t)], "not a sweep folder"),
    ("report: unknown method", lambda t: ["report", str(t), "--methods", "lda"], "lda"),
    ("report: --subsample 0", lambda t: ["report", str(t), "--subsample", "0"], "--subsample must be >= 100"),
    ("report: --top -1", lambda t: ["report", str(t), "--top", "-1"], "--top must be >= 0"),
]


@pytest.mark.parametrize("case, args, says", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                         case: str, args, says: str) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # a Ray of this machine, not a user's cluster
    given = tmp_path / "given"
    given.mkdir()
    argv = args(given)
    results = tmp_path / "results"
    code = main([*argv, "--results", str(results)] if argv[0] == "run" else argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("sweep: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert says in err, err
    assert not results.exists()

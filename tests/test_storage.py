"""Sweeps on object storage, for real: a SeaweedFS S3 server on loopback started here, a sweep on a
two-node Ray cluster whose second node cannot see the driver's disk, a killed driver resumed, and
reports read from the bucket."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import optuna
import pandas as pd
import pytest

from analysis.results import load_sweep
from mlp_sweep import load, main
from sweep.storage import CACHE_ENV, Storage
from tests.conftest import SPACES, digits_npz
from tests.ray_cluster import cluster_of_two, token_env
from tests.s3_server import ACCESS, SECRET, s3_server
from tests.test_search import SPACE as OPTUNA_SPACE

pytestmark = pytest.mark.slow

REPORT = ["--top", "1", "--methods", "pca", "--subsample", "400"]


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SeaweedFS S3 server on loopback, its endpoint and credentials in the environment as a user
    would set them, and each machine's mirrors in a folder of the test's; yields a bucket's URI."""
    root = tmp_path_factory.mktemp("seaweed")
    with s3_server(root, "sweeps") as environment, pytest.MonkeyPatch.context() as env:
        for name, value in {**environment, CACHE_ENV: str(root / "cache")}.items():
            env.setenv(name, value)
        yield "s3://sweeps"


def _cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """The command line in a process of its own (Ray reads a cluster's token once per process)."""
    return subprocess.run([sys.executable, "-m", "mlp_sweep", *args], capture_output=True, text=True, timeout=600,
                          check=False, **kwargs)


def _objects(uri: str) -> dict[str, bytes]:
    storage = Storage(uri)
    import pyarrow.fs

    infos = storage.fs.get_file_info(pyarrow.fs.FileSelector(storage.root, recursive=True))
    out = {}
    for info in infos:
        if info.type == pyarrow.fs.FileType.File:
            with storage.fs.open_input_stream(info.path) as src:
                out[info.path[len(storage.root) + 1:]] = src.read()
    return out


@pytest.fixture(scope="module")
def cluster_sweep(s3: str) -> tuple[str, subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """The smoke sweep on a user's own data (8x8 digits, an .npz) on a two-node cluster whose nodes
    share no disk, into the bucket, and its report from the bucket with layer jobs on both nodes:
    the sweep's URI, and both commands as they ran."""
    cache = Path(os.environ[CACHE_ENV])
    cache.mkdir(parents=True, exist_ok=True)
    # The second node sees a tmpfs of its own where this machine's mirror of the sweep lies.
    hide = ("unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount -t tmpfs tmpfs "$0" && exec "$@"',
            str(cache))
    uri = f"{s3}/cluster"
    with pytest.MonkeyPatch.context() as env:
        for name, value in token_env().items():
            env.setenv(name, value)
        with cluster_of_two(worker_prefix=hide) as address:
            digits = digits_npz(cache.parent)
            run = _cli("run", str(SPACES / "smoke.yaml"), "--results", uri, "--address", address, "--dataset",
                       str(digits))
            assert run.returncode == 0, run.stderr[-3000:]
            # The report's layer jobs on the cluster too: the second node fetches the trials it analyses.
            report = _cli("report", f"{uri}/smoke", "--address", address, *REPORT)
    assert report.returncode == 0, report.stderr[-3000:]
    return f"{uri}/smoke", run, report


def test_storage_smoke_sweep_on_two_nodes_without_a_shared_disk_then_report_from_the_bucket(cluster_sweep) -> None:
    uri, run, report = cluster_sweep
    objects = _objects(uri)
    mirror = Storage(uri).mirror
    finals = [json.loads(body) for key, body in objects.items()
              if key.endswith("/metrics.json") and json.loads(body)["status"] == "completed"]
    assert sorted(m["label"] for m in finals) == ["bottleneck", "pca", "plain", "rf-dropout"]
    assert len({m["node"] for m in finals}) == 2, "the trials ran on both nodes"
    for metrics in finals:  # every artifact of every trial is in the bucket, whole
        checkpoint = next(k.rsplit("/", 1)[0] for k, b in objects.items()
                          if k.endswith("/metrics.json") and json.loads(b) == metrics)
        for name in ("params.json", "history.csv", "confusion.npz", "model.keras", "activations.npz"):
            assert f"{checkpoint}/{name}" in objects, (checkpoint, name)
    assert {"sweep.json", "space.yaml", "trials.jsonl", "report/report.html", "data/digits.npz"} <= objects.keys()
    assert all(m["dataset"] == "digits" for m in finals)
    assert len(load(uri).configurations()) == 4  # the Python API reads the sweep from the bucket
    assert sum(k.startswith("reductions/") for k in objects) == 2  # pca20 and rf50, fitted once each
    assert (mirror.report / "report.html").is_file() and len(mirror.trials()) == 4
    jobs = pd.read_csv(mirror.report / "tables" / "layer_jobs.csv")
    assert jobs.error.isna().all() and set(jobs.node) == {m["node"] for m in finals}

    # Credentials come from the environment and appear nowhere: output, bucket, mirror, report.
    assert SECRET not in run.stdout + run.stderr + report.stdout + report.stderr
    assert not [k for k, body in objects.items() if SECRET.encode() in body or ACCESS.encode() in body]
    assert not [p for p in mirror.path.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]


def test_bucket_sweep_driver_killed_then_resumed_loses_and_repeats_nothing(s3: str, tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("""
seeds: [0]
params: {dataset: mnist, hidden: [32], optimizer: adam, max_epochs: 3, patience: null, keep_train: 1000}
experiments: [{label: a}, {label: b}]
""")
    uri = f"{s3}/resume"
    storage = Storage(f"{uri}/space")
    cmd = [sys.executable, "-m", "mlp_sweep", "run", str(space), "--results", uri, "--concurrency", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        for line in proc.stdout:  # the driver's progress: kill it once a trial has completed
            if line.startswith("[  1/2]"):
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray it started, like a crash
        proc.wait()
    before = {t.trial_id: t.read_metrics() for t in storage.fetch().trials()}
    done_before = {k: m for k, m in before.items() if m.get("status") == "completed"}
    assert len(done_before) == 1

    assert main(["run", str(space), "--results", uri, "--resume"]) == 0
    final = {t.trial_id: t.read_metrics() for t in storage.fetch().trials()}
    assert len(final) == 2 and all(m["status"] == "completed" for m in final.values())
    for trial_id, metrics in done_before.items():
        assert final[trial_id] == metrics  # read back, not trained again
    assert sorted(m["label"] for m in final.values()) == ["a", "b"]


def test_optuna_with_asha_on_a_bucket_keeps_its_study_and_stopped_trials(s3: str, tmp_path: Path) -> None:
    space = tmp_path / "opt.yaml"
    space.write_text(OPTUNA_SPACE)
    assert main(["run", str(space), "--results", f"{s3}/optuna"]) == 0
    objects = _objects(f"{s3}/optuna/opt")
    study_file = tmp_path / "optuna.db"  # the bucket's copy, not the driver's
    study_file.write_bytes(objects["optuna.db"])
    study = optuna.load_study(study_name="opt", storage=f"sqlite:///{study_file}")
    values = [t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(values) == 4 and all(0 < v <= 1 for v in values)
    assert {t.params["trial/reduction"] for t in study.trials} <= {"none", "pca"}
    assert len([k for k in objects if k.startswith("reductions/") and k.endswith(".npz")]) == 1  # pca20, fitted once

    mirror = Storage(f"{s3}/optuna/opt").mirror
    shutil.rmtree(mirror.path)  # a report on another machine
    assert main(["report", f"{s3}/optuna/opt", *REPORT]) == 0
    sweep = load_sweep(mirror.path)
    assert len(sweep.trials) == 4 and {t.metrics["status"] for t in sweep.trials} <= {"completed", "stopped"}
    assert all(t.files.history.is_file() for t in sweep.trials)  # a stopped trial keeps its learning curve
    assert "<section id='optuna'>" in (mirror.report / "report.html").read_text()


def test_a_half_uploaded_trial_is_never_taken_for_complete_and_a_second_fetch_downloads_nothing(
        cluster_sweep) -> None:
    import pyarrow.fs

    storage = Storage(cluster_sweep[0])
    mirror = storage.fetch()
    trial = mirror.trials()[0]
    fetched = {p.name: p.stat().st_ino for p in trial.path.iterdir()}
    assert storage.fetch() and {p.name: p.stat().st_ino for p in trial.path.iterdir()} == fetched  # nothing again

    # A later checkpoint still uploading: its metrics say completed, its activations are not all there yet.
    last = max(k for k in _objects(storage.ray_uri) if k.startswith(f"{trial.trial_id}/checkpoint_"))
    number = int(last.split("/")[1].removeprefix("checkpoint_"))
    later = f"{storage.ray_root}/{trial.trial_id}/checkpoint_{number + 1:06d}"
    metrics = trial.read_metrics() | {"test_accuracy": 0.0}
    for name, body in (("params.json", trial.params.read_bytes()), ("metrics.json", json.dumps(metrics).encode()),
                       ("activations.npz", trial.activations.read_bytes()[:1000])):
        with storage.fs.open_output_stream(f"{later}/{name}") as out:
            out.write(body)
    assert storage.fetch().trial(trial.trial_id).read_metrics()["test_accuracy"] > 0  # the whole one still
    storage.fs.delete_dir(later)
    assert storage.fs.get_file_info(later).type == pyarrow.fs.FileType.NotFound


def test_credentials_in_the_uri_are_refused_before_anything_starts(capsys: pytest.CaptureFixture) -> None:
    assert main(["run", str(SPACES / "smoke.yaml"), "--results", "s3://key:secret@bucket/prefix"]) == 2
    err = capsys.readouterr().err
    assert "credentials in the URI" in err and "secret" not in err.replace("SECRET_ACCESS_KEY", "")


@pytest.mark.parametrize("args, says", [
    (["run", str(SPACES / "smoke.yaml"), "--results", "s3://no-such-bucket/prefix"],
     "bucket 'no-such-bucket' not found"),
    (["run", str(SPACES / "smoke.yaml"), "--results", "{s3}/none", "--resume"], "no sweep to resume here"),
    (["report", "{s3}/none/smoke"], "no sweep here"),
])
def test_bad_storage_input_is_one_line_and_exit_2(s3: str, args: list[str], says: str,
                                                  capsys: pytest.CaptureFixture) -> None:
    assert main([a.format(s3=s3) for a in args]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1

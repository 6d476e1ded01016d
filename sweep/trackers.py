"""Experiment trackers, through Ray Tune's own logger callbacks.

MLflow (`MLflowLoggerCallback`): one MLflow run per trial (its parameters, every epoch's metrics, its
test accuracy), nested under a parent run for the sweep, which holds the report as an artifact. The
tracking store is checked before Ray starts.

TensorBoard (`TBXLoggerCallback`): each trial's event files under `<sweep>/ray/<trial>/`, with the
HParams of every parameter, lists and nulls included as text (`tensorboard()`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sweep.errors import SweepError
from sweep.folder import SweepFolder

BESIDE = "sweep"  # `--mlflow` without a URI: a SQLite store in the sweep's folder
STORES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks")


def mlflow_uri(given: str, folder: SweepFolder) -> str:
    """The tracking URI `--mlflow` names; `BESIDE`: `sqlite:///<sweep>/mlflow.db`."""
    return f"sqlite:///{folder.path / 'mlflow.db'}" if given == BESIDE else given


def check(given: str) -> None:
    """Refuse, before Ray starts, a tracking store MLflow cannot use or reach: one line each."""
    try:
        import mlflow  # noqa: F401 - installed, or the user is told how
    except ImportError:
        raise SweepError("--mlflow: MLflow is not installed; pip install 'mlp-sweep[trackers]'") from None
    if given == BESIDE:
        return
    scheme = urlsplit(given).scheme
    if scheme in ("", "file"):
        raise SweepError(f"--mlflow {given}: MLflow 3 refuses a plain file store; give sqlite:///path/mlflow.db, a "
                         f"server's http(s) URL, or no URI for a SQLite store beside the sweep")
    if scheme not in STORES:
        raise SweepError(f"--mlflow {given}: unknown tracking store {scheme!r}; give one of "
                         f"{', '.join(s + '://' for s in STORES)}")
    if scheme == "sqlite":
        folder = _sqlite_file(given).parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise SweepError(f"--mlflow {given}: folder {folder} does not exist or is not writable; create it first")
        return
    with _quick_requests():
        try:
            _client(given).search_experiments(max_results=1)
        except Exception as exc:  # noqa: BLE001 - any failure to reach the store is the same advice
            raise SweepError(f"--mlflow {given}: the tracking server is unreachable or refused ({type(exc).__name__}); "
                             f"check the URL and that the server runs") from None


def start(uri: str, name: str, params: dict[str, Any]) -> tuple[Any, str]:
    """The sweep's parent run in experiment `name` (made if new) and the callback that logs each
    trial as a run nested under it: (callback, parent run id)."""
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    client = _client(uri)
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(
        name, artifact_location=_artifacts(uri))
    parent = client.create_run(experiment_id, run_name=name, tags={"mlp_sweep.role": "sweep"})
    for key, value in params.items():
        client.log_param(parent.info.run_id, key, value)
    callback = MLflowLoggerCallback(tracking_uri=uri, experiment_name=name,
                                    tags={"mlflow.parentRunId": parent.info.run_id, "mlp_sweep.role": "trial"})
    return callback, parent.info.run_id


def finish(uri: str, run_id: str, failed: bool) -> None:
    """End the sweep's parent run."""
    _client(uri).set_terminated(run_id, status="FAILED" if failed else "FINISHED")


def log_report(record: dict[str, Any], report: Path) -> None:
    """Attach a sweep's report to its parent run, where the sweep was tracked (`sweep.json`'s `mlflow_run`)."""
    tracked = record.get("mlflow_run")
    if tracked:
        _client(tracked["uri"]).log_artifacts(tracked["run_id"], str(report), "report")


def tensorboard() -> Any:
    """Ray Tune's TensorBoard callback, giving HParams the parameters it would drop: a list (`hidden`)
    or a null (`patience: null`) is logged as its text, `[128, 5]`, `None`."""
    from ray.tune.logger import TBXLoggerCallback

    class TensorBoard(TBXLoggerCallback):
        def _try_log_hparams(self, trial: Any, result: dict) -> None:
            params = trial.evaluated_params
            trial.evaluated_params = _texts(params)
            try:
                super()._try_log_hparams(trial, result)
            finally:
                trial.evaluated_params = params

    return TensorBoard()


def _texts(params: dict[str, Any]) -> dict[str, Any]:
    """`params` with lists and nulls, nested ones too, as text."""
    return {k: _texts(v) if isinstance(v, dict) else str(v) if v is None or isinstance(v, (list, tuple)) else v
            for k, v in params.items()}


def _artifacts(uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: beside a SQLite store (MLflow's default,
    `./mlruns`, is the working folder of whoever logs); a server's own place otherwise."""
    if urlsplit(uri).scheme != "sqlite":
        return None
    return (_sqlite_file(uri).absolute().parent / "mlartifacts").as_uri()


def _sqlite_file(uri: str) -> Path:
    return Path(uri.removeprefix("sqlite:///"))


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


@contextlib.contextmanager
def _quick_requests() -> Iterator[None]:
    """MLflow's HTTP client, for one check: one try, five seconds; then the environment as it was."""
    settings = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    before = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

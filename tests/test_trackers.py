"""The session's smoke sweep, tracked: every trial an MLflow run under the sweep's, with the numbers
of its metrics.json and the report as an artifact; Ray Tune's TensorBoard files hold every epoch and
the HParams of every parameter. Both read back with the trackers' own readers."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Smoke, trial_metrics

pytestmark = pytest.mark.slow


def test_every_trial_is_an_mlflow_run_under_the_sweeps(smoke: Smoke, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{smoke.sweep / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    runs = mlflow.search_runs(experiment_names=[smoke.sweep.name])
    record = json.loads((smoke.sweep / "sweep.json").read_text())["mlflow_run"]
    parent = runs[runs.run_id == record["run_id"]]
    trials = runs[runs["tags.mlflow.parentRunId"] == record["run_id"]]
    assert len(parent) == 1 and parent.status.iloc[0] == "FINISHED"
    by_label = {m["label"]: m for m in trial_metrics(smoke.sweep).values()}
    assert len(trials) == len(by_label) == 4
    for _, run in trials.iterrows():
        ours = by_label[run["params.trial/label"]]
        assert run["metrics.test_accuracy"] == pytest.approx(ours["test_accuracy"])
        assert run["params.trial/hidden"] == str(ours["hidden"]) and run.status == "FINISHED"
        history = MlflowClient(uri).get_metric_history(run.run_id, "val_accuracy")
        assert len(history) == ours["epochs"] + 1  # every epoch, then the trial's end (the last epoch's again)
    artifacts = [a.path for a in MlflowClient(uri).list_artifacts(record["run_id"], "report")]
    assert "report/report.html" in artifacts
    assert (smoke.sweep / "mlartifacts").is_dir()  # beside the store, not in the working folder


def test_tensorboard_reads_every_trials_curves_and_hparams(smoke: Smoke) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    for trial_id, metrics in trial_metrics(smoke.sweep).items():
        events = EventAccumulator(str(smoke.sweep / "ray" / trial_id))
        events.Reload()
        assert len(events.Scalars("ray/tune/val_accuracy")) == metrics["epochs"] + 1  # and the trial's end
        start = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        hparams = plugin_data_pb2.HParamsPluginData.FromString(start).session_start_info.hparams
        assert hparams["trial/dropout"].number_value == pytest.approx(metrics["dropout"])
        assert hparams["trial/label"].string_value == metrics["label"]
        assert hparams["trial/hidden"].string_value == str(metrics["hidden"])  # a list, as text
        assert hparams["trial/patience"].string_value == "None"

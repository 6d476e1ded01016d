"""The report's progress: counts, what runs, and a time left that learns from the jobs done."""

from __future__ import annotations

import io

from analysis.layers import PROBES, LayerJob, LayerResult
from analysis.progress import Progress, duration


def _job(layer: str, width: int) -> LayerJob:
    return LayerJob(dataset="mnist", source="t0", label="exp0", layer=layer, task=PROBES, trial_folder="",
                    cache_dir="", width=width, n_train=55_000, n_test=10_000, ks=(5,), linear=True)


def test_time_left_scales_estimates_by_the_jobs_done() -> None:
    stream = io.StringIO()
    progress = Progress(stream, redraw=False)
    progress.slots = 2
    jobs = [_job(f"hidden_{i}", 128) for i in range(1, 5)]
    progress.queue(jobs)
    assert progress.left() == sum(j.cost() for j in jobs) / 2
    progress.done(LayerResult(jobs[0], seconds=2 * jobs[0].cost(), computed=["x"]))  # twice as slow as estimated
    assert abs(progress.left() - 2 * sum(j.cost() for j in jobs[1:]) / 2) < 1e-9
    progress.done(LayerResult(jobs[1]))  # read from the cache: teaches nothing
    assert abs(progress.left() - 2 * sum(j.cost() for j in jobs[2:]) / 2) < 1e-9
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("  [  1/4] mnist exp0 hidden_1 probes:") and "left" in lines[0]


def test_terminal_line_is_redrawn_and_quiet_says_nothing() -> None:
    stream = io.StringIO()
    progress = Progress(stream, redraw=True)
    progress.queue([_job("hidden_1", 128), _job("hidden_2", 2)])
    progress.tick()
    progress.tick()
    assert stream.getvalue().count("\r") == 2 and "\n" not in stream.getvalue()
    assert "0/2 layer jobs done, running mnist exp0 hidden_1 probes" in stream.getvalue()
    quiet = io.StringIO()
    silent = Progress(quiet, quiet=True)
    silent.queue([_job("hidden_1", 128)])
    silent.tick()
    silent.close("done")
    assert quiet.getvalue() == ""


def test_flat_layers_cost_almost_nothing_and_durations_read_well() -> None:
    assert _job("hidden_2", 2).cost() < 0.05 * _job("hidden_1", 128).cost()
    assert [duration(s) for s in (42, 300, 4000, 7300)] == ["42 s", "5 min", "67 min", "2 h 01 min"]

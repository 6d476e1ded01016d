"""The command as a Unix process: a reader that goes away, and SIGTERM (what `timeout`, SLURM and
Kubernetes send), each ending it with one line at most, no traceback, and what is done kept."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SPACES, wait_for

SWEEP = [sys.executable, "-m", "mlp_sweep"]


def _terminate(proc: subprocess.Popen, err: Path) -> list[str]:
    """SIGTERM, then the process's exit code checked and what it said on stderr."""
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    lines = err.read_text().splitlines()
    assert not any("Traceback" in line or "SIGTERM received" in line for line in lines), lines
    return lines


def _gone(session: int) -> bool:
    """Whether every process of the command's session (its Ray included) has ended."""
    try:
        os.killpg(session, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_closed_pipe_ends_the_command_quietly() -> None:
    """`sweep run SPACE --dry-run | head -1`: more lines than a pipe holds, and a reader that reads one."""
    seeds = ",".join(str(s) for s in range(40))
    proc = subprocess.Popen([*SWEEP, "run", str(SPACES / "widths.yaml"), "--dry-run", "--seeds", seeds],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b"{")
    proc.stdout.close()
    assert proc.wait(timeout=60) == 141
    assert proc.stderr.read() == b""


@pytest.mark.slow
def test_sigterm_ends_a_run_with_one_line_and_keeps_what_is_done(tmp_path: Path) -> None:
    err = tmp_path / "stderr"
    with err.open("w") as stderr:
        proc = subprocess.Popen([*SWEEP, "run", str(SPACES / "smoke.yaml"), "--results", str(tmp_path)],
                                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    wait_for(lambda: "  start  " in err.read_text())
    lines = _terminate(proc, err)
    assert lines[-1] == "sweep: terminated; finished trials are kept, continue with --resume"
    wait_for(lambda: _gone(proc.pid), timeout=30)  # the Ray it started has stopped with it
    from ray import tune

    assert tune.Tuner.can_restore(str(tmp_path / "smoke" / "ray"))  # what --resume continues from


@pytest.mark.slow
def test_sigterm_ends_a_report_with_one_line_and_keeps_its_cache(smoke_sweep: Path, tmp_path: Path) -> None:
    sweep, err = tmp_path / "smoke", tmp_path / "stderr"
    shutil.copytree(smoke_sweep, sweep, ignore=shutil.ignore_patterns("report"))
    cache = sweep / "report" / "cache"
    with err.open("w") as stderr:
        proc = subprocess.Popen([*SWEEP, "report", str(sweep), "--methods", "pca", "--probe-rows", "1000"],
                                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    wait_for(lambda: cache.is_dir() and any(cache.rglob("*.npz")))  # a job has finished on its Ray
    lines = _terminate(proc, err)
    assert lines[-1] == "sweep: terminated; finished layer jobs are cached, the next report starts from them"
    wait_for(lambda: _gone(proc.pid), timeout=30)
    assert any(cache.rglob("*.npz")) and not [p for p in sweep.rglob("*") if ".tmp" in p.name]

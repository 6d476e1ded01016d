from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Pins `cores` cores, says which (and the affinity the OS then reports), then waits for stdin to close.
CHILD = """
import json, os, sys
from sweep.backend import pin
cores = sorted(pin(int(sys.argv[1])))
print(json.dumps([cores, sorted(os.sched_getaffinity(0))]), flush=True)
sys.stdin.read()
"""

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                                reason="needs CPU affinity and two cores")


@pytest.fixture(autouse=True)
def own_locks(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lock files of these tests' own, so trials running elsewhere on the machine hold none of them."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))


def _start(cores: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(cores)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def _pinned(child: subprocess.Popen) -> tuple[list[int], list[int]]:
    return tuple(json.loads(child.stdout.readline()))


def test_trial_processes_run_on_cores_of_their_own() -> None:
    first, second = _start(1), _start(1)
    try:
        (cores_a, affinity_a), (cores_b, affinity_b) = _pinned(first), _pinned(second)
    finally:
        for child in (first, second):
            child.stdin.close()
            child.wait()
    assert len(cores_a) == len(cores_b) == 1 and cores_a != cores_b
    assert affinity_a == cores_a and affinity_b == cores_b
    again = _start(1)  # the kernel dropped their locks when they ended: the cores are free again
    try:
        assert _pinned(again)[0] in (cores_a, cores_b)
    finally:
        again.stdin.close()
        again.wait()


def test_too_few_free_cores_leaves_the_process_unpinned() -> None:
    every = sorted(os.sched_getaffinity(0))
    child = _start(len(every) + 1)
    try:
        assert _pinned(child) == ([], every)
    finally:
        child.stdin.close()
        child.wait()


def test_lock_files_are_shared_by_every_user(tmp_path) -> None:
    """Made readable by all whatever the umask, and locked through a read-only descriptor: another
    user's trials can claim cores through files the first user created."""
    code = ("import fcntl, os, sys; os.umask(0o077); from sweep import backend; backend.pin(1); "
            "print(all(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY for fd in backend._held.values()))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "True"
    locks = list(tmp_path.glob("mlp-sweep-cpu*.lock"))
    assert locks and {oct(p.stat().st_mode & 0o777) for p in locks} == {"0o644"}

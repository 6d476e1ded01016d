"""A real Ray cluster of two nodes on this machine, for tests; only its own processes are stopped."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_node(command: list[str]) -> subprocess.Popen:
    """`ray start --block` in a session of its own: ending it ends the node's processes and no others."""
    node = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines = []
    for line in node.stdout:  # ray prints this once the node runs, then blocks
        lines.append(line)
        if "Ray runtime started" in line:
            threading.Thread(target=node.stdout.read, daemon=True).start()  # keep its pipe drained
            return node
    node.wait()
    raise AssertionError("ray start failed:\n" + "".join(lines[-30:]))


def _stop_node(node: subprocess.Popen) -> None:
    node.terminate()  # ray start --block stops the processes it started, then exits
    try:
        node.wait(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGKILL)  # whatever of its session is left


@contextlib.contextmanager
def cluster_of_two(worker_prefix: tuple[str, ...] = ()) -> Iterator[str]:
    """A head node and a second node, one CPU each, on loopback; yields the head's address. The second
    node's `ray start` runs under `worker_prefix` (a command that execs its arguments). Set Ray's
    token authentication (RAY_AUTH_MODE, RAY_AUTH_TOKEN) in the environment first: every process of
    the cluster and each driver share one token."""
    ray = shutil.which("ray")
    assert ray, "the ray command comes with ray[tune]"
    temp = tempfile.mkdtemp(prefix="ray-")  # short: Ray's socket paths live under it; another cluster's files untouched
    address = f"127.0.0.1:{free_port()}"
    common = ["--block", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    nodes = []
    try:
        nodes.append(_start_node([ray, "start", "--head", f"--port={address.split(':')[1]}",
                                  "--include-dashboard=false", f"--temp-dir={temp}", *common]))
        nodes.append(_start_node([*worker_prefix, ray, "start", f"--address={address}", *common]))
        yield address
    finally:
        for node in reversed(nodes):
            _stop_node(node)
        shutil.rmtree(temp, ignore_errors=True)


def token_env() -> dict[str, str]:
    """Ray's token authentication for a test cluster."""
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}

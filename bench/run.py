"""Benchmark: the framework against plain Keras, side by side in one run.

    python bench/run.py [--quick]

Prints one line per figure, `NAME ratio=R target=T PASS|FAIL`, then the raw times. Each
measurement that needs its own Keras backend runs in a fresh process (`--worker NAME`). Needs
the TensorFlow backend for the plain-Keras baseline: `pip install -e ".[tensorflow]"`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sweep.backend import BACKENDS, DEFAULT_BACKEND  # noqa: E402
from sweep.space import load_space  # noqa: E402

STUDY_A = ROOT / "search_spaces" / "study_a.yaml"


# --- workers: each runs in its own process, prints one JSON line ------------------------------

def plain_fit(experiments: list[dict]) -> dict:
    """The studies' own way: plain Keras defaults on TensorFlow, one model after another, each for
    its `max_epochs`."""
    import keras
    from sklearn.decomposition import PCA

    from sweep import data, reduce

    ds = data.load("mnist")
    x, x_test = data.pixels(ds.x_train), data.pixels(ds.x_test)
    y, y_test = keras.utils.to_categorical(ds.y_train), keras.utils.to_categorical(ds.y_test)
    n = 55_000
    out = []
    for exp in experiments:
        start = time.perf_counter()
        keras.utils.set_random_seed(0)
        xs, xts = x, x_test
        if exp.get("reduction") == "pca":
            pca = PCA(exp["reduction_k"]).fit(x[:n])
            xs, xts = pca.transform(x), pca.transform(x_test)
        elif exp.get("reduction") == "rf":  # the framework's forest, so both sides do the same work
            forest = reduce.fit("rf", exp["reduction_k"], x[:n], ds.y_train[:n], seed=0, jobs=-1)
            xs, xts = forest.transform(x), forest.transform(x_test)
        model = keras.Sequential([keras.Input((xs.shape[1],)),
                                  *[keras.layers.Dense(w, activation="relu") for w in exp["hidden"]],
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
        times = _EpochTimes()
        model.fit(xs[:n], y[:n], batch_size=32, epochs=exp["max_epochs"], validation_data=(xs[n:], y[n:]),
                  callbacks=[times.callback()], verbose=0)
        accuracy = model.evaluate(xts, y_test, verbose=0)[1]
        out.append({"seconds": time.perf_counter() - start, "epoch_seconds": times.seconds, "test_accuracy": accuracy})
    return {"models": out}


def framework_fit(epochs: int, backend: str) -> dict:
    """One baseline trial through the framework's trainable (no Ray), `backend` set before Keras."""
    from sweep.backend import configure

    configure(backend)
    import pandas as pd

    from sweep.space import resolve
    from sweep.trainable import run

    folder = Path(tempfile.mkdtemp())
    cfg = resolve({"hidden": [128], "max_epochs": epochs, "patience": None})
    metrics = run(cfg, folder)
    return {"epoch_seconds": pd.read_csv(folder / "history.csv").seconds.tolist(),
            "test_accuracy": metrics["test_accuracy"]}


class _EpochTimes:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def callback(self):
        import keras

        times = self

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.seconds.append(time.perf_counter() - self.t)

        return Timer()


# --- the driver -------------------------------------------------------------------------------

def _worker(name: str, keras_backend: str, **kwargs) -> dict:
    env = {**os.environ, "KERAS_BACKEND": keras_backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, __file__, "--worker", name, "--args", json.dumps(kwargs)]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if run.returncode:
        sys.exit(f"bench worker {name} failed:\n{run.stderr[-3000:]}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"{name} on {keras_backend}: {json.dumps(result)[:300]}", file=sys.stderr, flush=True)
    return result


def _steady(seconds: list[float]) -> float:
    """Median seconds per epoch, leaving out the first (compilation) when there are more."""
    rest = sorted(seconds[1:] or seconds)
    return rest[len(rest) // 2]


def _line(name: str, ratio: float, target: str, ok: bool) -> str:
    return f"{name} ratio={ratio:.2f} target={target} {'PASS' if ok else 'FAIL'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and a lighter report")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--args", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps({"plain": plain_fit, "framework": framework_fit}[args.worker](**json.loads(args.args))))
        return 0

    train_epochs = 2 if args.quick else 4
    lines, raw = [], {}

    # a. train: seconds per epoch of the baseline, framework vs plain Keras defaults on TensorFlow.
    base = [{"hidden": [128], "max_epochs": train_epochs}]
    plain = _worker("plain", "tensorflow", experiments=base)["models"][0]
    ours = {b: _worker("framework", b, epochs=train_epochs, backend=b) for b in BACKENDS}
    plain_epoch = _steady(plain["epoch_seconds"])
    for backend, result in ours.items():  # the target is the default backend's; the others are compared
        ratio = plain_epoch / _steady(result["epoch_seconds"])
        gap = 100 * abs(result["test_accuracy"] - plain["test_accuracy"])
        ok = ratio >= 5 and gap <= 0.3
        line = _line(f"train[{backend}]", ratio, ">=5,accuracy_gap<=0.3pt", ok) if backend == DEFAULT_BACKEND \
            else f"train[{backend}] ratio={ratio:.2f} target=none INFO (not the default backend)"
        lines.append(line + f" accuracy_gap={gap:.2f}pt")
    raw["train"] = {"plain_tensorflow": plain, **{f"framework_{b}": r for b, r in ours.items()}}

    # b, c. sweep: Study A as users run it (early stopping) through `sweep run`, 2 trials at a time,
    # then the same models in a plain sequential loop, each for the epochs its trial ran: the same work.
    # --quick: every model for 2 epochs.
    with tempfile.TemporaryDirectory() as tmp:
        doc = yaml.safe_load(STUDY_A.read_text())
        if args.quick:
            doc["params"] |= {"max_epochs": 2, "patience": None}
        space = Path(tmp) / "bench_study_a.yaml"
        space.write_text(yaml.safe_dump(doc))
        started, start = time.time(), time.perf_counter()
        subprocess.run([sys.executable, "-m", "sweep.cli", "run", str(space), "--results", tmp, "--concurrency", "2"],
                       check=True, capture_output=True, cwd=ROOT)
        sweep_wall = time.perf_counter() - start
        metrics = [json.loads(p.read_text()) for p in (Path(tmp) / "bench_study_a").glob("trials/*/metrics.json")]
        ran = {m["label"]: m["epochs"] for m in metrics}
        experiments = [t.to_dict() | {"max_epochs": ran[t.label]} for t in load_space(space).trials()]
        start = time.perf_counter()
        loop = _worker("plain", "tensorflow", experiments=experiments)
        loop_wall = time.perf_counter() - start
        ratio = loop_wall / sweep_wall
        lines.append(_line("sweep", ratio, ">=5", ratio >= 5))
        # Overhead: what Ray and Tune add around the trials (start, scheduling, shutdown), i.e. the time in
        # which no trial was running. A trial's own work (its data, input reduction, model.fit, evaluation
        # and saved activations) is what the plain loop does too; the share outside model.fit is shown beside.
        trials = [(m["trial_started"], m["trial_ended"]) for m in metrics]
        fits = [(m["train_started"], m["train_ended"]) for m in metrics]
        in_trials, in_fit = _union(trials), _union(fits)
        overhead = (sweep_wall - in_trials) / sweep_wall
        lines.append(_line("overhead", overhead, "<=0.10", overhead <= 0.10))
        lines.append(f"overhead[outside model.fit] ratio={(sweep_wall - in_fit) / sweep_wall:.2f} target=none INFO")
        raw["sweep"] = {"sweep_wall_s": sweep_wall, "plain_loop_wall_s": loop_wall,
                        "in_trials_wall_s": in_trials,  # seconds in which at least one trial was running
                        "in_fit_wall_s": in_fit,  # seconds in which at least one trial was inside model.fit
                        "trial_s": sum(b - a for a, b in trials),  # summed over trials
                        "fit_s": sum(b - a for a, b in fits),
                        "first_trial_after_s": min(a for a, _ in trials) - started,
                        "last_trial_to_exit_s": started + sweep_wall - max(b for _, b in trials),
                        "first_fit_after_s": min(a for a, _ in fits) - started,
                        "epochs": ran, "trials": len(metrics)}

        # d. report: cold vs warm on that sweep.
        from analysis.report import ReportOptions, build_report

        options = ReportOptions(top=1, subsample=1000 if args.quick else 5000, probe_rows=2000 if args.quick else 10_000)
        cold = build_report(Path(tmp) / "bench_study_a", options, log=lambda _: None)
        warm = build_report(Path(tmp) / "bench_study_a", options, log=lambda _: None)
        ratio = warm.seconds["total"] / cold.seconds["total"]
        lines.append(_line("report", ratio, "<=0.10", ratio <= 0.10))
        raw["report"] = {"options": {"top": options.top, "subsample": options.subsample, "probe_rows": options.probe_rows},
                         "cold": cold.seconds, "warm": warm.seconds}

    print("\n".join(lines))
    print(json.dumps(raw, indent=1, default=float))
    return 0 if all(" PASS" in line for line in lines) else 1


def _union(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one interval."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        total += max(0.0, b - max(a, end))
        end = max(end, b)
    return total


if __name__ == "__main__":
    sys.exit(main())

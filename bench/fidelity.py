"""Fidelity: does a trial train the model plain Keras would? Compared over many seeds.

    python bench/fidelity.py [--seeds 10] [--hidden 128 128,1 ...] [--backends jax,tensorflow] [--quick]

For each architecture (default: Study A's exp 0-3) and backend, N seeds through the framework
(`sweep run`, real Ray Tune) and N through plain `model.fit` with the same data, split and
recipe (Study A's: RMSprop, batch 32, EarlyStopping on validation accuracy, patience 2, the
last 5,000 training rows validating; Keras' own Glorot initializer and loop, seeded by
`keras.utils.set_random_seed`). Prints per architecture both test-accuracy distributions
(median, quartiles, min, max, runs collapsed to chance), the median gap and a two-sided
Mann-Whitney U test, then every run's figure as JSON. `--quick`: 3 seeds of 3 epochs on
`mnist_small`, JAX only, a smoke test of the script.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sweep.folder import SweepFolder  # noqa: E402
from sweep.space_file import load_space  # noqa: E402

STUDY_A = ROOT / "search_spaces" / "study_a.yaml"
CHANCE = 0.15  # test accuracy at or below this is a collapsed run (ten classes: chance is about 0.11)
MEDIAN_GAP = 2.0  # points: the largest gap between medians that still counts as the same training
ALPHA = 0.05


def recipes(hidden: list[tuple[int, ...]], quick: bool) -> list[dict]:
    """Study A's configuration with each hidden stack, as `sweep.space` resolves it."""
    base = load_space(STUDY_A).trials()[0].to_dict()
    base.pop("seed")
    if quick:
        base |= {"dataset": "mnist_small", "validation": 1000, "max_epochs": 3}
    return [base | {"hidden": list(h), "label": "-".join(map(str, h))} for h in hidden]


def framework(configs: list[dict], seeds: int, backend: str, folder: Path) -> dict[tuple[str, int], float]:
    """Every configuration over `seeds` seeds through `sweep run`: (label, seed) -> test accuracy."""
    space = folder / f"fidelity_{backend}.yaml"
    space.write_text(yaml.safe_dump({"seeds": list(range(seeds)),
                                     "experiments": configs}))
    subprocess.run([sys.executable, "-m", "mlp_sweep", "run", str(space), "--results", str(folder),
                    "--backend", backend], check=True, stdout=subprocess.DEVNULL)
    sweep = SweepFolder(folder / space.stem)
    return {(m["label"], m["seed"]): m["test_accuracy"] for m in map(sweep.metrics, sweep.trials())}


def plain(configs: list[dict], seeds: int, backend: str) -> dict[tuple[str, int], float]:
    """The same runs with plain Keras, two processes at once (one per core)."""
    jobs = [(c, s) for c in configs for s in range(seeds)]
    env = {**os.environ, "KERAS_BACKEND": backend, "OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
           "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    workers = [subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(jobs[i::2])], env=env,
                                stdout=subprocess.PIPE, text=True) for i in range(2)]
    out = {}
    for worker in workers:
        stdout, _ = worker.communicate()
        if worker.returncode:
            raise SystemExit(f"a plain-Keras worker failed (exit {worker.returncode})")
        out |= {(label, seed): acc for label, seed, acc in json.loads(stdout.splitlines()[-1])}
    return out


def plain_worker(jobs: list[tuple[dict, int]]) -> list[tuple[str, int, float]]:
    """Plain Keras, as a user writes it: Glorot-initialised Dense layers, `model.fit`, EarlyStopping."""
    from sweep.backend import configure

    configure(os.environ["KERAS_BACKEND"])  # environment only: keeps TensorFlow out of a JAX process
    import keras

    from sweep import data

    out = []
    for config, seed in jobs:
        ds = data.load(config["dataset"])
        x, x_test = data.pixels(ds.x_train), data.pixels(ds.x_test)
        n = len(x) - config["validation"]
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((784,)),
                                  *[keras.layers.Dense(w, activation=config["activation"]) for w in config["hidden"]],
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer=keras.optimizers.RMSprop(config["learning_rate"]),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"], steps_per_execution=64,
                      jit_compile=True)
        stop = [keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=config["patience"],
                                              restore_best_weights=config["restore_best"])]
        model.fit(x[:n], ds.y_train[:n], batch_size=config["batch_size"], epochs=config["max_epochs"],
                  validation_data=(x[n:], ds.y_train[n:]), callbacks=stop if config["patience"] is not None else [],
                  verbose=0)
        out.append((config["label"], seed, float(model.evaluate(x_test, ds.y_test, verbose=0)[1])))
        print(f"  plain {keras.backend.backend()} {config['label']} seed {seed}: test {100 * out[-1][2]:.2f}%",
              file=sys.stderr, flush=True)
    return out


def describe(values: list[float]) -> str:
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    collapsed = sum(v <= CHANCE for v in values)
    return (f"median {100 * median:5.2f} [q1 {100 * q1:5.2f}, q3 {100 * q3:5.2f}] min {100 * min(values):5.2f} "
            f"max {100 * max(values):5.2f} collapsed {collapsed}/{len(values)}")


def compare(label: str, backend: str, ours: list[float], theirs: list[float]) -> str:
    from scipy.stats import mannwhitneyu

    p = mannwhitneyu(ours, theirs, alternative="two-sided").pvalue
    gap = 100 * (np.median(ours) - np.median(theirs))
    same = abs(gap) <= MEDIAN_GAP and p > ALPHA
    return (f"{label} {backend}: framework {describe(ours)}\n"
            f"{' ' * len(f'{label} {backend}')}  plain     {describe(theirs)}\n"
            f"{' ' * len(f'{label} {backend}')}  median gap={gap:+.2f}pt Mann-Whitney U p={p:.3f} "
            f"{'SAME' if same else 'DIFFERENT'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, help="seeds per architecture and side (default 10; 3 with --quick)")
    parser.add_argument("--hidden", nargs="+", default=["128", "128,1", "128,2", "128,5"],
                        help="hidden widths per architecture, e.g. 128,1 (default: Study A's exp 0-3)")
    parser.add_argument("--backends", help="comma-separated (default: jax and, where installed, tensorflow)")
    parser.add_argument("--quick", action="store_true", help="3 seeds, 3 epochs on mnist_small, JAX only")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(plain_worker(json.loads(args.worker))))
        return
    import importlib.util

    seeds = args.seeds or (3 if args.quick else 10)
    default = "jax" if args.quick or importlib.util.find_spec("tensorflow") is None else "jax,tensorflow"
    configs = recipes([tuple(int(w) for w in h.split(",")) for h in args.hidden], args.quick)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in (args.backends or default).split(","):
            ours, theirs = framework(configs, seeds, backend, Path(tmp)), plain(configs, seeds, backend)
            for config in configs:
                label = "784-" + "-".join(map(str, config["hidden"])) + "-10"
                a = [ours[(config["label"], s)] for s in range(seeds)]
                b = [theirs[(config["label"], s)] for s in range(seeds)]
                print(compare(label, backend, a, b), flush=True)
                runs.append({"architecture": label, "backend": backend, "framework": a, "plain": b})
    print(json.dumps(runs))


if __name__ == "__main__":
    main()

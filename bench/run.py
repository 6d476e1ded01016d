"""Benchmark: the framework against the plain way, side by side in one run.

    python bench/run.py [--quick] [--only train,sweep,report,analysis] [--spaces widths,study_a_seeds,study_a,study_b]

train: the baseline's epochs; sweep: Study A through `sweep run` against a plain Keras loop, and
the share of a three-seed sweep outside its trials; report: Study A's report through `sweep
report`, cold and warm, against a plain loop over the same layers calling each library, with both
sides' probe scores and the time per phase; analysis: the default plan's cold report against its
sweep on `widths.yaml` and on Study A over three seeds, how soon `sweep run --report` finishes its
page after the last trial, the default's layer ranking against scikit-learn's on every row, and
each study's declared plan against a plain loop of the notebooks' own calls (and, since Study B's
UMAP is unseeded there, that loop's probes once more against themselves). Prints one line per
figure, `NAME ratio=R target=T
PASS|FAIL`, then the raw figures. Each measurement that needs its own process runs in a fresh one
(`--worker NAME`). Needs the TensorFlow backend for the plain-Keras baseline:
`pip install -e ".[tensorflow]"`.
"""

from __future__ import annotations

import argparse
import contextlib
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
from sweep.folder import SweepFolder, TrialFolder  # noqa: E402
from sweep.space_file import load_space  # noqa: E402

SPACES = ROOT / "search_spaces"
STUDY_A = SPACES / "study_a.yaml"


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

    from sweep.config import resolve
    from sweep.trainable import run

    folder = TrialFolder(Path(tempfile.mkdtemp()))
    cfg = resolve({"hidden": [128], "max_epochs": epochs, "patience": None})
    metrics = run(cfg, folder)
    return {"epoch_seconds": pd.read_csv(folder.history).seconds.tolist(),
            "test_accuracy": metrics["test_accuracy"]}


def plain_report(layers: list[dict], subsample: int, probe_rows: int | None, seed: int = 0) -> dict:
    """The studies' own way to analyse layers: one loop, one layer after another, each library called
    directly with its defaults (the report's seed and rows), timing every phase."""
    import warnings

    warnings.simplefilter("ignore")
    import pacmap
    import trimap
    import umap
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.manifold import TSNE
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from analysis.embed import stratified

    loop = _Loop("plain")
    timed, out = loop.timed, []
    for layer, (train, y, test, y_test) in loop.over(layers):
        fit = stratified(y, probe_rows or len(y), seed)
        train_fit, y_fit = train[fit], y[fit]
        scores = {}
        with timed("umap fit"):
            reducer = umap.UMAP(n_components=2, random_state=seed)
            emb = reducer.fit_transform(train_fit)
        with timed("umap transform"):
            emb_test = reducer.transform(test)
        with timed("knn on umap"):
            for k in (3, 5, 10):
                scores[f"umap-knn{k}"] = KNeighborsClassifier(n_neighbors=k).fit(emb, y_fit).score(emb_test, y_test)
        with timed("knn5"):  # the exact probes: on every training row
            scores["knn5"] = KNeighborsClassifier(n_neighbors=5).fit(train, y).score(test, y_test)
        with timed("linear"):
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, random_state=seed))
            scores["linear"] = model.fit(train, y).score(test, y_test)
        if layer["drawn"]:
            shown = train[stratified(y, subsample, seed)]
            with timed("pca"):
                PCA(2, random_state=seed).fit_transform(shown)
            with timed("tsne"):
                TSNE(2, init="pca", random_state=seed).fit_transform(shown)
            with timed("trimap"):
                trimap.TRIMAP(n_dims=2, verbose=False).fit_transform(shown)
            with timed("pacmap"):
                pacmap.PaCMAP(n_components=2, random_state=seed).fit_transform(shown, init="pca")
        out.append({**layer, "width": train.shape[1], "scores": scores})
    return loop.result(out)


def plain_probes(layers: list[dict]) -> dict:
    """scikit-learn's own probes on every training and test row, one layer after another:
    `KNeighborsClassifier(5)` and `LogisticRegression` on standardised features run until it
    converges (1,000 L-BFGS steps at most)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from analysis.layers import load_rows

    out = []
    for layer in layers:
        train, y, test, y_test = load_rows(layer["trial_folder"], layer["layer"], layer["dataset"], None)
        out.append({**layer, "knn5": KNeighborsClassifier(5).fit(train, y).score(test, y_test),
                    "linear": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
                    .fit(train, y).score(test, y_test)})
    return {"layers": out}


def plain_study(layers: list[dict], study: str, rows: int | None, probes_only: bool = False) -> dict:
    """A study's analysis as its notebook makes it, one layer after another, each library called with
    the study's settings on the rows the plan draws. Study A: `PCA(2)`, `PCA(3)` and
    `TSNE(perplexity=40, max_iter=300)`; Study B: `umap.UMAP()` fitted on the training rows with
    `transform` of the test rows, `TRIMAP()` on the training rows, and `KNeighborsClassifier(k)`
    fitted on the UMAP coordinates with one-hot labels, read by argmax, for k = 3, 5, 10.
    `probes_only`: Study B's UMAP and KNN alone, to fit the unseeded UMAP again."""
    import warnings

    warnings.simplefilter("ignore")

    from analysis.embed import stratified

    loop = _Loop(f"plain {study}{' probes' if probes_only else ''}")
    timed, out = loop.timed, []
    for layer, (train, y, test, y_test) in loop.over(layers):
        shown = stratified(y, rows or len(y), 0)
        train, y = train[shown], y[shown]
        scores = {}
        if train.shape[1] <= 2:  # a layer of one or two units is drawn as it is, on both sides
            pass
        elif study == "study_a":
            from sklearn.decomposition import PCA
            from sklearn.manifold import TSNE

            with timed("pca"):
                PCA(2).fit_transform(train)
                PCA(3).fit_transform(train)
            with timed("tsne"):
                TSNE(2, perplexity=40, max_iter=300).fit_transform(train)
        else:
            import trimap

            scores = _umap_knn(train, y, test, y_test, timed)
            if not probes_only:
                with timed("trimap"):
                    trimap.TRIMAP().fit_transform(train)
        out.append({**layer, "scores": scores})
    return loop.result(out)


def _umap_knn(train, y, test, y_test, timed) -> dict[str, float]:
    """`umap.UMAP()` fitted on the training rows, `transform` of the test rows, and
    `KNeighborsClassifier(k)` on the coordinates with one-hot labels, read by argmax, for k = 3, 5, 10."""
    import numpy as np
    import umap
    from sklearn.neighbors import KNeighborsClassifier

    with timed("umap"):
        reducer = umap.UMAP()
        emb = reducer.fit_transform(train)
        emb_test = reducer.transform(test)
    with timed("knn on umap"):
        onehot = np.eye(int(y.max()) + 1)[y]
        return {f"umap-knn{k}": float((KNeighborsClassifier(k).fit(emb, onehot).predict(emb_test).argmax(1)
                                       == y_test).mean()) for k in (3, 5, 10)}


class _Loop:
    """A plain loop over layers, one after another: each layer's rows loaded (timed as `load`), the
    caller's phases timed with `timed`, a line on stderr as each layer is done."""

    def __init__(self, name: str) -> None:
        self.name, self.phases, self.start = name, {}, time.perf_counter()
        self.timed = _Phases(self.phases)

    def over(self, layers: list[dict]):
        from analysis.layers import load_rows

        for layer in layers:
            with self.timed("load"):
                rows = load_rows(layer["trial_folder"], layer["layer"], layer["dataset"], None)
            yield layer, rows
            print(f"{self.name}: {layer['layer']} of {layer['source']} ({rows[0].shape[1]} wide) done at "
                  f"{time.perf_counter() - self.start:.0f} s", file=sys.stderr, flush=True)

    def result(self, layers: list[dict]) -> dict:
        return {"seconds": time.perf_counter() - self.start, "phases": self.phases, "layers": layers}


class _Phases:
    """Adds the seconds spent in each named block to a dict."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds

    @contextlib.contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


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
    """Run a worker function in a fresh process; its progress goes to this stderr."""
    env = {**os.environ, "KERAS_BACKEND": keras_backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, __file__, "--worker", name, "--args", json.dumps(kwargs)]
    run = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    if run.returncode:
        sys.exit(f"bench worker {name} failed (exit {run.returncode}; its error is above)")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"{name} on {keras_backend}: {json.dumps(result)[:300]}", file=sys.stderr, flush=True)
    return result


def _steady(seconds: list[float]) -> float:
    """Median seconds per epoch, leaving out the first (compilation) when there are more."""
    rest = sorted(seconds[1:] or seconds)
    return rest[len(rest) // 2]


def _line(name: str, ratio: float, target: str, ok: bool, detail: str = "") -> str:
    return _said(f"{name} ratio={ratio:.2f} target={target} {'PASS' if ok else 'FAIL'}{detail}")


def _said(line: str) -> str:
    """`line`, printed at once on stderr too: a long run that fails later keeps what it measured."""
    print(f"so far: {line}", file=sys.stderr, flush=True)
    return line


def _sweep(space: Path, results: Path, *args: str) -> tuple[float, float, list[dict]]:
    """`sweep run` as users run it: (start time, wall seconds, every trial's metrics)."""
    started, start = time.time(), time.perf_counter()
    subprocess.run([sys.executable, "-m", "mlp_sweep", "run", str(space), "--results", str(results), *args],
                   check=True, capture_output=True, cwd=ROOT)
    wall = time.perf_counter() - start
    name = args[args.index("--name") + 1] if "--name" in args else space.stem
    folder = SweepFolder(results / name)
    return started, wall, [folder.metrics(trial) for trial in folder.trials()]


def bench_train(quick: bool) -> tuple[list[str], dict]:
    """Seconds per epoch of the baseline: the framework on each backend vs plain Keras defaults on TensorFlow."""
    epochs = 2 if quick else 4
    plain = _worker("plain", "tensorflow", experiments=[{"hidden": [128], "max_epochs": epochs}])["models"][0]
    ours = {b: _worker("framework", b, epochs=epochs, backend=b) for b in BACKENDS}
    plain_epoch = _steady(plain["epoch_seconds"])
    lines = []
    for backend, result in ours.items():  # the target is the default backend's; the others are compared
        ratio = plain_epoch / _steady(result["epoch_seconds"])
        gap = 100 * abs(result["test_accuracy"] - plain["test_accuracy"])
        lines.append(_line(f"train[{backend}]", ratio, ">=5,accuracy_gap<=0.3pt", ratio >= 5 and gap <= 0.3,
                           f" accuracy_gap={gap:.2f}pt") if backend == DEFAULT_BACKEND
                     else f"train[{backend}] ratio={ratio:.2f} target=none INFO (not the default backend) "
                          f"accuracy_gap={gap:.2f}pt")
    return lines, {"plain_tensorflow": plain, **{f"framework_{b}": r for b, r in ours.items()}}


def bench_sweep(space: Path, tmp: Path) -> tuple[list[str], dict]:
    """Study A as users run it (early stopping) through `sweep run`, 2 trials at a time, against the
    same models in a plain sequential loop, each for the epochs its trial ran; then the share of a
    three-seed sweep in which no trial was running (what Ray and Tune add around the trials)."""
    _, sweep_wall, metrics = _sweep(space, tmp, "--concurrency", "2", "--name", "sweep")
    ran = {m["label"]: m["epochs"] for m in metrics}
    experiments = [t.to_dict() | {"max_epochs": ran[t.label]} for t in load_space(space).trials()]
    start = time.perf_counter()
    _worker("plain", "tensorflow", experiments=experiments)
    loop_wall = time.perf_counter() - start
    lines = [_line("sweep", loop_wall / sweep_wall, ">=5", loop_wall / sweep_wall >= 5)]
    # A trial's own work (its data, input reduction, model.fit, evaluation and saved activations) is
    # what the plain loop does too; the share outside model.fit is shown beside.
    started, wall, metrics = _sweep(space, tmp, "--concurrency", "2", "--name", "seeds", "--seeds", "0,1,2")
    trials = [(m["trial_started"], m["trial_ended"]) for m in metrics]
    fits = [(m["train_started"], m["train_ended"]) for m in metrics]
    in_trials, in_fit = _union(trials), _union(fits)
    overhead = (wall - in_trials) / wall
    lines.append(_line("overhead", overhead, "<=0.10", overhead <= 0.10,
                       f" (Study A, seeds 0,1,2: {len(metrics)} trials)"))
    lines.append(f"overhead[outside model.fit] ratio={(wall - in_fit) / wall:.2f} target=none INFO")
    return lines, {"sweep_wall_s": sweep_wall, "plain_loop_wall_s": loop_wall, "epochs": ran,
                   "seeds_0_1_2": {"wall_s": wall, "trials": len(metrics),
                                   "in_trials_wall_s": in_trials,  # seconds in which at least one trial was running
                                   "in_fit_wall_s": in_fit,  # seconds in which at least one trial was inside model.fit
                                   "first_trial_after_s": min(a for a, _ in trials) - started,
                                   "last_trial_to_exit_s": started + wall - max(b for _, b in trials)}}


def bench_report(sweep_dir: Path, quick: bool) -> tuple[list[str], dict]:
    """Study A's report cold through `sweep report` (Ray tasks, cached, progress) against the plain
    way on the same layers, rows and methods; then warm; then every probe of both sides compared."""
    import pandas as pd

    from analysis.layers import PROBES
    from analysis.plan import METHODS, jobs_of, saved_plan
    from analysis.results import load_sweep

    top, subsample, probe_rows = (1, 2000, 10_000) if quick else (3, 10_000, None)
    folder = SweepFolder(sweep_dir)  # every method and probe, on the rows these figures were first taken on
    doc = yaml.safe_load(folder.space.read_text()) | {"analysis": {
        "show": top, "embeddings": {m: {"rows": subsample} for m in METHODS},
        "probes": {"knn": [5], "linear": True, "umap_knn": {"rows": probe_rows or "all"}}}}
    folder.space.write_text(yaml.safe_dump(doc))
    flags = ["--quiet"]
    report = folder.report
    jobs = jobs_of(load_sweep(sweep_dir), saved_plan(folder), report / "cache")
    drawn = {(j.dataset, j.source, j.layer) for j in jobs if j.task not in (PROBES, "umap")}
    layers = [{"dataset": j.dataset, "source": j.source, "layer": j.layer, "trial_folder": j.trial_folder,
               "drawn": (j.dataset, j.source, j.layer) in drawn} for j in jobs if j.task == PROBES]
    start = time.perf_counter()
    plain = _worker("plain_report", "jax", layers=layers, subsample=subsample, probe_rows=probe_rows)
    plain_wall = time.perf_counter() - start
    tables = report / "tables"
    walls, splits = [], []
    for _ in ("cold", "warm"):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mlp_sweep", "report", str(sweep_dir), *flags], check=True,
                       capture_output=True, cwd=ROOT)
        walls.append(time.perf_counter() - start)
        splits.append(_job_split(pd.read_csv(tables / "layer_jobs.csv")))
    cold, warm = walls
    ours = pd.read_csv(tables / "probes_long.csv")
    theirs = pd.DataFrame([{"dataset": job["dataset"], "source": job["source"], "layer": job["layer"], "probe": p,
                            "plain": a, "width": job["width"]}
                           for job in plain["layers"] for p, a in job["scores"].items()])
    both = theirs.merge(ours, on=["dataset", "source", "layer", "probe"])
    both["gap"] = 100 * (both.accuracy - both.plain).abs()
    flat = both.width <= 2
    gap = both[~flat].gap.max()
    lines = [_line("report", cold / plain_wall, "<=0.25", cold / plain_wall <= 0.25),
             _line("report[warm]", warm / cold, "<=0.10", warm / cold <= 0.10),
             f"probes max_gap={gap:.2f}pt target=<=0.3pt {'PASS' if gap <= 0.3 else 'FAIL'} "
             f"({(~flat).sum()} probe scores on {both[~flat].layer.size // 5} layers)",
             f"probes[width<=2] max_gap={both[flat].gap.max() if flat.any() else 0:.2f}pt target=none INFO "
             f"(probed directly, not embedded: {flat.sum() // 5} layers)"]
    return lines, {"options": {"top": top, "subsample": subsample, "probe_rows": probe_rows},
                   "plain_wall_s": plain_wall, "framework_cold_wall_s": cold, "framework_warm_wall_s": warm,
                   "plain_phases_s": plain["phases"], "framework_cold_job_s": splits[0],
                   "probes": both.drop(columns="width").round(5).to_dict("records")}


def _report_walls(sweep_dir: Path, *flags: str) -> tuple[float, float, dict]:
    """`sweep report` cold, then warm: their wall seconds and the cold one's job split."""
    import pandas as pd

    walls = []
    for _ in ("cold", "warm"):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mlp_sweep", "report", str(sweep_dir), "--quiet", *flags], check=True,
                       capture_output=True, cwd=ROOT)
        walls.append(time.perf_counter() - start)
        if not walls[1:]:
            split = _job_split(pd.read_csv(SweepFolder(sweep_dir).report / "tables" / "layer_jobs.csv"))
    return walls[0], walls[1], split


def _follow(space: Path, tmp: Path, name: str, *args: str) -> dict:
    """`sweep run SPACE --report`: seconds from the last trial's end to the final page (`lag_s`), and
    how they split: the layer jobs that ended after that trial, the last of them how long after it."""
    import pandas as pd

    started, _, metrics = _sweep(space, tmp, "--name", name, "--report", *args)
    report = SweepFolder(tmp / name).report
    last = max(m["trial_ended"] for m in metrics)
    jobs = pd.read_csv(report / "tables" / "layer_jobs.csv")
    after = jobs[jobs.ended > last]
    page = (report / "report.html").stat().st_mtime
    return {"lag_s": page - last, "jobs_after": len(after),
            "jobs_after_s": max(0.0, after.ended.max() - last) if len(after) else 0.0,
            "trials_span_s": last - min(m["trial_started"] for m in metrics), "page_after_start_s": page - started}


def _space(tmp: Path, name: str, doc: dict, **params) -> Path:
    """The space `doc` with `params` set for every trial, its experiments' own values included."""
    path = tmp / f"{name}.yaml"
    experiments = [{k: v for k, v in e.items() if k not in params} for e in doc.get("experiments", [{}])]
    path.write_text(yaml.safe_dump({**doc, "params": {**doc["params"], **params}, "experiments": experiments}))
    return path


# The studies' declared plans: their space files and, with --quick, the rows of each method.
STUDIES = {"study_a": ("search_spaces/study_a.yaml", {"tsne": 2000, "pca": 2000}),
           "study_b": ("search_spaces/study_b.yaml", {"umap": 3000, "trimap": 3000})}


def _default_spaces(quick: bool) -> dict[str, tuple[Path, dict, dict]]:
    """The spaces the default plan is measured on: name -> (file, its keys replaced, params set)."""
    if quick:
        return {"smoke": (SPACES / "smoke.yaml", {"seeds": [0, 1, 2]}, {})}
    return {"widths": (SPACES / "widths.yaml", {}, {}), "study_a_seeds": (STUDY_A, {"seeds": [0, 1, 2]}, {})}


def bench_analysis(tmp: Path, quick: bool, names: list[str] | None = None) -> tuple[list[str], dict]:
    """The default plan against the sweep it analyses, the report that follows a sweep (on the
    spaces `names`, default all), the default's probes against scikit-learn's on every row, and both
    studies' declared plans against the notebooks' own calls."""
    lines, raw = [], {}
    quick_params = {"dataset": "mnist_small", "max_epochs": 2, "patience": None, "validation": 1000}
    spaces = _default_spaces(quick)
    spaces = {name: spaces[name] for name in names or spaces if name in spaces}
    for name, (path, keys, params) in spaces.items():
        doc = {k: v for k, v in yaml.safe_load(path.read_text()).items() if k != "analysis"} | keys  # default plan
        space = _space(tmp, name, doc, **params)
        _, sweep_wall, metrics = _sweep(space, tmp, "--name", name)
        cold, warm, split = _report_walls(tmp / name)
        ratio = cold / sweep_wall
        lines += [_line(f"analysis[default,{name}]", ratio, "<=1.0(aim 0.5)", ratio <= 1.0,
                        f" (report {cold:.0f} s, sweep {sweep_wall:.0f} s, {len(metrics)} trials)"),
                  _line(f"analysis[default,{name},warm]", warm / cold, "<=0.10", warm / cold <= 0.10)]
        _said(f"{name}: cold jobs {json.dumps(split)}")
        follow = _follow(space, tmp, f"{name}-follow")
        lag, tail = follow["lag_s"], follow["jobs_after_s"]
        lines.append(_said(f"analysis[follow,{name}] seconds={lag:.0f} target=<=60 {'PASS' if lag <= 60 else 'FAIL'} "
                           f"(after the last trial: {follow['jobs_after']} layer jobs, the last ended {tail:.0f} s "
                           f"after it, the final page {lag - tail:.0f} s after that; sweep start to final page "
                           f"{follow['page_after_start_s']:.0f} s, against {sweep_wall + cold:.0f} s for the sweep "
                           f"and then its report)"))
        raw[name] = {"sweep_wall_s": sweep_wall, "report_cold_s": cold, "report_warm_s": warm, "follow": follow,
                     "cold_jobs": split}
    if spaces:
        lines.append(_ranking(tmp / next(iter(spaces)), raw))
    for study, (path, quick_rows) in STUDIES.items():
        if names and study not in names:
            continue
        doc = yaml.safe_load((ROOT / path).read_text())
        if quick:  # fewer epochs and rows: every method on a few thousand rows of MNIST's slice
            doc["analysis"]["embeddings"] = {m: {**e, "rows": quick_rows[m]}
                                             for m, e in doc["analysis"]["embeddings"].items()}
            if "umap_knn" in doc["analysis"].get("probes", {}):
                doc["analysis"]["probes"]["umap_knn"]["rows"] = quick_rows["umap"]
        space = _space(tmp, study, doc, **(quick_params if quick else {}))
        _sweep(space, tmp, "--name", study)
        lines += _study(study, tmp / study, raw)
    return lines, raw


def _ranking(sweep_dir: Path, raw: dict) -> str:
    """Every third trial's layers: the report's knn5 and linear probes against scikit-learn's on
    every row; Kendall's tau of the layer ranking and the largest move, per probe."""
    import pandas as pd
    from scipy.stats import kendalltau

    ours = pd.read_csv(SweepFolder(sweep_dir).report / "tables" / "probes_long.csv")
    trials = sorted(ours.source[ours.source != "raw pixels"].unique())[::3]
    picked = ours[ours.source.isin(trials) & ours.probe.isin(["knn5", "linear"])]
    layers = picked.drop_duplicates(["source", "layer"])
    folders = {t: str(SweepFolder(sweep_dir).trials_dir / t) for t in trials}
    plain = _worker("plain_probes", "jax", layers=[{"dataset": r.dataset, "source": r.source, "layer": r.layer,
                                                     "trial_folder": folders[r.source]} for r in layers.itertuples()])
    theirs = pd.DataFrame(plain["layers"]).melt(["dataset", "source", "layer"], ["knn5", "linear"], "probe", "plain")
    both = picked.merge(theirs, on=["dataset", "source", "layer", "probe"])
    taus = {p: kendalltau(g.accuracy, g.plain).statistic for p, g in both.groupby("probe")}
    move = 100 * (both.accuracy - both.plain).abs().max()
    tau = min(taus.values())
    raw["ranking"] = {"layers": len(layers), "tau": taus, "max_move_pt": move}
    return _said(f"analysis[ranking] tau={tau:.3f} max_move={move:.2f}pt target=tau>=0.9,move<=0.5pt "
                 f"{'PASS' if tau >= 0.9 and move <= 0.5 else 'FAIL'} ({len(layers)} layers, every row, "
                 f"tau {', '.join(f'{p} {t:.3f}' for p, t in taus.items())})")


def _study(study: str, sweep_dir: Path, raw: dict) -> list[str]:
    """A study's declared plan, cold and warm through `sweep report`, against the plain loop on the
    same layers and rows."""
    import pandas as pd

    from analysis.layers import PROBES, RAW
    from analysis.plan import jobs_of, saved_plan
    from analysis.results import load_sweep

    folder = SweepFolder(sweep_dir)
    plan = saved_plan(folder)
    jobs = jobs_of(load_sweep(sweep_dir), plan, folder.report / "cache")
    drawn = [j for j in jobs if j.task not in (PROBES, "umap") or j.draw]
    layers = list({(j.dataset, j.source, j.layer): {"dataset": j.dataset, "source": j.source, "layer": j.layer,
                                                   "trial_folder": j.trial_folder} for j in drawn}.values())
    rows = plan.embeddings[0].rows
    start = time.perf_counter()
    plain = _worker("plain_study", "jax", layers=layers, study=study, rows=rows)
    plain_wall = time.perf_counter() - start
    cold, warm, split = _report_walls(sweep_dir)
    theirs = _scores(plain, "plain")
    gap, lines = 0.0, []  # Study A's plan probes nothing
    if len(theirs):
        ours = pd.read_csv(folder.report / "tables" / "probes_long.csv")
        both = theirs.merge(ours, on=["dataset", "source", "layer", "probe"])
        gap = 100 * (both.accuracy - both.plain).abs().max()
        again = _worker("plain_study", "jax", layers=layers, study=study, rows=rows, probes_only=True)
        itself = 100 * theirs.merge(_scores(again, "again")).eval("again - plain").abs().max()
        raw[study + "_plain_again"] = {"wall_s": again["seconds"], "gap_pt": itself}
        lines.append(_said(f"analysis[{study},plain_again] gap={itself:.2f}pt (for information: the plain way "
                           f"against itself, its unseeded UMAP fitted again on the same rows)"))
    cores = os.cpu_count() or 1
    ratio, best = cold / plain_wall, split["summed_s"] / cores / plain_wall
    raw[study] = {"plain_wall_s": plain_wall, "plain_phases_s": plain["phases"], "report_cold_s": cold,
                  "report_warm_s": warm, "cold_jobs": split, "layers": len(layers), "probe_gap_pt": gap,
                  "raw_layers": sum(layer["layer"] == RAW for layer in layers), "best_ratio": best}
    return [_line(f"analysis[{study}]", ratio, "<=0.5,probe_gap<=0.3pt", ratio <= 0.5 and gap <= 0.3,
                  f" probe_gap={gap:.2f}pt (report {cold:.0f} s, plain {plain_wall:.0f} s, {len(layers)} layers; "
                  f"its jobs' {split['summed_s']:.0f} CPU-s on {cores} cores with nothing else would be {best:.2f})"),
            _line(f"analysis[{study},warm]", warm / cold, "<=0.10", warm / cold <= 0.10), *lines]


def _scores(result: dict, column: str):
    """A plain worker's probe scores, one row per layer and probe, the accuracy in `column`."""
    import pandas as pd

    return pd.DataFrame([{"dataset": layer["dataset"], "source": layer["source"], "layer": layer["layer"],
                          "probe": p, column: a} for layer in result["layers"] for p, a in layer["scores"].items()])


def _job_split(jobs) -> dict:
    """Seconds of the layer jobs computed, summed by task and by kind of layer (raw pixels, hidden,
    width <= 2), with the job counts."""
    done = jobs[jobs.computed > 0]
    kind = done.layer.where(done.layer == "raw", done.width.le(2).map({True: "width<=2", False: "hidden"}))
    return {"by_task": done.groupby("task").seconds.sum().round(1).to_dict(),
            "by_layer": done.groupby(kind).seconds.sum().round(1).to_dict(),
            "jobs": int(len(done)), "summed_s": round(float(done.seconds.sum()), 1)}


SECTIONS = ("train", "sweep", "report", "analysis")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs per model and a lighter report")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {', '.join(SECTIONS)}")
    parser.add_argument("--spaces", help="analysis: what it measures, comma-separated, of the default plan's "
                                          f"spaces widths and study_a_seeds (--quick: smoke) and the studies "
                                          f"{' and '.join(STUDIES)}; default all")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--args", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        workers = {"plain": plain_fit, "framework": framework_fit, "plain_report": plain_report,
                   "plain_probes": plain_probes, "plain_study": plain_study}
        print(json.dumps(workers[args.worker](**json.loads(args.args)), default=float))
        return 0
    sections = [s for s in args.only.split(",") if s]
    if unknown := set(sections) - set(SECTIONS):
        parser.error(f"unknown section {sorted(unknown)[0]!r}; choose from {', '.join(SECTIONS)}")
    names = [s for s in (args.spaces or "").split(",") if s]
    if unknown := set(names) - set(_default_spaces(args.quick)) - set(STUDIES):
        parser.error(f"unknown space {sorted(unknown)[0]!r} for --spaces")
    lines, raw = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        doc = yaml.safe_load(STUDY_A.read_text())
        if args.quick:  # every model for 2 epochs
            doc["params"] |= {"max_epochs": 2, "patience": None}
        space = Path(tmp) / "study_a.yaml"
        space.write_text(yaml.safe_dump(doc))
        if "train" in sections:
            found, raw["train"] = bench_train(args.quick)
            lines += found
        if "sweep" in sections:
            found, raw["sweep"] = bench_sweep(space, Path(tmp))
            lines += found
        if "report" in sections:
            if not (Path(tmp) / "sweep").is_dir():
                _sweep(space, Path(tmp), "--concurrency", "2", "--name", "sweep")
            found, raw["report"] = bench_report(Path(tmp) / "sweep", args.quick)
            lines += found
        if "analysis" in sections:
            found, raw["analysis"] = bench_analysis(Path(tmp), args.quick, names)
            lines += found
    print("\n".join(lines))
    print(json.dumps(raw, indent=1, default=float))
    return 0 if all(" FAIL" not in line for line in lines) else 1


def _union(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one interval."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        total += max(0.0, b - max(a, end))
        end = max(end, b)
    return total


if __name__ == "__main__":
    sys.exit(main())

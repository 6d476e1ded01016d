"""`sweep run SPACE` and `sweep report SWEEP`: a thin layer over both packages."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from mlp_sweep import api
from sweep import trackers
from sweep.backend import BACKENDS, DEFAULT_BACKEND
from sweep.errors import SweepError
from sweep.runner import RunOptions, check_data, run_sweep
from sweep.space import SCHEDULERS, SEARCHES, Distribution, Space
from sweep.storage import Storage, is_uri

if TYPE_CHECKING:  # analysis (pandas, matplotlib) loads only when a command reaches it
    from analysis.results import Sweep


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 0,1,2, got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"seeds must be integers >= 0, got {text!r}")
    return seeds


def _absolute(path: str) -> str:
    """A path that means the same in Ray's worker processes, which run in folders of their own."""
    return str(Path(path).absolute())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep", description="Sweep Keras MLPs on Ray Tune and report what their hidden layers learn.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a search space")
    run.add_argument("space", type=Path, help="YAML search space, e.g. search_spaces/study_a.yaml")
    run.add_argument("--dataset", help="override the space's dataset: a shipped one (mnist, fashion_mnist, "
                                        "mnist_small) or your own, a path (.npz, IDX folder, .csv, .parquet)")
    run.add_argument("--data-dir", type=_absolute, help="where a shipped data set's files are: a folder of IDX files "
                                                         "(.gz or raw) or an .npz file")
    run.add_argument("--results", type=api.place, default="results",
                     help="results root: a folder every node sees, or object storage like s3://bucket/prefix "
                          "(credentials from the environment) (default: results)")
    run.add_argument("--name", help="sweep name (default: the space file's stem)")
    run.add_argument("--concurrency", type=int, help="trials at once (default: as many as CPUs allow; with "
                                                     "--report on a Ray started here, half the cores)")
    run.add_argument("--cpus-per-trial", type=float, default=1.0)
    run.add_argument("--gpus-per-trial", type=float, default=0.0, help="may be fractional, e.g. 0.25")
    run.add_argument("--address", help="join an existing Ray cluster, e.g. 10.0.0.1:6379 or auto")
    run.add_argument("--max-epochs", type=int, help="override every trial's epoch cap")
    run.add_argument("--seeds", type=_seeds, help="override the space's seeds, e.g. 0,1,2")
    run.add_argument("--search", choices=SEARCHES, help="override the space's search")
    run.add_argument("--num-samples", type=int, help="override the space's num_samples (random, optuna)")
    run.add_argument("--scheduler", choices=SCHEDULERS, help="asha: stop weak trials early (next to EarlyStopping)")
    run.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND,
                     help=f"Keras backend (default: {DEFAULT_BACKEND})")
    run.add_argument("--resume", action="store_true",
                     help="continue an interrupted sweep from its saved state (the space file is not read again)")
    run.add_argument("--dry-run", action="store_true", help="print each trial as one JSON line; train nothing")
    run.add_argument("--mlflow", nargs="?", const=trackers.BESIDE, metavar="URI",
                     help="log each trial as an MLflow run under a parent run for the sweep (which gets the report): "
                          "a tracking URI like sqlite:///path/mlflow.db or http://host:5000; without one, "
                          "sqlite:///<results>/<name>/mlflow.db")
    run.add_argument("--report", action="store_true",
                     help="analyse each trial as soon as it completes, beside the trials still training, and keep "
                          "report/report.html up to date (as the space's analysis section plans it)")

    report = sub.add_parser("report", help="analyse a sweep into report/report.html, report.md and tables/")
    report.add_argument("sweep", type=api.place, help="a sweep folder, e.g. results/study_a, or its URI, "
                                                    "e.g. s3://bucket/prefix/study_a")
    plan = report.add_argument_group("overrides of the sweep's analysis plan, for this run",
                                     "default: the space file's analysis section, else the default plan")
    plan.add_argument("--top", type=int, help="the best N trials shown in full")
    plan.add_argument("--trials", default="", help="comma-separated trial ids or labels shown in full as well")
    plan.add_argument("--methods", default="", help="embedding methods drawn, e.g. pca,tsne,umap,trimap,pacmap")
    plan.add_argument("--subsample", type=int, help="training rows every embedding draws")
    plan.add_argument("--probe-rows", type=int, help="training rows the KNN-on-UMAP probe fits on")
    plan.add_argument("--nodes", default="", help="box-plot these nodes, e.g. hidden_1:3,hidden_2:0")
    report.add_argument("--image", type=int, default=0,
                        help="the test image whose class probabilities each trial shown in full draws (default 0)")
    report.add_argument("--address", help="run the layer jobs on an existing Ray cluster, e.g. 10.0.0.1:6379 or auto "
                                           "(default: a Ray started here)")
    report.add_argument("--follow", action="store_true",
                        help="keep up with a sweep still running elsewhere: analyse trials as they complete and "
                             "rewrite a partial report until the sweep ends")
    report.add_argument("--quiet", action="store_true", help="no progress on stderr")
    report.add_argument("--data-dir", type=_absolute, help="where the sweep's data set lives, if not in a known place")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The `sweep` command; its exit code: 0 done, 1 work failed, 2 bad input, 130 Ctrl-C, 141
    its output closed, 143 SIGTERM."""
    args = _parser().parse_args(argv)
    terminated = threading.Event()

    def terminate(signum: int, frame: object) -> None:
        """SIGTERM, as `timeout`, SLURM and Kubernetes send it, ends the command as Ctrl-C does."""
        terminated.set()
        raise KeyboardInterrupt

    handles = threading.current_thread() is threading.main_thread()  # only there can Python take a signal
    previous = signal.signal(signal.SIGTERM, terminate) if handles else None
    try:
        if args.command == "run":
            return _run(args)
        return _report(args)
    except SweepError as exc:
        print(f"sweep: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ray may raise its own in its place
        kept = "finished trials are kept, continue with --resume" if args.command == "run" \
            else "finished layer jobs are cached, the next report starts from them"
        print(f"sweep: {'terminated' if terminated.is_set() else 'interrupted'}; {kept}", file=sys.stderr)
        return 143 if terminated.is_set() else 130
    except BrokenPipeError:  # the reader went away (`sweep run SPACE --dry-run | head -1`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush at exit
        return 141
    finally:
        if handles:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    options = RunOptions(results=args.results, name=args.name, concurrency=args.concurrency,
                         cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
                         address=args.address, resume=args.resume, data_dir=args.data_dir, backend=args.backend,
                         mlflow=args.mlflow)
    space = api.space(args.space, search=args.search, num_samples=args.num_samples, scheduler=args.scheduler,
                      seeds=args.seeds, dataset=args.dataset, max_epochs=args.max_epochs)
    if args.dry_run:
        check_data(space, options.data_dir)  # as a run would, before anything starts
        if space.search == "optuna":
            shown_space = {k: _shown_param(v) for k, v in space.params.items()} | {"num_samples": space.num_samples}
            print(json.dumps(shown_space))
            return 0
        for config in space.trials():
            print(json.dumps(config.to_dict()))
        return 0
    if args.report:
        return _run_with_report(space, options)
    return _finish(run_sweep(space, options, log=_log), options.location(space))


def _finish(sweep_dir: Path, location: str) -> int:
    """Print the sweep's summary; 0 when every planned trial completed (or a scheduler stopped it), else 1."""
    from analysis.results import load_sweep

    sweep = load_sweep(sweep_dir)
    print(summary(sweep, location))
    return 1 if sweep.faults() else 0


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)  # stdout is for results


def _run_with_report(space: Space, options: RunOptions) -> int:
    from analysis.report import ReportOptions, run_with_report

    sweep_dir, report = run_with_report(space, options, ReportOptions(data_dir=options.data_dir), log=_log)
    code = _finish(sweep_dir, options.location(space))
    print(_publish(report.html, options.storage(space)))
    return 1 if report.failed else code


def _shown_param(value: object) -> object:
    return value.describe() if isinstance(value, Distribution) else value


def _report(args: argparse.Namespace) -> int:
    from analysis.progress import Progress
    from analysis.report import ReportOptions, build_report
    from analysis.results import load_sweep

    try:
        nodes = tuple((layer, int(node)) for layer, node in (item.split(":") for item in args.nodes.split(",") if item))
    except ValueError:
        raise SweepError(f"--nodes: expected layer:node pairs like hidden_1:3,hidden_2:0, got {args.nodes!r}") from None
    options = ReportOptions(top=args.top, trials=tuple(t for t in args.trials.split(",") if t),
                            methods=tuple(m for m in args.methods.split(",") if m), subsample=args.subsample,
                            probe_rows=args.probe_rows, nodes=nodes, image=args.image, address=args.address,
                            data_dir=args.data_dir)
    progress = Progress(quiet=args.quiet)
    folder, storage = api.opened(args.sweep, progress.say)  # on object storage, this machine's mirror
    follow = storage.following(folder.ended) if storage and args.follow else folder.ended if args.follow else None
    if follow:
        load_sweep(folder.path)  # a wrong folder is an error now, not an endless wait
    report = build_report(folder.path, options, progress=progress, follow=follow)
    print(_publish(report.html, storage))
    return 1 if report.failed else 0


def _publish(html: Path, storage: Storage | None) -> str:
    """On object storage, upload the report beside the sweep; where the report is, to print."""
    if storage is None:
        return shown(html)
    storage.push(storage.mirror.report)
    return f"{shown(html)}\n{storage.uri}/{html.relative_to(storage.mirror.path).as_posix()}"


def shown(path: Path) -> str:
    """`path` relative to the working directory when it lies below it."""
    try:
        return str(Path(path).absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def summary(sweep: Sweep, location: str | None = None) -> str:
    """The trials sorted by test accuracy, as a plain-text table, what did not complete, and where the results are."""
    from analysis.results import finished

    table = sweep.table()
    done = finished(table).sort_values("test_accuracy", ascending=False)
    best = done.assign(test_acc=100 * done.test_accuracy, n_params=done.n_params.astype(int))[
        ["label", "dataset", "architecture", "dropout", "seed", "test_acc", "epochs", "epoch_seconds", "n_params",
         "status"]]
    lines = [best.to_string(index=False, float_format=lambda v: f"{v:.2f}") if len(best) else "no completed trials"]
    for row in table.drop(done.index).itertuples():
        lines.append(f"not completed: {row.trial_id} ({row.status}{f': {row.error}' if row.error else ''})")
    if sweep.faults():
        lines.append(f"{sweep.faults()} of {sweep.planned} trials did not complete; each failed trial's traceback "
                     f"is in trials/<id>/error.txt")
    lines.append(f"results: {location if location and is_uri(location) else shown(sweep.files.path)}")
    return "\n".join(lines)

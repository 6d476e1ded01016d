"""One trial: train an MLP, report every epoch to Ray Tune, save what the analysis needs.

The trial's folder (`sweep.folder.TrialFolder`) holds, each written atomically:

- `params.json`      the trial's configuration, its id and Ray trial name
- `metrics.json`     test accuracy and loss, epochs, timings, status (`running` until the end)
- `history.csv`      one row per epoch: loss, accuracy, val_loss, val_accuracy, seconds (as it goes)
- `confusion.npz`    `train` and `test` confusion matrices (rows: true class)
- `model.keras`      the trained model
- `activations.npz`  per hidden layer `hidden_<i>_train` [rows, width] and `hidden_<i>_test`,
                     plus `y_*`, `pred_*` (predicted class), `proba_test` (class probabilities)
                     and `index_*` (rows of the data set)
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from sweep import data, reduce
from sweep.artifacts import atomic, write_npz
from sweep.backend import cache_compiles, configure
from sweep.config import TrialConfig, resolve
from sweep.errors import Deterministic, ParentFailed
from sweep.folder import COMPLETED, FAILED, RUNNING, SweepFolder, TrialFolder
from sweep.storage import Storage, is_uri

STEPS_PER_EXECUTION = 64  # batches per compiled call: at batch 32, per-step overhead dominates
PREDICT_BATCH = 131_072  # rows per inference call: all of MNIST's 70,000 in one


def train_trial(config: dict[str, Any], *, sweep: str, data_dir: str | None = None, backend: str = "jax") -> None:
    """Ray Tune function trainable; `config["trial"]` holds the trial's configuration as plain data
    (a grid's `TrialConfig.to_dict()`, or the values Optuna drew). `sweep` is the sweep's folder,
    shared by every node, or its URI on object storage (`sweep.storage`): there the trial writes
    its files to Ray Tune's working directory for it, and every report uploads them as a checkpoint.

    Idempotent: a trial whose last saved state is a completed run of the same configuration
    (a resumed sweep whose state missed its end) reports that run instead of training again.
    """
    started = time.time()
    from ray import tune

    context = tune.get_context()
    trial_id = context.get_trial_id()
    cpus = context.get_trial_resources().required_resources.get("CPU", 1)
    configure(backend, threads=int(cpus))
    storage = Storage(sweep) if is_uri(sweep) else None
    home = storage.mirror if storage else SweepFolder(Path(sweep))  # this node's reductions and compile cache
    if backend == "jax":
        cache_compiles(home.xla_cache)
    if storage:
        storage.pull(home.data)
    data.adopt(home.data)  # the user's own data sets, copied there by the driver
    cfg = resolve(config["trial"], f"trial {trial_id}")
    params = {**cfg.to_dict(), "trial_id": trial_id, "trial_name": context.get_trial_name()}
    if storage:
        folder = TrialFolder(Path.cwd() / trial_id)
        shutil.rmtree(folder.path, ignore_errors=True)  # a retry on this node starts clean
        # Its latest whole checkpoint, whether Tune's state knows it or not.
        last = storage.fetch_trial(trial_id) or folder
    else:
        folder = last = home.trial(trial_id)

    def report(metrics: dict[str, Any]) -> None:
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder.path) if storage else None)

    previous = last.read_metrics()
    if previous.get("status") == COMPLETED and last.read_params() == params:
        tune.report(previous)
        return
    folder.write_params(params)
    parent = config.get("parent")  # the trial this one starts from, once it has ended (`sweep.search.Lineage`)
    base = {**_described(cfg), "backend": backend, **_node(), "cpus": cpus, "trial_id": trial_id,
            "attempt": previous.get("attempt", 0) + 1, "trial_started": started,
            **({"started_from": parent["trial_id"]} if parent else {})}
    folder.write_metrics({**base, "status": RUNNING})
    try:
        start = _parent(cfg, parent, home, storage) if parent else None
        reduction = reduce.obtain(cfg, home.reductions, data_dir, jobs=max(1, int(cpus)), storage=storage)
        metrics = run(cfg, folder, reduction, data_dir, report=report, parent=start)
    except Deterministic as exc:  # record it, no point in retrying
        failed = {**base, "status": FAILED, "error": str(exc)}
        folder.write_error(f"{exc}\n")
        folder.write_metrics(failed)
        report({**failed, "val_accuracy": float("nan")})  # Tune requires its metric in every result
        return
    except Exception as exc:  # recorded, then re-raised so Ray retries it up to max_failures
        failed = {**base, "status": FAILED, "error": f"{type(exc).__name__}: {exc}"}
        folder.write_error(traceback.format_exc())
        folder.write_metrics(failed)
        if storage:  # the error reaches the storage only with a report
            report({**failed, "val_accuracy": float("nan")})
        raise
    completed = {**base, **metrics, "status": COMPLETED, "trial_ended": time.time(), "artifacts": folder.manifest()}
    folder.write_metrics(completed)
    report(completed)


def _parent(cfg: TrialConfig, parent: dict[str, Any], home: SweepFolder, storage: Storage | None) -> TrialFolder:
    """The folder of the completed trial this one starts from, fetched where the sweep is on object storage."""
    trial_id = parent["trial_id"]
    if not parent["completed"]:
        raise ParentFailed(f"it starts from {cfg.init_from} (trial {trial_id}), which failed or was stopped early")
    found = (storage.fetch_trial(trial_id) if storage else None) or home.trial(trial_id)
    if not found.model.is_file():
        raise ParentFailed(f"it starts from {cfg.init_from} (trial {trial_id}), whose model.keras is missing")
    return found


def run(cfg: TrialConfig, folder: TrialFolder, reduction: reduce.Reduction | None = None,
        data_dir: str | None = None, report=None, parent: TrialFolder | None = None) -> dict[str, Any]:
    """Train and evaluate one configuration, write its artifacts to `folder`, return its metrics.

    `reduction` is the fitted input reduction the configuration asks for (`reduce.obtain`).
    `report(metrics)` is called after every epoch (Ray Tune's `tune.report` inside a sweep).
    `parent`, a completed trial of the same layers, is where training starts (`continue_from`).
    """
    import keras

    from sweep import steps
    from sweep.history import EpochLog
    from sweep.model import build_mlp, compile_mlp, hidden_model

    keras.utils.set_random_seed(cfg.seed)
    ds = data.load(cfg.dataset, data_dir)
    n_train = len(ds.x_train)
    rows = cfg.split(n_train)
    x = data.features(cfg.dataset, data_dir)  # training rows, then test rows
    if reduction is not None:
        x = reduction.transform(x)
    x_fit, y_fit = data.take(x, rows.fit), ds.y_train[rows.fit]
    x_val, y_val = data.take(x, rows.validation), ds.y_train[rows.validation]

    model = build_mlp(cfg)
    compile_mlp(model, cfg, STEPS_PER_EXECUTION)
    if parent is not None:
        continue_from(model, parent.model, cfg.learning_rate)
    epochs = EpochLog(folder.history, report)
    callbacks = [epochs]
    if cfg.patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=cfg.patience,
                                                       restore_best_weights=cfg.restore_best))
    started, start = time.time(), time.perf_counter()
    # Validation in one batch: the same figures, one compiled step per epoch instead of hundreds.
    steps.fit(model, x_fit, y_fit, batch_size=cfg.batch_size, epochs=cfg.max_epochs, validation_data=(x_val, y_val),
              validation_batch_size=len(x_val), callbacks=callbacks, verbose=0)
    train_seconds = time.perf_counter() - start

    names = cfg.layer_names
    probe = hidden_model(model, names + ["output"])
    keep = _keep_rows(len(rows.fit), cfg.keep_train, cfg.seed)
    # Every row in one pass (one compiled shape, no copy); the validation rows' outputs are dropped.
    outputs = probe.predict(x, batch_size=min(len(x), PREDICT_BATCH), verbose=0)
    out_fit, out_test = [data.take(a, rows.fit) for a in outputs], [a[n_train:] for a in outputs]
    pred_fit, pred_test = out_fit[-1].argmax(1), out_test[-1].argmax(1)
    dtype = np.dtype(cfg.activation_dtype)
    arrays = {f"{n}_train": a[keep].astype(dtype) for n, a in zip(names, out_fit)}
    arrays |= {f"{n}_test": a.astype(dtype) for n, a in zip(names, out_test)}
    write_npz(folder.activations, **arrays, y_train=y_fit[keep], y_test=ds.y_test,
              pred_train=pred_fit[keep], pred_test=pred_test, proba_test=out_test[-1].astype(dtype),
              index_train=rows.fit[keep], index_test=np.arange(len(ds.y_test)))
    write_npz(folder.confusion, train=_confusion(y_fit, pred_fit, cfg.classes),
              test=_confusion(ds.y_test, pred_test, cfg.classes))
    with atomic(folder.model) as tmp:
        model.save(tmp)

    probs = np.clip(out_test[-1][np.arange(len(ds.y_test)), ds.y_test], 1e-7, 1.0)
    val_acc = epochs.column("val_accuracy")
    return {
        "test_accuracy": float((pred_test == ds.y_test).mean()),
        "test_loss": float(-np.log(probs).mean()),
        "train_accuracy": float((pred_fit == y_fit).mean()),
        "val_accuracy": val_acc[-1],
        "best_val_accuracy": max(val_acc),
        "epochs": len(val_acc),
        "best_epoch": int(np.argmax(val_acc)) + 1,
        "train_seconds": train_seconds,
        "train_started": started,  # Unix times, to split a sweep's time (bench/run.py)
        "train_ended": started + train_seconds,
        "epoch_seconds": train_seconds / len(val_acc),
        "n_params": model.count_params(),
    }


def _described(cfg: TrialConfig) -> dict[str, Any]:
    """The configuration fields every metrics.json carries, so tables need no other file."""
    return {"label": cfg.label, "dataset": cfg.dataset, "hidden": list(cfg.hidden), "dropout": cfg.dropout,
            "input_reduction": cfg.input_reduction,
            "optimizer": cfg.optimizer, "learning_rate": cfg.learning_rate, "batch_size": cfg.batch_size,
            "activation": cfg.activation, "seed": cfg.seed}


def _node() -> dict[str, str]:
    import ray

    return {"node": ray.get_runtime_context().get_node_id()[:12], "host": socket.gethostname(), "pid": os.getpid()}


def continue_from(model: Any, saved: Path, learning_rate: float) -> None:
    """Start `model` (compiled) from the weights of the model saved at `saved` and, where both have
    the same kind of optimizer, from its optimizer's state (steps, moments), as calling `fit` again
    on that model would; the learning rate stays `model`'s own."""
    import keras

    trained = keras.saving.load_model(saved)
    model.set_weights(trained.get_weights())
    theirs, mine = trained.optimizer, model.optimizer
    if type(theirs) is not type(mine) or not theirs.variables:
        return
    mine.build(model.trainable_variables)
    if len(mine.variables) == len(theirs.variables):
        for own, saved_value in zip(mine.variables, theirs.variables):
            own.assign(saved_value)
        mine.learning_rate = learning_rate


def _keep_rows(n: int, keep: int | None, seed: int) -> np.ndarray:
    if keep is None or keep >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, keep, replace=False))


def _confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    pairs = y_true.astype(np.int64) * classes + y_pred
    return np.bincount(pairs, minlength=classes * classes).reshape(classes, classes)

"""Comparison tables: one row per configuration, metrics as mean ± std over seeds."""

from __future__ import annotations

import pandas as pd

from analysis.layers import RAW
from analysis.results import CONFIG_COLUMNS, finished
from sweep.folder import SweepFolder
from sweep.logs import quiet

# The hyperparameters whose effect on accuracy is drawn and scored, as table columns.
HYPERPARAMETERS = ["depth", "bottleneck", "n_params", "dropout", "input_reduction", "optimizer", "learning_rate",
                   "batch_size", "activation"]


def configurations(trials: pd.DataFrame) -> pd.DataFrame:
    """Completed trials pooled by configuration, sorted by mean test accuracy (best first).

    Columns: the configuration, `n` (seeds), `<metric>_mean` and `<metric>_std` (sample std, 0
    for one seed) for test accuracy, epochs, training seconds, and the parameter count.
    """
    done = finished(trials)
    if done.empty:
        return pd.DataFrame(columns=CONFIG_COLUMNS + ["n"])
    metrics = {"test_accuracy": "test_accuracy", "best_val_accuracy": "best_val_accuracy",
               "epochs": "epochs", "train_seconds": "train_seconds"}
    grouped = done.groupby(CONFIG_COLUMNS, dropna=False, sort=False)
    table = grouped.agg(n=("seed", "size"), n_params=("n_params", "first"), depth=("depth", "first"),
                        bottleneck=("bottleneck", "first"),
                        **{f"{k}_mean": (v, "mean") for k, v in metrics.items()},
                        **{f"{k}_std": (v, "std") for k, v in metrics.items()}).reset_index()
    std_cols = [c for c in table if c.endswith("_std")]
    table[std_cols] = table[std_cols].fillna(0.0)
    return table.sort_values("test_accuracy_mean", ascending=False, ignore_index=True)


def last_width_series(trials: pd.DataFrame, least: int = 3) -> pd.DataFrame:
    """The completed trials of configurations that differ only in the width of their last hidden
    layer (784-128-1-10, 784-128-2-10, ...), in families where at least `least` widths were tried.

    Columns: family (the architecture with that width as `w`, and the data set or other settings
    where they tell two families apart), width, seed, test_accuracy.
    """
    done = finished(trials)
    columns = ["family", "width", "seed", "test_accuracy"]
    if done.empty:
        return pd.DataFrame(columns=columns)
    parts = done.architecture.str.split("-")
    done = done.assign(family=["-".join([*p[:-2], "w", p[-1]]) for p in parts], width=[int(p[-2]) for p in parts])
    settings = [c for c in CONFIG_COLUMNS if c not in ("label", "architecture", "input_reduction")]
    done = done[done.groupby(["family", *settings], dropna=False).width.transform("nunique") >= least]
    if done.empty:
        return pd.DataFrame(columns=columns)
    differ = varying(done, settings)
    done = done.assign(family=[" ".join([f, *(f"{c} {v}" for c, v in zip(differ, values))])
                               for f, *values in done[["family", *differ]].itertuples(index=False)])
    return done[columns].reset_index(drop=True)


def mean_std(mean: float, std: float, n: int, scale: float = 100.0, digits: int = 2) -> str:
    """`97.31 ± 0.12 (n=3)`; the spread is left out for a single seed."""
    if n < 2:
        return f"{scale * mean:.{digits}f} (n=1)"
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f} (n={n})"


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """The configuration table as text columns for Markdown and HTML."""
    out = table[[c for c in CONFIG_COLUMNS if c in ("dataset", "architecture") or c in varying(table, [c])]].copy()
    for column, name, scale, digits in (("test_accuracy", "test accuracy %", 100.0, 2),
                                        ("best_val_accuracy", "best val accuracy %", 100.0, 2),
                                        ("epochs", "epochs", 1.0, 1), ("train_seconds", "train s", 1.0, 1)):
        out[name] = [mean_std(m, s, n, scale, digits)
                     for m, s, n in zip(table[f"{column}_mean"], table[f"{column}_std"], table.n)]
    out["parameters"] = table.n_params.astype(int)
    return out


def varying(trials: pd.DataFrame, columns: list[str]) -> list[str]:
    """The `columns` whose value differs between the trials."""
    return [c for c in columns if c in trials and trials[c].nunique(dropna=False) > 1]


def probe_table(records: list[dict]) -> pd.DataFrame:
    """Rows: trials (and raw pixels per dataset); columns: `<layer> <probe>` accuracies, and
    `probed directly`: the layers too narrow to embed, whose umap-knn columns are KNN on the layer."""
    if not records:
        return pd.DataFrame()
    frame = pd.DataFrame(records)
    frame["order"] = frame.layer != RAW  # the raw input first, in rows and in columns
    frame = frame.sort_values(["dataset", "order", "layer"], kind="stable")
    wide = frame.pivot_table(index=["dataset", "source", "label"], columns=["layer", "probe"], values="accuracy",
                             aggfunc="first", sort=False)
    wide.columns = [f"{layer} {probe}" for layer, probe in wide.columns]
    wide = wide.reset_index()
    direct = frame[frame.on == "the layer itself"].groupby(["dataset", "source"], sort=False).layer.unique()
    wide["probed directly"] = [", ".join(direct.get((d, s), [])) for d, s in zip(wide.dataset, wide.source)]
    return wide


def importance(trials: pd.DataFrame, seed: int = 0) -> pd.Series:
    """How much each hyperparameter explains test accuracy: a random forest's impurity importances
    over the completed trials (one-hot for categories). Empty with fewer than 4 trials or no variation.
    Give it one data set's trials: accuracies of different data sets are not on one scale."""
    from sklearn.ensemble import RandomForestRegressor

    done = finished(trials)
    columns = varying(done, HYPERPARAMETERS)
    if len(done) < 4 or not columns:
        return pd.Series(dtype=float)
    features = pd.get_dummies(done[columns], dtype=float)
    forest = RandomForestRegressor(n_estimators=300, random_state=seed).fit(features, done.test_accuracy)
    scores = pd.Series(forest.feature_importances_, index=features.columns)
    # Fold one-hot columns back onto their hyperparameter.
    owner = {f: next(c for c in columns if f == c or f.startswith(f"{c}_")) for f in features.columns}
    return scores.groupby(owner).sum().sort_values(ascending=False)


def optuna_study(folder: SweepFolder) -> tuple[pd.DataFrame, pd.Series] | None:
    """An Optuna-guided sweep's history (trial number, value, best so far) and Optuna's parameter
    importances (fANOVA), read from its `optuna.db`; None for other sweeps."""
    if not folder.optuna_db.is_file():
        return None
    import optuna

    with quiet("optuna"):
        study = optuna.load_study(study_name=folder.name, storage=f"sqlite:///{folder.optuna_db}")
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        history = pd.DataFrame({"number": [t.number for t in done], "value": [t.value for t in done]})
        history["best"] = history.value.cummax()
        try:
            evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
            scores = optuna.importance.get_param_importances(study, evaluator=evaluator)
            importance = pd.Series({name.removeprefix("trial/"): v for name, v in scores.items()})
        except (RuntimeError, ValueError):  # too few finished trials, or nothing varied
            importance = pd.Series(dtype=float)
    return history, importance

"""Figures. Each `*_info` function computes plain records; each `plot_*` function only draws them
onto a new matplotlib Figure (Agg backend, nothing shown)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap, to_hex
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from analysis.embed import TITLES
from analysis.layers import RAW
from analysis.results import finished

TAB10 = [to_hex(c) for c in plt.get_cmap("tab10").colors]  # the class colours, for the browser too


def class_colours(classes: int) -> ListedColormap:
    """Class c's colour is TAB10[c] (cycling beyond ten classes), whatever the number of classes."""
    return ListedColormap([TAB10[c % len(TAB10)] for c in range(classes)])


def _by_class(labels: np.ndarray, classes: int) -> dict[str, Any]:
    """A scatter's colour arguments: each point in its class's colour."""
    return {"c": labels, "cmap": class_colours(classes), "vmin": -0.5, "vmax": classes - 0.5}


def _scatter_classes(ax: Any, coords: np.ndarray, labels: np.ndarray, classes: int) -> None:
    size = float(np.clip(3000 / max(len(coords), 1), 1.5, 16))  # a few hundred rows drawn larger than thousands
    ax.scatter(coords[:, 0], coords[:, 1], **_by_class(labels, classes), s=size, alpha=0.6, linewidths=0)
    ax.set_xticks([])
    ax.set_yticks([])


def _label(ax: Any, xlabel: str, ylabel: str, legend: dict[str, Any] | None = None) -> None:
    """Axis labels, a light grid and, given its options, a legend."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if legend is not None:
        ax.legend(**legend)
    ax.grid(alpha=0.3)


def _legend(fig: Figure, classes: list[str]) -> None:
    colours = class_colours(len(classes)).colors
    handles = [plt.Line2D([], [], marker="o", ls="", color=colours[i], label=c) for i, c in enumerate(classes)]
    fig.legend(handles=handles, loc="lower center", ncol=len(classes), fontsize=7, frameon=False)


# --- across the sweep --------------------------------------------------------------------------

def plot_accuracy_by_configuration(configs: pd.DataFrame) -> Figure:
    """Horizontal bars of mean test accuracy with ± std error bars, best at the top."""
    names = [f"{lab} {a}".strip() if lab else a for lab, a in zip(configs.label.fillna(""), configs.architecture)]
    names = [f"{n} ({d})" if configs.dataset.nunique() > 1 else n for n, d in zip(names, configs.dataset)]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(configs) + 1.2))
    y = np.arange(len(configs))[::-1]
    ax.barh(y, 100 * configs.test_accuracy_mean, xerr=100 * configs.test_accuracy_std, color="#4c72b0", capsize=3)
    ax.set_yticks(y, names, fontsize=8)
    low = 100 * (configs.test_accuracy_mean - configs.test_accuracy_std).min()
    ax.set_xlim(max(0.0, low - 2), 100)
    ax.set_xlabel("test accuracy % (mean ± std over seeds)")
    fig.tight_layout()
    return fig


def plot_accuracy_vs(configs: pd.DataFrame, column: str, log: bool = False) -> Figure:
    """Mean test accuracy against a numeric column (parameters, bottleneck width), ± std."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for dataset, group in configs.groupby("dataset"):
        ax.errorbar(group[column], 100 * group.test_accuracy_mean, yerr=100 * group.test_accuracy_std,
                    fmt="o", capsize=3, label=dataset)
    if log:
        ax.set_xscale("log")
    _label(ax, column.replace("_", " "), "test accuracy %", {"fontsize": 8})
    fig.tight_layout()
    return fig


def plot_accuracy_vs_width(series: pd.DataFrame) -> Figure:
    """Per family of configurations (`tables.last_width_series`): mean test accuracy against the
    width of the last hidden layer as a line, ± std over seeds as a band, each seed as a dot."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for colour, (family, group) in zip(TAB10 * 3, series.groupby("family", sort=False)):
        stats = group.groupby("width").test_accuracy.agg(["mean", "std"]).fillna(0.0)
        ax.plot(stats.index, 100 * stats["mean"], marker="o", color=colour, label=family)
        ax.fill_between(stats.index, 100 * (stats["mean"] - stats["std"]), 100 * (stats["mean"] + stats["std"]),
                        color=colour, alpha=0.2, linewidth=0)
        ax.scatter(group.width, 100 * group.test_accuracy, s=10, color=colour, alpha=0.6, linewidths=0)
    ax.set_xscale("log", base=2)
    widths = sorted(series.width.unique())
    ax.set_xticks(widths, [str(w) for w in widths])
    ax.minorticks_off()
    _label(ax, "width of the last hidden layer (units)", "test accuracy %",
           {"fontsize": 8, "title": "w: the width varied", "title_fontsize": 8})
    fig.tight_layout()
    return fig


def parallel_info(trials: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, dict[str, list[tuple[float, str]]]]:
    """Each hyperparameter, and test accuracy as the last axis, scaled to [0, 1] (categories by
    rank); and per axis the (position, text) of the values to label it with."""
    done = finished(trials)
    scaled, ticks = pd.DataFrame(index=done.index), {}
    for col in [*columns, "test_accuracy"]:
        values = done[col]
        if pd.api.types.is_numeric_dtype(values):
            low, high = values.min(), values.max()
            marks = [(low, _number(low)), (high, _number(high))] if high > low else [(low, _number(low))]
        else:
            names = sorted(values.astype(str).unique())
            values = values.astype(str).map({v: i for i, v in enumerate(names)})
            low, high = 0, len(names) - 1
            marks = list(enumerate(names))
        span = high - low
        scaled[col] = (values - low) / span if span else 0.5
        ticks[col] = [((v - low) / span if span else 0.5, text) for v, text in marks]
    return scaled, ticks


def _number(value: float) -> str:
    return f"{value:.4g}"


def plot_parallel(info: pd.DataFrame, ticks: dict[str, list[tuple[float, str]]]) -> Figure:
    """One line per trial across the hyperparameter axes and test accuracy, coloured by test
    accuracy; the colour scale starts at the lower whisker (Q1 - 1.5 IQR), so one failed trial
    does not flatten the rest into one colour."""
    axes = list(info)
    fig, ax = plt.subplots(figsize=(max(6, 1.5 * len(axes)), 4.2))
    acc = info.test_accuracy
    low = accuracy_floor(acc)
    norm = plt.Normalize(low, max(acc.max(), low + 1e-9), clip=True)
    cmap = plt.get_cmap("viridis")
    for i in acc.sort_values().index:  # the best drawn last, on top
        ax.plot(range(len(axes)), info.loc[i].to_numpy(float), color=cmap(norm(acc[i])), alpha=0.7)
    for x, col in enumerate(axes):
        ax.axvline(x, color="#999", lw=0.8)
        for y, text in ticks[col]:
            ax.text(x + 0.03, y, text, fontsize=6, va="center", ha="left", color="#333")
    ax.set_xticks(range(len(axes)), [a.replace("_", " ") for a in axes], fontsize=8)
    ax.set_xlim(-0.2, len(axes) - 0.5)
    ax.set_ylim(-0.08, 1.08)
    ax.set_yticks([])
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="test accuracy",
                 extend="min" if low > acc.min() else "neither")
    fig.tight_layout()
    return fig


def accuracy_floor(accuracy: pd.Series) -> float:
    """Where a colour scale of accuracies starts: the lower whisker (Q1 - 1.5 IQR), or the lowest."""
    q1, q3 = accuracy.quantile([0.25, 0.75])
    return float(max(accuracy.min(), q1 - 1.5 * (q3 - q1)))


def plot_importance(scores: pd.Series, xlabel: str) -> Figure:
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(scores) + 1.2))
    ax.barh(scores.index[::-1], scores.to_numpy()[::-1], color="#55a868")
    ax.set_xlabel(xlabel)
    fig.tight_layout()
    return fig


def plot_probes_by_layer(records: list[dict], probe: str, names: dict[str, str]) -> Figure:
    """Accuracy of one probe against layer depth (raw = 0), one line per trial named by `names`
    (trial id -> label and architecture), one panel per data set."""
    frame = pd.DataFrame([r for r in records if r["probe"] == probe])
    datasets = list(dict.fromkeys(frame.dataset))
    fig, axes = plt.subplots(1, len(datasets), figsize=(6.5 * len(datasets), 4.4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        rows = frame[frame.dataset == dataset]
        raw = rows[rows.layer == RAW]
        for source, group in rows[rows.layer != RAW].groupby("source", sort=False):
            points = pd.concat([raw, group])
            depth = [0 if layer == RAW else int(layer.split("_")[1]) for layer in points.layer]
            ax.plot(depth, 100 * points.accuracy, marker="o", label=names.get(source, source), alpha=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(dataset, fontsize=9)
        _label(ax, "layer (0 = raw input)", f"{probe} accuracy %", {"fontsize": 6, "ncol": 2})
    fig.tight_layout()
    return fig


def plot_optimization_history(history: pd.DataFrame) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.scatter(history.number, 100 * history.value, s=12, label="trial")
    ax.step(history.number, 100 * history.best, where="post", color="C3", label="best so far")
    _label(ax, "trial number", "validation accuracy %", {"fontsize": 8})
    fig.tight_layout()
    return fig


# --- one trial ---------------------------------------------------------------------------------

def plot_learning_curves(history: pd.DataFrame) -> Figure:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.plot(history.epoch, history[metric], marker=".", label="train")
        ax.plot(history.epoch, history[f"val_{metric}"], marker=".", label="validation")
        _label(ax, "epoch", metric, {"fontsize": 8})
    fig.tight_layout()
    return fig


def plot_confusions(confusion: dict[str, np.ndarray], classes: list[str]) -> Figure:
    """Train and test confusion matrices, raw counts and row-normalised."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 9))
    for row, split in enumerate(("train", "test")):
        counts = confusion[split]
        normed = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        for col, (matrix, fmt, title) in enumerate(((counts, "d", "counts"), (normed, ".2f", "row-normalised"))):
            ax = axes[row, col]
            ax.imshow(normed, cmap="Blues", vmin=0, vmax=1)
            for (i, j), v in np.ndenumerate(matrix):
                ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=5,
                        color="white" if normed[i, j] > 0.5 else "black")
            ax.set_title(f"{split}: {title}", fontsize=9)
            ax.set_xticks(range(len(classes)), classes, fontsize=6, rotation=90)
            ax.set_yticks(range(len(classes)), classes, fontsize=6)
            ax.set_xlabel("predicted", fontsize=8)
            ax.set_ylabel("true", fontsize=8)
    fig.tight_layout()
    return fig


def plot_cka(matrices: dict[str, np.ndarray], names: list[str]) -> Figure:
    """One heat map per CKA estimator (title -> square matrix over `names`), values written in where they fit."""
    side = max(4.2, 0.3 * len(names) + 2.5)
    fig, axes = plt.subplots(1, len(matrices), figsize=(side * len(matrices), side - 0.3), squeeze=False)
    for ax, (title, matrix) in zip(axes[0], matrices.items()):
        image = ax.imshow(matrix, cmap="viridis", vmin=0, vmax=1)
        for (i, j), v in np.ndenumerate(matrix if len(names) <= 16 else np.empty((0, 0))):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="black" if v > 0.6 else "white")
        ax.set_title(title, fontsize=9)
        ax.set_xticks(range(len(names)), names, fontsize=7, rotation=45, ha="right")
        ax.set_yticks(range(len(names)), names, fontsize=7)
        fig.colorbar(image, ax=ax, shrink=0.7)
    fig.tight_layout()
    return fig


def plot_probabilities(picture: np.ndarray | None, proba: np.ndarray, true: int, classes: list[str],
                       row: int) -> Figure:
    """One test row's picture (where the data are images) and the probability the trial gives each
    class; the true class in green, a wrong prediction in red."""
    if picture is None:
        fig, right = plt.subplots(figsize=(5.6, 2.6))
    else:
        fig, (left, right) = plt.subplots(1, 2, figsize=(7.5, 2.6), width_ratios=[1, 3])
        left.imshow(picture, cmap="gray_r")
        left.set_title(f"test image {row}: {classes[true]}", fontsize=8)
        left.axis("off")
    predicted = int(np.argmax(proba))
    colours = ["#2ca02c" if c == true else "#d62728" if c == predicted else "#4c72b0" for c in range(len(classes))]
    right.bar(range(len(classes)), proba, color=colours)
    right.set_xticks(range(len(classes)), classes, fontsize=7, rotation=45 if max(map(len, classes)) > 2 else 0)
    right.set_ylim(0, 1)
    right.set_ylabel("probability", fontsize=8)
    right.set_title(f"{'' if picture is not None else f'test row {row} ({classes[true]}): '}predicted "
                    f"{classes[predicted]} ({proba[predicted]:.3f})", fontsize=8)
    right.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def plot_pca_3d(points: dict[str, tuple[np.ndarray, np.ndarray]], labels: np.ndarray, classes: list[str]) -> Figure:
    """Each representation's first three principal components (name -> (coords [n, 3], variance
    ratios)) as a 3-D scatter coloured by class."""
    fig = plt.figure(figsize=(3.6 * len(points), 3.9))
    for k, (name, (coords, ratio)) in enumerate(points.items()):
        ax = fig.add_subplot(1, len(points), k + 1, projection="3d")
        ax.scatter(coords[:, 0], coords[:, 1], coords[:, 2], **_by_class(labels, len(classes)),
                   s=1.5, alpha=0.6, linewidths=0)
        ax.set_title(f"{name}\nvariance {', '.join(f'{r:.2f}' for r in ratio)}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_zticks([])
    _legend(fig, classes)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_pixel_pair(values: np.ndarray, labels: np.ndarray, classes: list[str], names: list[str],
                    seed: int = 0) -> Figure:
    """Two pixels' values [n, 2] against each other, coloured by class, jittered by up to 4 grey
    levels so that the many equal values (most often 0) do not hide each other."""
    jitter = np.random.default_rng(seed).uniform(-4, 4, values.shape)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.scatter(*(values + jitter).T, **_by_class(labels, len(classes)), s=4, alpha=0.5,
               linewidths=0)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    _legend(fig, classes)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_image_grid(images: np.ndarray, true: np.ndarray, pred: np.ndarray, classes: list[str]) -> Figure:
    """A 5x5 grid of test images titled predicted/true; wrong predictions in red."""
    fig, axes = plt.subplots(5, 5, figsize=(6, 6.6))
    for ax, image, t, p in zip(axes.flat, images, true, pred):
        ax.imshow(image, cmap="gray_r")
        ax.set_title(f"{classes[p]} / {classes[t]}", fontsize=7, color="black" if p == t else "red")
        ax.axis("off")
    fig.suptitle("predicted / true", fontsize=9)
    fig.tight_layout()
    return fig


def discriminative_nodes(layers: dict[str, np.ndarray], pred: np.ndarray, per_layer: int = 2,
                         chosen: dict[str, list[int]] | None = None) -> list[tuple[str, int, float]]:
    """The nodes whose activations best separate the predicted classes (largest ANOVA F),
    or the `chosen` ones: (layer, node, F) records."""
    records = []
    for name, acts in layers.items():
        f = _anova_f(acts, pred)
        nodes = (chosen or {}).get(name) or list(np.argsort(f)[::-1][:per_layer])
        records += [(name, int(n), float(f[n])) for n in nodes]
    return records


def pixel_pair(pixels: np.ndarray, labels: np.ndarray) -> list[int]:
    """The pixel that best separates the classes (largest ANOVA F), and the best beside it: the
    largest F discounted by the squared correlation with the first (not its neighbour, which says the same)."""
    f = _anova_f(pixels, labels)
    first = int(np.argmax(f))
    centred = pixels - pixels.mean(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.nan_to_num(centred.T @ centred[:, first] / np.sqrt((centred**2).sum(0) * (centred[:, first] ** 2).sum()))
    return [first, int(np.argmax(f * (1 - r**2)))]


def _anova_f(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each column's ANOVA F statistic between the classes; 0 for constant (dead) columns."""
    from sklearn.feature_selection import f_classif

    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.nan_to_num(f_classif(x.astype(np.float32), labels)[0])


def plot_node_boxes(nodes: list[tuple[str, int, float, np.ndarray]], groups: np.ndarray, classes: list[str],
                    by: str) -> Figure:
    """One box plot per (layer, node, ANOVA F, activations): the node's activation grouped by `groups`."""
    fig, axes = plt.subplots(1, len(nodes), figsize=(4 * len(nodes), 3.2), squeeze=False)
    for ax, (layer, node, f, values) in zip(axes[0], nodes):
        ax.boxplot([values[groups == c] for c in range(len(classes))], showfliers=False)
        ax.set_xticks(range(1, len(classes) + 1), classes, fontsize=6, rotation=90)
        ax.set_title(f"{layer} node {node} (F={f:.0f})", fontsize=8)
        ax.set_xlabel(by, fontsize=7)
    fig.tight_layout()
    return fig


def picture_shape(width: int) -> tuple[int, int]:
    """The most square rows x cols that hold `width` nodes (256 -> 16x16, 64 -> 8x8, 128 -> 8x16)."""
    rows = max(r for r in range(1, int(math.isqrt(width)) + 1) if width % r == 0)
    return rows, width // rows


def class_pictures_info(layers: dict[str, np.ndarray], labels: np.ndarray,
                        classes: int) -> dict[str, dict[str, np.ndarray]]:
    """Per layer: one example's activations per class, and the sum over every example of the class."""
    info = {}
    for name, acts in layers.items():
        first = np.array([np.flatnonzero(labels == c)[0] for c in range(classes)])
        info[name] = {"single": acts[first].astype(np.float32),
                      "summed": np.stack([acts[labels == c].astype(np.float32).sum(0) for c in range(classes)])}
    return info


def plot_class_pictures(info: dict[str, dict[str, np.ndarray]], classes: list[str], counts: np.ndarray) -> Figure:
    """Rows: per layer, one example and the sum over the class; columns: classes (titled with how
    many examples each sum covers)."""
    rows = [(name, kind) for name in info for kind in ("single", "summed")]
    fig, axes = plt.subplots(len(rows), len(classes), figsize=(1.2 * len(classes), 1.45 * len(rows) + 0.4),
                             squeeze=False)
    for r, (name, kind) in enumerate(rows):
        pictures = info[name][kind]
        shape = picture_shape(pictures.shape[1])
        for c in range(len(classes)):
            ax = axes[r, c]
            ax.imshow(pictures[c].reshape(shape), cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"{classes[c]}\n(sum of {counts[c]})", fontsize=7)
        axes[r, 0].set_ylabel(f"{name}\n{'one example' if kind == 'single' else 'sum over class'}", fontsize=7)
    fig.tight_layout()
    return fig


SETTLING_FRAMES = (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)  # the frames drawn of the running sums
SETTLED = 0.01  # a frame has settled once no later one moves by this share of the picture's range


def running_sums(layers: dict[str, np.ndarray], labels: np.ndarray, label: int,
                 n: int = SETTLING_FRAMES[-1]) -> dict[str, np.ndarray]:
    """Per layer, one class's activation picture summed over its first 1, 2, ... `n` training
    examples: [n, width]."""
    rows = np.flatnonzero(labels == label)[:n]
    return {name: np.cumsum(acts[rows].astype(np.float64), axis=0) for name, acts in layers.items()}


def frame_moves(sums: np.ndarray) -> np.ndarray:
    """How far each frame moved from the one before, as the mean absolute change of the picture
    scaled to its own maximum (as it is drawn), for frames 2, 3, ... ."""
    scaled = sums / np.maximum(np.abs(sums).max(1, keepdims=True), 1e-12)
    return np.abs(np.diff(scaled, axis=0)).mean(1)


def settled_at(moves: np.ndarray) -> int:
    """The frame (number of examples) after which no frame moves by `SETTLED` or more."""
    above = np.flatnonzero(moves >= SETTLED)
    return int(above[-1]) + 2 if len(above) else 1


def plot_settling(sums: dict[str, np.ndarray], label: str) -> Figure:
    """Per layer, a row of the running sums' pictures at `SETTLING_FRAMES` examples; below, how far
    each frame moved from the last, with the frame where each layer settles."""
    frames = [f for f in SETTLING_FRAMES if f <= min(len(s) for s in sums.values())]
    fig = plt.figure(figsize=(1.0 * len(frames) + 0.6, 1.2 * len(sums) + 2.6))
    grid = fig.add_gridspec(len(sums) + 1, len(frames), height_ratios=[1] * len(sums) + [2.2])
    line = fig.add_subplot(grid[-1, :])
    for r, (name, layer) in enumerate(sums.items()):
        shape = picture_shape(layer.shape[1])
        for c, n in enumerate(frames):
            ax = fig.add_subplot(grid[r, c])
            ax.imshow(layer[n - 1].reshape(shape), cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"n = {n}", fontsize=7)
            if c == 0:
                ax.set_ylabel(name, fontsize=7)
        moves = frame_moves(layer)
        line.plot(np.arange(2, len(layer) + 1), moves, label=f"{name}: settles at n = {settled_at(moves)}")
    line.axhline(SETTLED, color="grey", linestyle=":", linewidth=1)
    line.set_yscale("log")
    _label(line, "examples summed (n)", "change from the frame before", {"fontsize": 7})
    fig.suptitle(f"Class {label}: activations summed over its first n training examples", fontsize=9)
    fig.tight_layout()
    return fig


def plot_embeddings(grid: dict[str, dict[str, np.ndarray]], labels: dict[str, np.ndarray],
                    notes: dict[str, str], classes: list[str], methods: list[str]) -> Figure:
    """Rows: raw pixels and each hidden layer; columns: methods; points coloured by class. A panel
    whose embedding is not computed yet (a report still growing) says so."""
    layers = list(grid)
    fig, axes = plt.subplots(len(layers), len(methods), figsize=(2.6 * len(methods), 2.6 * len(layers) + 0.5),
                             squeeze=False)
    for r, layer in enumerate(layers):
        for c, method in enumerate(methods):
            ax = axes[r, c]
            if method not in grid[layer]:
                ax.set_axis_off()
                ax.set_title(f"{layer}: {TITLES[method]}\n(not computed yet)", fontsize=7)
                continue
            _scatter_classes(ax, grid[layer][method], labels[f"{layer}/{method}"], len(classes))
            ax.set_title(f"{layer}: {TITLES[method]}\n{notes.get(f'{layer}/{method}', '')}".strip(), fontsize=7)
    _legend(fig, classes)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def plot_pixel_importance(scores: np.ndarray, kept: np.ndarray, picture: np.ndarray) -> Figure:
    """A random forest's pixel importances as a map of the image (summed over channels), and its
    kept pixels on one picture [H, W]."""
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
    image = axes[0].imshow(scores.reshape(*picture.shape, -1).sum(-1), cmap="hot")
    fig.colorbar(image, ax=axes[0], fraction=0.046)
    axes[0].set_title("pixel importance", fontsize=9)
    axes[1].imshow(picture, cmap="gray_r")
    rows, cols = np.unravel_index(kept // (scores.size // picture.size), picture.shape)
    axes[1].scatter(cols, rows, s=12, facecolors="none", edgecolors="red")
    axes[1].set_title(f"top {len(kept)} pixels", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_feature_importance(scores: np.ndarray, kept: np.ndarray) -> Figure:
    """A random forest's importance of every feature, the kept ones in red."""
    fig, ax = plt.subplots(figsize=(min(12, 3 + 0.25 * len(scores)), 3.2))
    colours = np.where(np.isin(np.arange(len(scores)), kept), "#d62728", "#4c72b0")
    ax.bar(np.arange(len(scores)), scores, color=colours)
    _label(ax, "feature", "importance")
    fig.tight_layout()
    return fig


def plot_explained_variance(ratio: np.ndarray) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(np.arange(1, len(ratio) + 1), np.cumsum(ratio), marker=".")
    _label(ax, "components", "cumulative explained variance")
    fig.tight_layout()
    return fig

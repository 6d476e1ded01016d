"""Figures say what the data shows: per data set, named, labelled, and not flattened by one outlier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import to_hex, to_rgb

from analysis import plots
from analysis.layers import RAW, RAW_PIXELS
from analysis.page import Page


def _trials(accuracies: list[float], dropouts: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"status": "completed", "test_accuracy": accuracies, "dropout": dropouts})


def test_parallel_coordinates_with_one_varying_column_draws_every_trial_with_values() -> None:
    accuracy = [0.97, 0.975, 0.98, 0.985, 0.40]  # one failed trial among good ones
    info, ticks = plots.parallel_info(_trials(accuracy, [0.0, 0.1, 0.2, 0.3, 0.5]), ["dropout"])
    assert list(info) == ["dropout", "test_accuracy"]  # accuracy is an axis too: never a single axis
    ax = plots.plot_parallel(info, ticks).axes[0]
    trial_lines = ax.lines[:len(accuracy)]  # drawn worst first; the axes' own lines follow
    assert len(ax.lines) == len(accuracy) + len(info.columns)
    assert {"0", "0.5", "0.4", "0.985"} <= {t.get_text() for t in ax.texts}  # each axis carries its range
    worst_good, best = np.array(trial_lines[1].get_color()), np.array(trial_lines[-1].get_color())
    assert np.abs(worst_good - best).max() > 0.3  # the outlier does not flatten the good ones into one colour


def test_probes_by_layer_has_a_panel_per_data_set_named_trials_and_whole_layers() -> None:
    records = [{"dataset": d, "source": s, "layer": layer, "probe": "umap-knn5", "accuracy": a}
               for d in ("mnist", "fashion_mnist")
               for s, layer, a in ((RAW_PIXELS, RAW, 0.9), ("t1", "hidden_1", 0.95), ("t1", "hidden_2", 0.96))]
    fig = plots.plot_probes_by_layer(records, "umap-knn5", {"t1": "plain 784-128-10"})
    assert [ax.get_title() for ax in fig.axes] == ["mnist", "fashion_mnist"]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["plain 784-128-10"]
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in ax.get_xticks())


def test_class_pictures_say_how_many_examples_each_sum_covers() -> None:
    labels = np.repeat(np.arange(10), np.arange(1, 11))
    layers = {"hidden_1": np.ones((len(labels), 4), np.float32)}
    fig = plots.plot_class_pictures(plots.class_pictures_info(layers, labels, 10), [str(c) for c in range(10)],
                                    np.bincount(labels))
    assert [ax.get_title() for ax in fig.axes[:10]] == [f"{c}\n(sum of {c + 1})" for c in range(10)]


def test_markdown_escapes_what_a_space_file_says(tmp_path: Path) -> None:
    page = Page("Sweep report: a_b", tmp_path)
    page.section("overview", "Overview")
    page.text("<script>x</script> | *bold* [link](http://x)")
    page.table(pd.DataFrame({"label": ["a|b", "<i>"]}))
    page.write()
    markdown = (tmp_path / "report.md").read_text()
    assert "&lt;script&gt;" in markdown and "\\| \\*bold\\* \\[link\\]" in markdown
    assert "| a\\|b |" in markdown and "| &lt;i&gt; |" in markdown and "# Sweep report: a\\_b" in markdown


def test_the_second_pixel_of_a_pair_is_not_a_copy_of_the_first() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 600)
    signal = labels[:, None] * 50.0 + rng.normal(0, 10, (600, 1))
    other = (labels == 1) * 60.0 + rng.normal(0, 10, 600)  # separates class 1 only: weaker, but new
    pixels = np.column_stack([signal, signal + rng.normal(0, 1, (600, 1)), other, rng.normal(0, 1, (600, 3))])
    first, second = plots.pixel_pair(pixels, labels)
    assert first in (0, 1) and second == 2


def test_accuracy_against_width_draws_a_line_and_band_per_family() -> None:
    series = pd.DataFrame({"family": ["784-128-w-10"] * 6, "width": [1, 1, 2, 2, 5, 5], "seed": [0, 1] * 3,
                           "test_accuracy": [0.5, 0.6, 0.9, 0.92, 0.96, 0.97]})
    ax = plots.plot_accuracy_vs_width(series).axes[0]
    assert list(ax.lines[0].get_xdata()) == [1, 2, 5] and np.allclose(ax.lines[0].get_ydata(), [55, 91, 96.5])
    assert len(ax.collections) == 2  # the band over seeds and the seeds' dots
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["784-128-w-10"]


def test_probabilities_mark_the_true_and_the_wrong_predicted_class() -> None:
    proba = np.array([0.1, 0.7, 0.2])
    bars = plots.plot_probabilities(np.zeros((28, 28)), proba, 2, ["a", "b", "c"], 7).axes[1].patches
    assert [round(b.get_height(), 2) for b in bars] == [0.1, 0.7, 0.2]
    assert [to_hex(b.get_facecolor()) for b in bars] == ["#4c72b0", "#d62728", "#2ca02c"]  # other, wrong, true


def test_running_sums_settle_where_later_examples_stop_changing_the_picture() -> None:
    """A layer whose examples agree settles at once; one whose examples differ settles later."""
    rng = np.random.default_rng(0)
    labels = np.tile([0, 1], 150)
    steady = np.tile(rng.random(16), (300, 1))
    noisy = rng.random((300, 64))
    sums = plots.running_sums({"steady": steady, "noisy": noisy}, labels, label=1)
    assert sums["noisy"].shape == (100, 64)
    assert np.allclose(sums["noisy"][-1], noisy[labels == 1][:100].sum(0))
    moves = {name: plots.frame_moves(s) for name, s in sums.items()}
    assert plots.settled_at(moves["steady"]) == 1
    assert 10 < plots.settled_at(moves["noisy"]) <= 100
    assert np.all(moves["noisy"][-5:] < plots.SETTLED) and moves["noisy"][0] > plots.SETTLED
    fig = plots.plot_settling(sums, "one")
    assert len(fig.axes) == 2 * len(plots.SETTLING_FRAMES) + 1
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][0].startswith("steady: settles at n = 1")


def test_each_class_keeps_its_colour_whatever_the_number_of_classes() -> None:
    for classes in (3, 10, 12):
        fig = plots.plot_embeddings({"raw": {"pca": np.zeros((classes, 2))}}, {"raw/pca": np.arange(classes)}, {},
                                    [str(c) for c in range(classes)], ["pca"])
        fig.canvas.draw()  # colours are mapped when drawn
        drawn = fig.axes[0].collections[0].get_facecolors()[:, :3]
        expected = [to_rgb(plots.TAB10[c % 10]) for c in range(classes)]
        assert np.allclose(drawn, expected), classes

"""What the page draws besides the layer jobs' results, computed once per trial or data set and kept
for every later rewrite of the page: a trial's PCA to 3 components, its box-plot nodes, its class
pictures and layer similarity; a data set's pixel pair; the study's numbers beside ours. Drawing
(`analysis.report`) reads these and computes nothing itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import plots, reference, similarity
from analysis.embed import Cache, pca, stratified
from analysis.layers import load_rows
from analysis.plan import Plan
from analysis.results import Sweep, Trial
from sweep import data

DRAWN_ROWS = 2_000  # stratified rows in the 3-D PCA and the two-pixel scatter
SETTLING_CLASS = 0  # the class whose running sums show when each layer's picture settles


@dataclass(frozen=True)
class Rows:
    """Rows a trial's figures draw (of the plan's train or test rows), with their classes."""

    which: str  # train | test
    positions: np.ndarray  # in the trial's rows of that kind
    index: np.ndarray  # the data set's row of each
    true: np.ndarray
    pred: np.ndarray

    def by(self, colour: str) -> np.ndarray:
        """Each row's true or predicted class."""
        return self.pred if colour == "predicted" else self.true


@dataclass(frozen=True)
class TrialFigures:
    """A trial's section, computed."""

    similarity: similarity.Similarity
    drawn: Rows  # the stratified rows of the 3-D PCA
    pca: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (coords [n, 3], variance ratios)
    nodes: list[tuple[str, int, float, np.ndarray]]  # (layer, node, ANOVA F, its value on every row)
    groups: np.ndarray  # the class of every row of the box plots
    pictures: dict[str, dict[str, np.ndarray]]  # per layer: one example and the sum per class (test rows)
    counts: np.ndarray  # test rows per class
    settling: dict[str, np.ndarray]  # per layer: class SETTLING_CLASS summed over its first 1..100 training rows


class Computed:
    """Per-trial and per-data-set results of one report run, each computed on first use."""

    def __init__(self, plan: Plan, data_dir: str | None, seed: int, cache: Path) -> None:
        self.plan, self.data_dir, self.seed, self.cache = plan, data_dir, seed, cache
        self._trials: dict[tuple[str, object], TrialFigures] = {}
        self._pixels: dict[tuple[str, str | None], PixelPair] = {}

    def dataset(self, name: str) -> data.Dataset:
        return data.load(name, self.data_dir)

    def rows(self, trial: Trial, n: int | None = None) -> Rows:
        """The plan's rows of `trial` (about `n` of them, stratified; None: all)."""
        which = self.plan.rows
        with trial.activations() as acts:
            true, pred, index = acts[f"y_{which}"], acts[f"pred_{which}"], acts[f"index_{which}"]
        positions = stratified(true, n or len(true), self.seed)
        return Rows(which, positions, index[positions], true[positions], pred[positions])

    def trial(self, trial: Trial) -> TrialFigures:
        key = (trial.trial_id, trial.metrics.get("trial_ended"))
        if key not in self._trials:
            self._trials[key] = self._trial(trial)
        return self._trials[key]

    def against(self, sweep: Sweep, study: reference.Reference, records: list[dict]) -> pd.DataFrame:
        """Every number the study printed beside ours (`reference.compare`)."""
        return reference.compare(sweep, study, records, self.variance)

    def variance(self, trial: Trial, layer: str, k: int) -> np.ndarray:
        """The first `k` explained variance ratios of a layer's training rows (raw: their pixels), kept on disk."""
        from sklearn.decomposition import PCA

        def fit() -> dict[str, np.ndarray]:
            train = load_rows(str(trial.files.path), layer, trial.config.dataset, self.data_dir)[0]
            return {"ratio": PCA(k, svd_solver="covariance_eigh").fit(train).explained_variance_ratio_}

        key = {"layer": layer, "k": k, "trained": trial.metrics.get("trial_ended")}
        return Cache(self.cache / trial.trial_id).get(f"{layer}-variance", key, fit)["ratio"]

    def similarity(self, trial: Trial) -> similarity.Similarity:
        """CKA of the trial's raw pixels, hidden layers and output (kept on disk)."""
        return similarity.within_trial(trial, self.dataset(trial.config.dataset), similarity.ROWS, self.seed,
                                       self.cache / "similarity")

    def _trial(self, trial: Trial) -> TrialFigures:
        ds = self.dataset(trial.config.dataset)
        own = self.similarity(trial)
        drawn, every = self.rows(trial, DRAWN_ROWS), self.rows(trial)
        images = ds.x_train if self.plan.rows == "train" else ds.x_test
        with trial.activations() as acts:
            layers = {name: acts[f"{name}_{self.plan.rows}"] for name in trial.hidden_layers}
            test = {name: acts[f"{name}_test"] for name in trial.hidden_layers}
            y_test = acts["y_test"]
            settling = plots.running_sums({name: acts[f"{name}_train"] for name in trial.hidden_layers},
                                          acts["y_train"], SETTLING_CLASS)
        points = {f"raw {ds.inputs}": ds.scaled(images[drawn.index]),
                  **{name: x[drawn.positions].astype(np.float32) for name, x in layers.items()}}
        chosen = {name: [n for layer, n in self.plan.nodes if layer in (None, name) and n < x.shape[1]]
                  for name, x in layers.items()}
        groups = every.by(self.plan.colour("boxes"))
        nodes = plots.discriminative_nodes(layers, groups, chosen=chosen if self.plan.nodes else None)
        classes = len(ds.classes)
        return TrialFigures(similarity=own, drawn=drawn,
                            pca={name: pca(x, 3, self.seed) for name, x in points.items()},
                            nodes=[(layer, node, f, layers[layer][:, node].astype(np.float32))
                                   for layer, node, f in nodes],
                            groups=groups, pictures=plots.class_pictures_info(test, y_test, classes),
                            counts=np.bincount(y_test, minlength=classes), settling=settling)

    def pixels(self, dataset: str, trial: Trial | None) -> PixelPair:
        """The pixel pair of a data set (the plan's, or the best-separating one) on `DRAWN_ROWS` of the
        plan's rows, coloured by true class, or by `trial`'s predictions when the plan colours by them."""
        key = (dataset, trial.trial_id if trial else None)
        if key not in self._pixels:
            ds = self.dataset(dataset)
            x, y = (ds.x_train, ds.y_train) if self.plan.rows == "train" else (ds.x_test, ds.y_test)
            x = x.reshape(len(x), -1)
            pair = list(self.plan.pixels) if self.plan.pixels else plots.pixel_pair(data.pixels(x), y)
            if trial is not None and self.plan.colour("pixels") == "predicted":
                rows = self.rows(trial, DRAWN_ROWS)
                index, groups = rows.index, rows.pred
            else:
                index = stratified(y, DRAWN_ROWS, self.seed)
                groups = y[index]
            self._pixels[key] = PixelPair(pair, x[index][:, pair], groups)
        return self._pixels[key]


@dataclass(frozen=True)
class PixelPair:
    pixels: list[int]
    values: np.ndarray  # [n, 2] of the rows drawn
    groups: np.ndarray  # the class each is coloured by

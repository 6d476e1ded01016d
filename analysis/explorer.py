"""The embedding explorer: a trial's raw pixels and every hidden layer side by side, one method at
a time, drawn in the browser by Plotly (`explorer.js`).

Zoom and pan each layer; hover a point for its picture (where the data are images), its true and
predicted class; click a class in the legend to hide or show it everywhere; select points in one
layer (box or lasso) to highlight the same rows in every other. The page carries the data
compactly: coordinates as 16-bit integers scaled to each embedding's range, and the pictures as one
4-bit PNG sheet per set of rows, shared by every explorer that draws those rows.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.embed import TITLES
from analysis.interactive import Live, plotly_assets
from analysis.layers import TEST, LayerResult
from analysis.plots import TAB10
from analysis.results import Trial
from sweep.data import Dataset

LEVELS = 65_535  # coordinates are stored as uint16 between an embedding's minimum and maximum
SHEET_COLUMNS = 100  # pictures per row of the sheet
SCRIPT = (Path(__file__).with_name("explorer.js")).read_text()
STYLE = """
.explorer-bar{font-size:.85em;display:flex;gap:1.5em;align-items:center} .explorer-status{color:#555}
.explorer-tip{position:fixed;z-index:10;display:flex;gap:.5em;align-items:center;background:#fff;border:1px solid #999;
 padding:.3em;font-size:.8em;pointer-events:none;box-shadow:0 1px 4px #0003} .explorer-tip[hidden]{display:none}
.explorer-tip .picture{width:56px;height:56px;image-rendering:pixelated;background-color:#000}
"""


@dataclass(frozen=True)
class Explorer:
    """What one explorer draws: the same rows in every layer and method."""

    trial: str  # how the tooltip names the trial
    classes: list[str]
    true: np.ndarray  # [n] class index per row
    pred: np.ndarray  # [n] the trial's predicted class
    rows: np.ndarray  # [n] the data set's train row of each point
    images: np.ndarray | None  # [n, h, w] grey uint8, the picture of each point; None: not images
    coords: dict[str, dict[str, np.ndarray]]  # method -> layer -> [n, 2]
    notes: dict[str, dict[str, str]]  # method -> layer -> the embedding's note

    def live(self) -> Live:
        sheet, css = picture_sheet(self.images) if self.images is not None else ("", "")
        height, width = self.images.shape[1:] if self.images is not None else (0, 0)
        spec = {"trial": html.escape(self.trial), "classes": [html.escape(c) for c in self.classes], "colours": TAB10,
                "true": self.true.tolist(), "pred": self.pred.tolist(), "rows": self.rows.tolist(), "sheet": sheet,
                "columns": SHEET_COLUMNS, "height": height, "width": width,
                "methods": {TITLES[m]: {layer: {"xy": _quantized(xy), "range": _range(xy), "note": self.notes[m][layer]}
                                        for layer, xy in layers.items()} for m, layers in self.coords.items()}}
        data = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")  # no "</script>" inside the script
        fragment = (f"<div class='explorer'><script type='application/json'>{data}</script>"
                    "<script>mlpExplorer(document.currentScript.parentElement)</script></div>")
        assets = {"explorer": f"<style>{STYLE}</style><script>{SCRIPT}</script>", **({sheet: css} if sheet else {})}
        return Live(fragment, {**plotly_assets(), **assets})


def of_trial(trial: Trial, drawn: dict[str, LayerResult], ds: Dataset, most: int) -> Explorer | None:
    """The explorer of a trial's layers as drawn (raw pixels first), with the methods that draw the
    same training rows of every layer, at most `most` of them: the set of rows most methods share.
    None if no method qualifies."""
    with trial.activations() as acts:
        y, pred, index = acts["y_train"], acts["pred_train"], acts["index_train"]
    by_rows: dict[bytes, list[str]] = {}
    for method in dict.fromkeys(m for r in drawn.values() for m in r.coords if not m.endswith(TEST)):
        sets = [r.positions.get(method) for r in drawn.values()]
        if all(p is not None and np.array_equal(p, sets[0]) for p in sets) and len(sets[0]) <= most:
            by_rows.setdefault(sets[0].tobytes(), []).append(method)
    if not by_rows:
        return None
    methods = max(by_rows.values(), key=len)
    rows = next(iter(drawn.values())).positions[methods[0]]
    return Explorer(trial=f"{trial.config.label} {trial.trial_id}".strip(), classes=list(ds.classes), true=y[rows],
                    pred=pred[rows], rows=index[rows],
                    images=ds.pictures(ds.x_train[index[rows]]) if ds.images else None,
                    coords={m: {layer: r.coords[m] for layer, r in drawn.items()} for m in methods},
                    notes={m: {layer: r.notes[m] for layer, r in drawn.items()} for m in methods})


def picture_sheet(images: np.ndarray) -> tuple[str, str]:
    """A CSS class named for the images, whose background is all of them in one 4-bit grey PNG,
    `SHEET_COLUMNS` to a row; and the style that defines it."""
    from PIL import Image

    n, height, width = images.shape
    grid = np.zeros((-(-n // SHEET_COLUMNS) * height, SHEET_COLUMNS * width), np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, SHEET_COLUMNS)
        grid[r * height:(r + 1) * height, c * width:(c + 1) * width] = image >> 4
    sheet = Image.fromarray(grid, "P")
    sheet.putpalette([v * 17 for v in range(16) for _ in range(3)])
    buf = io.BytesIO()
    sheet.save(buf, "PNG", bits=4)
    name = "pictures-" + hashlib.blake2b(images.tobytes(), digest_size=6).hexdigest()
    png = base64.b64encode(buf.getvalue()).decode()
    return name, f"<style>.{name}{{background-image:url(data:image/png;base64,{png})}}</style>"


def _range(xy: np.ndarray) -> list[float]:
    low, high = xy.min(0), xy.max(0)
    return [float(low[0]), float(high[0]), float(low[1]), float(high[1])]


def _quantized(xy: np.ndarray) -> str:
    """`xy` [n, 2] as base64 little-endian uint16 pairs, 0 and `LEVELS` at each column's extremes."""
    low, high = xy.min(0), xy.max(0)
    scaled = (xy - low) / np.where(high > low, high - low, 1) * LEVELS
    return base64.b64encode(np.rint(scaled).astype("<u2").tobytes()).decode()

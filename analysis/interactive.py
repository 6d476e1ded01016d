"""Interactive figures for the HTML page, drawn by Plotly with its JavaScript inlined once per page
(nothing is fetched from the network). Each has a matplotlib twin in `analysis.plots` for the PNG
files and the Markdown report."""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.plots import TAB10, accuracy_floor

CONFIG = {"displaylogo": False, "responsive": True}
FEW = 12  # a numeric axis with this many values or fewer is ticked at each


@dataclass(frozen=True)
class Live:
    """An interactive figure: its HTML, and what it needs once per page (scripts, styles) by name;
    the Plotly figure where it is one."""

    html: str
    assets: dict[str, str]
    plotly: Any = None

    def _repr_html_(self) -> str:
        """The figure whole, with its scripts, as a notebook shows it."""
        return "".join(self.assets.values()) + self.html


@functools.cache
def plotly_assets() -> dict[str, str]:
    """Plotly's JavaScript as a data: URL. Its text names web addresses (map tiles, its home page)
    that a page drawing no maps, with the logo off, never loads; encoded, they stay out of the page's
    text, where a search for remote resources would find them."""
    from plotly.offline import get_plotlyjs

    code = base64.b64encode(get_plotlyjs().encode()).decode()
    return {"plotly": f"<script src='data:text/javascript;base64,{code}'></script>"}


def _live(fig) -> Live:
    import plotly.io as pio

    return Live(pio.to_html(fig, full_html=False, include_plotlyjs=False, config=CONFIG), plotly_assets(), fig)


def parallel(values: pd.DataFrame) -> Live:
    """Parallel coordinates of every completed trial over `values`' columns (hyperparameters, test
    accuracy last), coloured by test accuracy: drag along an axis to keep only the trials in that range."""
    import plotly.graph_objects as go

    dimensions = []
    for col in values:
        column = values[col]
        label = col.replace("_", " ")
        if pd.api.types.is_numeric_dtype(column):
            dimensions.append({"label": label, "values": column.astype(float).to_numpy()})
            if column.nunique() <= FEW:  # ticks at the values tried, not between them
                dimensions[-1]["tickvals"] = sorted(column.astype(float).unique())
        else:
            names = sorted(column.astype(str).unique())
            dimensions.append({"label": label, "values": column.astype(str).map(names.index).to_numpy(),
                               "tickvals": list(range(len(names))), "ticktext": names})
    accuracy = values.test_accuracy
    line = {"color": accuracy.to_numpy(), "colorscale": "Viridis", "cmin": accuracy_floor(accuracy),
            "cmax": float(accuracy.max()), "showscale": True, "colorbar": {"title": {"text": "test accuracy"}}}
    fig = go.Figure(go.Parcoords(dimensions=dimensions, line=line))
    fig.update_layout(height=420, margin={"l": 60, "r": 40, "t": 50, "b": 30})
    return _live(fig)


def pca_3d(points: dict[str, tuple[np.ndarray, np.ndarray]], labels: np.ndarray, classes: list[str]) -> Live:
    """Each representation's first three principal components (name -> (coords [n, 3], variance
    ratios)) as a rotatable 3-D scatter coloured by class, one representation at a time."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for k, (coords, _) in enumerate(points.values()):
        for c, name in enumerate(classes):
            xyz = coords[labels == c].astype(np.float32)
            fig.add_trace(go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="markers", name=name,
                                       legendgroup=name, visible=k == 0,
                                       marker={"size": 2, "color": TAB10[c % len(TAB10)]},
                                       hovertemplate=f"{name}<extra></extra>"))
    n = len(classes)
    buttons = [{"label": f"{layer}: variance {', '.join(f'{r:.2f}' for r in ratio)}", "method": "update",
                "args": [{"visible": [k == j for j in range(len(points)) for _ in range(n)]}]}
               for k, (layer, (_, ratio)) in enumerate(points.items())]
    fig.update_layout(height=520, margin={"l": 0, "r": 0, "t": 40, "b": 0}, legend={"itemsizing": "constant"},
                      scene={"xaxis_title": "PC1", "yaxis_title": "PC2", "zaxis_title": "PC3"},
                      updatemenus=[{"buttons": buttons, "x": 0, "xanchor": "left", "y": 1.08, "yanchor": "top"}])
    return _live(fig)

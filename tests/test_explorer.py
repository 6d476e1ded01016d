"""The explorer's data survives its compact encoding: coordinates within a step, pictures within a grey level."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
from PIL import Image

from analysis import explorer
from analysis.interactive import plotly_assets


def _explorer(n: int = 250) -> explorer.Explorer:
    rng = np.random.default_rng(0)
    coords = {"pca": {"raw": rng.normal(0, 5, (n, 2)), "hidden_1": rng.uniform(-1, 3, (n, 2))}}
    return explorer.Explorer(trial="exp0 <b>x</b>", classes=[str(c) for c in range(10)], true=rng.integers(0, 10, n),
                             pred=rng.integers(0, 10, n), rows=np.arange(n) * 3,
                             images=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), coords=coords,
                             notes={"pca": {"raw": "250 rows", "hidden_1": "250 rows"}})


def test_coordinates_come_back_within_one_step_of_their_range() -> None:
    made = _explorer()
    spec = json.loads(re.search(r"<script type='application/json'>(.*?)</script>", made.live().html).group(1))
    for layer, xy in made.coords["pca"].items():
        drawn = spec["methods"]["PCA"][layer]
        q = np.frombuffer(base64.b64decode(drawn["xy"]), "<u2").reshape(-1, 2)
        low, high = np.array(drawn["range"]).reshape(2, 2).T
        back = low + q / explorer.LEVELS * (high - low)
        assert np.abs(back - xy).max() <= (high - low).max() / explorer.LEVELS
    assert spec["trial"] == "exp0 &lt;b&gt;x&lt;/b&gt;" and spec["rows"][:3] == [0, 3, 6]


def test_picture_sheet_holds_every_image_at_sixteen_grey_levels() -> None:
    made = _explorer(130)  # two rows of the sheet, the second part empty
    name, css = explorer.picture_sheet(made.images)
    png = base64.b64decode(re.search(r"base64,([^)]+)\)", css).group(1))
    sheet = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    assert sheet.shape == (2 * 28, explorer.SHEET_COLUMNS * 28) and name in css
    for i in (0, 99, 100, 129):
        r, c = divmod(i, explorer.SHEET_COLUMNS)
        tile = sheet[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28].astype(int)
        assert np.abs(tile - made.images[i].astype(int)).max() <= 15


def test_live_figures_share_one_inlined_plotly() -> None:
    live = _explorer().live()
    assert set(live.assets) == {"plotly", "explorer", explorer.picture_sheet(_explorer().images)[0]}
    assert live.assets["plotly"] == plotly_assets()["plotly"]
    assert live.assets["plotly"].startswith("<script src='data:text/javascript;base64,")  # inlined, not fetched

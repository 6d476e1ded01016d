"""Driving a report's Plotly figures in Chromium as a user would: hover a point, drag a box, brush
an axis. Used by the browser test and by the README's screenshots (`docs/report/shoot.py`)."""

from __future__ import annotations

from typing import Any

# Where a point of a Plotly scatter, and a subplot's plotting area, are on the screen.
POINT = """gd => { const t = gd._fullData.find(t => t.visible === true && t.x.length > 0);
  const xa = gd._fullLayout['xaxis' + t.xaxis.slice(1)], ya = gd._fullLayout['yaxis' + t.yaxis.slice(1)];
  const r = gd.getBoundingClientRect();
  return [r.left + xa._offset + xa.l2p(t.x[0]), r.top + ya._offset + ya.l2p(t.y[0])]; }"""
AREA = """gd => { const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
  return [r.left + xa._offset, r.top + ya._offset, xa._length, ya._length]; }"""


def hover_first_point(page: Any, plot: Any) -> Any:
    """Hover the first visible point of the explorer `plot`; its tooltip once shown."""
    plot.scroll_into_view_if_needed()
    page.mouse.move(*plot.evaluate(POINT))
    tip = page.locator(".explorer-tip").first
    tip.wait_for(state="visible")
    return tip


def drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=8)
    page.mouse.up()


def box_select(page: Any, plot: Any) -> None:
    """Drag a box over the top left of the first subplot of `plot` and wait for the explorer to
    say what it selected."""
    page.mouse.move(1, 1)
    left, top, width, height = plot.evaluate(AREA)
    drag(page, (left + 0.1 * width, top + 0.1 * height), (left + 0.6 * width, top + 0.6 * height))
    page.wait_for_function("() => document.querySelector('.explorer-status').textContent.includes('selected')")


def brush_last_axis(page: Any) -> Any:
    """Brush the top half of the parallel coordinates' last axis (test accuracy); the figure."""
    brushes = page.locator("#comparison .parcoords .axis-brush .background")
    brushes.last.scroll_into_view_if_needed()
    box = brushes.last.bounding_box()
    middle = box["x"] + box["width"] / 2
    drag(page, (middle, box["y"] + 0.05 * box["height"]), (middle, box["y"] + 0.5 * box["height"]))
    page.wait_for_function("() => document.querySelector('#comparison .parcoords').closest('.js-plotly-plot')"
                           ".data[0].dimensions.at(-1).constraintrange")
    return page.locator("#comparison .js-plotly-plot").filter(has=page.locator(".parcoords"))

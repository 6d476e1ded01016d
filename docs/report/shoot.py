"""The README's screenshots of a report, taken in Debian's Chromium through Playwright.

    python docs/report/shoot.py results/study_a/report/report.html [docs/report]

Hovers a point of the first explorer, box-selects rows in its raw pixels and switches the method,
and shoots the 3-D PCA, the brushed parallel coordinates, the sorted and filtered configurations
and the accuracy-against-bottleneck figure.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

POINT = """gd => { const t = gd._fullData.find(t => t.visible === true && t.x.length > 0);
  const xa = gd._fullLayout['xaxis' + t.xaxis.slice(1)], ya = gd._fullLayout['yaxis' + t.yaxis.slice(1)];
  const r = gd.getBoundingClientRect();
  return [r.left + xa._offset + xa.l2p(t.x[0]), r.top + ya._offset + ya.l2p(t.y[0])]; }"""
AREA = """gd => { const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
  return [r.left + xa._offset, r.top + ya._offset, xa._length, ya._length]; }"""


def shoot(report: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(report.absolute().as_uri())
        page.wait_for_function("document.body.dataset.ready === 'yes'")
        plot = page.locator(".explorer .explorer-plot").first
        plot.scroll_into_view_if_needed()
        page.mouse.move(*plot.evaluate(POINT))
        page.locator(".explorer-tip").first.wait_for(state="visible")
        page.screenshot(path=out / "explorer_hover.png")
        page.mouse.move(1, 1)
        left, top, width, height = plot.evaluate(AREA)
        page.mouse.move(left + 0.1 * width, top + 0.1 * height)
        page.mouse.down()
        page.mouse.move(left + 0.6 * width, top + 0.6 * height, steps=8)
        page.mouse.up()
        page.wait_for_function("() => document.querySelector('.explorer-status').textContent.includes('selected')")
        select = page.locator(".explorer select").first
        select.select_option(index=1)
        plot.screenshot(path=out / "explorer_selection.png")
        page.locator(".js-plotly-plot .gl-container").first.scroll_into_view_if_needed()
        page.locator("figure").filter(has=page.locator(".gl-container")).first.screenshot(path=out / "pca_3d.png")
        brushes = page.locator("#comparison .parcoords .axis-brush .background")
        brushes.last.scroll_into_view_if_needed()
        box = brushes.last.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 0.05 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 0.5 * box["height"], steps=8)
        page.mouse.up()
        page.locator("#comparison .js-plotly-plot").filter(has=page.locator(".parcoords")).screenshot(
            path=out / "parallel_coordinates_brushed.png")
        table = page.locator("#comparison table.sortable").first
        table.locator("th", has_text="test accuracy %").click()
        page.locator("#comparison input.filter").first.fill("784-128")
        page.locator("#comparison .wide").first.screenshot(path=out / "table_sorted_filtered.png")
        page.locator("figure").filter(has=page.locator("img[alt='accuracy_vs_bottleneck']")).screenshot(
            path=out / "accuracy_vs_bottleneck.png")
        browser.close()


if __name__ == "__main__":
    shoot(Path(sys.argv[1]), Path(sys.argv[2] if len(sys.argv) > 2 else Path(__file__).parent))

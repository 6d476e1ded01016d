"""The README's screenshots of a report, taken in Debian's Chromium through Playwright.

    python docs/report/shoot.py results/study_a/report/report.html [docs/report]

Hovers a point of the first explorer, box-selects rows in its raw pixels and switches the method,
and shoots the 3-D PCA, the brushed parallel coordinates, the sorted and filtered configurations
and the accuracy-against-bottleneck figure. Run from the project's root.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.browser import box_select, brush_last_axis, hover_first_point  # noqa: E402


def shoot(report: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(report.absolute().as_uri(), timeout=300_000)  # a page of every experiment is large
        page.wait_for_function("document.body.dataset.ready === 'yes'", timeout=300_000)
        plot = page.locator(".explorer .explorer-plot").first
        hover_first_point(page, plot)
        page.screenshot(path=out / "explorer_hover.png")
        box_select(page, plot)
        page.locator(".explorer select").first.select_option(index=1)
        plot.screenshot(path=out / "explorer_selection.png")
        pca = page.locator("figure").filter(has=page.locator(".gl-container")).first
        pca.scroll_into_view_if_needed()
        pca.screenshot(path=out / "pca_3d.png")
        brush_last_axis(page).screenshot(path=out / "parallel_coordinates_brushed.png")
        table = page.locator("#comparison table.sortable").first
        table.locator("th", has_text="test accuracy %").click()
        page.locator("#comparison input.filter").first.fill("784-128")
        page.locator("#comparison .wide").first.screenshot(path=out / "table_sorted_filtered.png")
        page.locator("figure").filter(has=page.locator("img[alt='accuracy_vs_bottleneck']")).screenshot(
            path=out / "accuracy_vs_bottleneck.png")
        browser.close()


if __name__ == "__main__":
    shoot(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parent)

"""The README's screenshots of the trackers, from a sweep run with `--mlflow`: MLflow's UI with the
sweep's runs, and TensorBoard's HParams table of its trials.

    python docs/trackers/shoot.py results/smoke [docs/trackers]

Starts `mlflow ui` and `tensorboard` on free ports of this machine, shoots each in Debian's Chromium
through Playwright, and stops the two servers it started. Run from the project's root.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _server(*command: str) -> Iterator[str]:
    """Run a web server of `command` (with `{port}` filled in) until the block ends; its URL."""
    port = _free_port()
    process = subprocess.Popen([c.format(port=port) for c in command], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url, timeout=2)
                break
            time.sleep(1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def shoot(sweep: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    bin_dir = Path(sys.executable).parent
    with (_server(str(bin_dir / "mlflow"), "ui", "--backend-store-uri", f"sqlite:///{sweep.absolute()}/mlflow.db",
                  "--port", "{port}") as mlflow,
          _server(str(bin_dir / "tensorboard"), "--logdir", str(sweep.absolute()), "--port", "{port}") as board,
          sync_playwright() as playwright):
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 800})
        page.goto(f"{mlflow}/#/experiments/1/runs", timeout=120_000)
        page.get_by_text("Model training").first.click(timeout=120_000)  # runs, not GenAI traces
        for dismiss in ("Got it", "Close"):  # first-visit tips and the assistant's panel
            with contextlib.suppress(Exception):
                page.get_by_role("button", name=dismiss).first.click(timeout=3000)
        page.get_by_text(sweep.name).first.wait_for(timeout=120_000)
        # The sweep's run opened: the trials' runs are nested under it.
        page.get_by_role("row").filter(has_text=sweep.name).first.locator("button").first.click(timeout=30_000)
        page.wait_for_timeout(3000)
        page.screenshot(path=out / "mlflow.png")
        page.goto(f"{board}/#hparams", timeout=120_000)
        page.get_by_text("trial/hidden").first.wait_for(timeout=120_000)
        for name in ("activation", "activation_dtype", "batch_size", "dataset", "hidden", "label", "reduction"):
            page.get_by_text(f"trial/{name}", exact=True).first.click()  # the columns that differ, and hidden
        page.wait_for_timeout(3000)
        page.screenshot(path=out / "tensorboard_hparams.png")
        browser.close()


if __name__ == "__main__":
    shoot(Path(sys.argv[1]), Path(sys.argv[2] if len(sys.argv) > 2 else "docs/trackers"))

"""The report as one self-contained HTML page (images inlined, no external files) and its
Markdown twin; figures are also written as PNG files beside them."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from analysis.interactive import Live
from sweep.artifacts import write_text

STYLE = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:0 1.5em 3em;color:#222}
h1{margin-top:1em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
nav a{margin-right:1em} figure{margin:1em 0} figcaption{font-size:.85em;color:#555}
img{max-width:100%} .wide{overflow-x:auto} table{border-collapse:collapse;font-size:.8em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right} th{background:#f3f3f3;cursor:pointer}
td:first-child,th:first-child{text-align:left} .note{color:#555;font-size:.9em}
details{margin:.5em 0} summary{cursor:pointer;font-weight:600}
.filter{font-size:.8em;margin:.3em 0;padding:.15em .3em;width:18em}
.filter-count{font-size:.8em;color:#555;margin-left:.5em}
"""

# Click a header to sort its table; numbers sort as numbers ("97.31 ± 0.12" by 97.31). Type in the
# box above a table to keep the rows that contain every word typed.
SCRIPT = """
document.querySelectorAll('table.sortable').forEach(table => {
  const box = document.createElement('input'), count = document.createElement('span');
  const rows = [...table.tBodies[0].rows];
  Object.assign(box, {type: 'search', className: 'filter', placeholder: 'filter rows: words to match'});
  count.className = 'filter-count';
  box.addEventListener('input', () => {
    const words = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
    const shown = rows.filter(r => {
      const t = r.textContent.toLowerCase();
      r.hidden = !words.every(w => t.includes(w));
      return !r.hidden;
    });
    count.textContent = words.length ? `${shown.length} of ${rows.length} rows` : '';
  });
  table.parentElement.before(box, count);
});
document.querySelectorAll('table.sortable th').forEach(th => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0];
  const key = r => {
    const t = r.cells[th.cellIndex].textContent.trim(), v = parseFloat(t);
    return isNaN(v) ? t : v;
  };
  const dir = th.dataset.dir === 'asc' ? -1 : 1; th.dataset.dir = dir === 1 ? 'asc' : 'desc';
  [...body.rows].sort((a, b) => { const x = key(a), y = key(b);
    return (typeof x === typeof y ? (x > y) - (x < y) : String(x).localeCompare(String(y))) * dir; })
    .forEach(r => body.appendChild(r));
}));
document.body.dataset.ready = 'yes';
"""


class Drawn(NamedTuple):
    """One figure of a page: its matplotlib figure and its interactive twin, if any."""

    figure: Figure
    live: Live | None


@dataclass
class Page:
    title: str
    folder: Path  # the report folder; figures go to folder/figures
    sections: list[tuple[str, str, list[str], list[str]]] = field(default_factory=list)  # id, title, html, md
    refresh: int | None = None  # seconds after which a browser reloads the page (a report still growing)
    assets: dict[str, str] = field(default_factory=dict)  # scripts and styles the interactive figures share, by name
    kept: Path | None = None  # where drawn sections are kept for the next page (`reuse`, `keep`)
    drawn: dict[str, Drawn] | None = None  # where given, every figure as an object, by name (the Python API)
    _used: dict[str, set[str]] = field(default_factory=dict)  # section -> the assets its figures need

    def section(self, anchor: str, title: str) -> None:
        self.sections.append((anchor, title, [], []))
        self._used[anchor] = set()

    def reuse(self, anchor: str, key: str) -> bool:
        """Add the section `anchor` as a page with the same `key` drew it, if one did (its figures'
        PNG files are still beside the page); False if it must be drawn."""
        path = self._kept(anchor)
        if path is None or not path.is_file():
            return False
        saved = json.loads(path.read_text())
        assets = {name: self._kept(f"asset {name}") for name in saved["assets"]}
        if saved["key"] != key or not all(p.is_file() for p in assets.values()):
            return False
        self.sections.append((anchor, saved["title"], saved["html"], saved["md"]))
        self._used[anchor] = set(assets)
        self.assets |= {name: self.assets.get(name) or p.read_text() for name, p in assets.items()}
        return True

    def keep(self, key: str) -> None:
        """Keep the section just drawn for the next page with the same `key`."""
        anchor, title, parts, md = self.sections[-1]
        if (path := self._kept(anchor)) is not None:
            for name in self._used[anchor]:  # each shared script or style once, however many sections use it
                if not (kept := self._kept(f"asset {name}")).is_file():
                    write_text(kept, self.assets[name])
            write_text(path, json.dumps({"key": key, "title": title, "html": parts, "md": md,
                                         "assets": sorted(self._used[anchor])}))

    def _kept(self, anchor: str) -> Path | None:
        return self.kept / f"{hashlib.sha256(anchor.encode()).hexdigest()[:16]}.json" if self.kept else None

    def heading(self, text: str) -> None:
        self.sections[-1][2].append(f"<h3>{html.escape(text)}</h3>")
        self.sections[-1][3].append(f"### {_md(text)}\n")

    def text(self, text: str) -> None:
        self.sections[-1][2].append(f"<p class='note'>{html.escape(text)}</p>")
        self.sections[-1][3].append(_md(text) + "\n")

    def table(self, frame: pd.DataFrame, caption: str = "", digits: int = 4) -> None:
        if frame.empty:
            return self.text(f"{caption}: nothing to show yet." if caption else "Nothing to show yet.")
        shown = frame.copy()
        for col in shown.select_dtypes("float"):
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:.{digits}g}")
        shown = shown.astype(object).where(shown.notna(), "")
        table_html = shown.to_html(index=False, classes="sortable", border=0, escape=True, na_rep="")
        self.sections[-1][2].append((f"<p class='note'>{html.escape(caption)}</p>" if caption else "")
                                    + f"<div class='wide'>{table_html}</div>")
        self.sections[-1][3].append((f"{_md(caption)}\n\n" if caption else "") + _markdown_table(shown) + "\n")

    def figure(self, name: str, fig: Figure, caption: str, live: Live | None = None) -> None:
        """`fig` as a PNG file and in the Markdown; in the HTML too, unless an interactive `live` twin replaces it."""
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)  # out of pyplot's reach; the object still draws in a notebook
        if self.drawn is not None:
            self.drawn[name] = Drawn(fig, live)
        png = buf.getvalue()
        path = self.folder / "figures" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        if live:
            self.assets |= live.assets
            self._used[self.sections[-1][0]] |= set(live.assets)
            shown = live.html
        else:
            shown = f"<img alt='{html.escape(name)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        self.sections[-1][2].append(f"<figure>{shown}<figcaption>{html.escape(caption)}</figcaption></figure>")
        self.sections[-1][3].append(f"![{_md(caption)}](figures/{name}.png)\n")

    def write(self) -> tuple[Path, Path]:
        nav = " ".join(f"<a href='#{a}'>{html.escape(t)}</a>" for a, t, _, _ in self.sections)
        body = "\n".join(f"<section id='{a}'><h2>{html.escape(t)}</h2>\n" + "\n".join(parts) + "</section>"
                         for a, t, parts, _ in self.sections)
        refresh = f"<meta http-equiv='refresh' content='{self.refresh}'>" if self.refresh else ""
        title = html.escape(self.title)
        page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>{refresh}<title>{title}</title>"
                f"<style>{STYLE}</style>{''.join(self.assets.values())}</head>"
                f"<body><h1>{title}</h1><nav>{nav}</nav>\n{body}\n<script>{SCRIPT}</script></body></html>\n")
        markdown = f"# {_md(self.title)}\n\n" + "\n".join(f"## {_md(t)}\n\n" + "\n".join(md)
                                                            for _, t, _, md in self.sections)
        write_text(self.folder / "report.html", page)
        write_text(self.folder / "report.md", markdown)
        return self.folder / "report.html", self.folder / "report.md"


def _md(text: str) -> str:
    """`text` as Markdown shows it: HTML and Markdown's punctuation escaped, one line."""
    return re.sub(r"([\\`*_{}\[\]#|])", r"\\\1", html.escape(str(text), quote=False)).replace("\n", " ")


def _markdown_table(frame: pd.DataFrame) -> str:
    cells = [[_md(v) for v in row] for row in frame.astype(str).to_numpy()]
    head = "| " + " | ".join(_md(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    return "\n".join([head, rule, *("| " + " | ".join(row) + " |" for row in cells)]) + "\n"

"""Both studies by their own protocols, number by number: ours beside what each study printed.

    python bench/seeds.py [--only raw,study_a,study_b]

raw: Study B's KNN on a UMAP of the raw pixels, which no trained model touches, so it checks the
protocol alone: the study's random 5/6 split and its majority vote, UMAP fitted with 3 seeds, the
mean against the study's numbers (target: within 0.5 points), and whether k = 10 falls below k = 5
on Fashion-MNIST as in the study; the plurality vote beside it. study_a: `sweep run` of Study A over
5 seeds, each printed number against our range (target: within it). study_b: `sweep run` and
`sweep report` of Study B over 3 seeds (UMAP only), each KNN score against the study's (target:
within 1.0 point). The study's numbers are read from the space files' `reference:` sections. Prints
one line per figure, then the raw figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis import reference  # noqa: E402
from analysis.probes import MAJORITY, VOTES  # noqa: E402
from sweep.space_file import load_space  # noqa: E402

SPACES = ROOT / "search_spaces"
KS = (3, 5, 10)
UMAP_SEEDS = (0, 1, 2)


def _printed(study: str) -> list[reference.Printed]:
    space = load_space(SPACES / f"{study}.yaml")
    return list(reference.parse(space.reference, study, space.labels).numbers)


def _raw_scores(dataset: str, seed: int) -> dict[str, list[float]]:
    """One UMAP seed: Study B's split of the training rows (drawn with `seed`), UMAP fitted on
    their raw pixels and applied to the test rows, KNN with each vote."""
    from analysis import embed, probes
    from sweep import data
    from sweep.config import resolve

    trial = load_space(SPACES / "study_b.yaml").trials()[0].to_dict()
    cfg = resolve({**trial, "dataset": dataset, "seed": seed})
    ds = data.load(dataset)
    rows = cfg.split(len(ds.y_train))
    x = data.features(dataset)
    train, test = embed.umap_fit(x[rows.fit], x[len(ds.y_train):], seed)
    return {vote: [100 * a for a in probes.knn(train, ds.y_train[rows.fit], test, ds.y_test, KS, vote).values()]
            for vote in VOTES}


def raw(raw_figures: dict) -> list[str]:
    import numpy as np

    printed = {(p.dataset, p.measure): p.value for p in _printed("study_b") if p.layer == "raw"}
    runs = [(d, s) for d in ("mnist", "fashion_mnist") for s in UMAP_SEEDS]
    with ProcessPoolExecutor(2) as pool:
        scores = dict(zip(runs, pool.map(_raw_scores, *zip(*runs))))
    lines = []
    for dataset in ("mnist", "fashion_mnist"):
        study = [printed[(dataset, f"umap-knn{k}")] for k in KS]
        for vote in VOTES:
            ours = np.mean([scores[(dataset, s)][vote] for s in UMAP_SEEDS], axis=0)
            gap = float(np.abs(ours - study).max())
            raw_figures[f"raw,{dataset},{vote}"] = {"per_seed": {s: scores[(dataset, s)][vote] for s in UMAP_SEEDS},
                                                    "mean": ours.tolist(), "study": study}
            verdict = ("PASS" if gap <= 0.5 else "FAIL") if vote == MAJORITY else "(for information)"
            lines.append(f"seeds[raw,{dataset},{vote}] k3/k5/k10 ours={_trio(ours)} study={_trio(study)} "
                         f"max_gap={gap:.2f}pt target=<=0.5pt {verdict}")
            if vote == MAJORITY:
                lines.append(f"seeds[raw,{dataset},k10<k5] ours={ours[2] < ours[1]} study={study[2] < study[1]}")
    return lines


def _trio(values) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def _sweep(study: str, seeds: str, tmp: Path, *report: str) -> Path:
    subprocess.run([sys.executable, "-m", "mlp_sweep", "run", str(SPACES / f"{study}.yaml"), "--seeds", seeds,
                    "--results", str(tmp), "--name", study], check=True, cwd=ROOT, stdout=sys.stderr)
    if report:
        subprocess.run([sys.executable, "-m", "mlp_sweep", "report", str(tmp / study), "--quiet", *report],
                       check=True, cwd=ROOT, stdout=sys.stderr)
    return tmp / study


def _compared(sweep_dir: Path, records: list[dict]):
    """The report's own comparison (`tables/seed_comparison.csv`), computed here without drawing."""
    from analysis.compute import Computed
    from analysis.plan import DEFAULT
    from analysis.results import load_sweep
    from sweep.folder import SweepFolder

    files = SweepFolder(sweep_dir)
    computed = Computed(DEFAULT, None, 0, files.report / "cache")
    return computed.against(load_sweep(sweep_dir), reference.of_sweep(files), records)


def study_a(tmp: Path, raw_figures: dict) -> list[str]:
    table = _compared(_sweep("study_a", "0,1,2,3,4", tmp), [])
    raw_figures["study_a"] = table.to_dict("records")
    lines = []
    for row in table.itertuples():
        name = f"{row.label},{row.measure}" + (f",{row.layer}" if row.layer else "")
        lines.append(f"seeds[study_a,{name}] study={row.study:g} ours={row.ours:.3f}±{row.std:.3f} "
                     f"range=[{row.min:.3f}, {row.max:.3f}] n={row.n} target=within_range "
                     f"{'PASS' if row.within_range else 'FAIL'}")
    return lines


def study_b(tmp: Path, raw_figures: dict) -> list[str]:
    import pandas as pd

    sweep_dir = _sweep("study_b", "0,1,2", tmp, "--methods", "umap")
    table = pd.read_csv(sweep_dir / "report" / "tables" / "seed_comparison.csv")
    raw_figures["study_b"] = table.to_dict("records")
    lines = []
    for row in table[table.measure.str.startswith("umap-knn")].itertuples():
        gap = abs(row.difference)
        lines.append(f"seeds[study_b,{row.dataset},{row.layer},{row.measure}] study={row.study:.2f} "
                     f"ours={row.ours:.2f}±{row.std:.2f} n={row.n} gap={gap:.2f}pt target=<=1.0pt "
                     f"{'PASS' if gap <= 1.0 else 'FAIL'} ({row.study_protocol} | ours: {row.our_protocol})")
    return lines


SECTIONS = ("raw", "study_a", "study_b")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}")
    args = parser.parse_args()
    only = args.only.split(",")
    if unknown := set(only) - set(SECTIONS):
        parser.error(f"--only: unknown {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    lines, raw_figures = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in only:
            found = {"raw": lambda: raw(raw_figures), "study_a": lambda: study_a(Path(tmp), raw_figures),
                     "study_b": lambda: study_b(Path(tmp), raw_figures)}[name]()
            for line in found:
                print(f"so far: {line}", file=sys.stderr, flush=True)
            lines += found
    print("\n".join(lines))
    print(json.dumps(raw_figures, default=float))
    return 1 if any(line.endswith("FAIL") or " FAIL " in line for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())

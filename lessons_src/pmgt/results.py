"""Chapter 6's committed runs as tables: one loader for the notebook and for the terminal.

A run of ``lessons_src.pmgt.downstream`` writes ``results/pmgt/<dataset>_<model>_<arm>_seed<k>.json``;
the arm is the initialisation (``random``, ``raw``, ``pmgt``) with an optional suffix for a variant
(``pmgt-alpha0``, ``random-100ep``, …). :func:`load_runs` reads them into one long table, a row per
run and test protocol (with the pre-training's final losses and the geometry of the exported
vectors where the run pre-trained); :func:`summarise` gives mean ± standard deviation over the seeds;
:func:`separates` is the book's criterion for "A beats B": every seed of A above every seed of B.

    .venv/bin/python -m lessons_src.pmgt.results          # prints the summaries
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd

from ..training.results import results_dir

RUN_FILE = re.compile(r"(?P<dataset>ml-100k|toys)_(?P<model>mlp|neumf|sasrec)_"
                      r"(?P<init>random|raw|pmgt)(?:-(?P<variant>[a-z0-9-]+))?_seed(?P<seed>\d+)\.json")
PROTOCOLS = ("1000 negatives", "full ranking")
GEOMETRY = ("mean cosine", "effective dimension", "graph precision@10")  # geometry.describe's numbers


def run_rows(path: Path) -> list[dict]:
    """One results file → a row per test protocol (empty for a file of another name)."""
    match = RUN_FILE.fullmatch(path.name)
    if not match:
        return []
    report = json.loads(path.read_text())
    name = {**match.groupdict(), "seed": int(match["seed"]), "variant": match["variant"] or ""}
    history = report.get("pretraining", {}).get("history", [])
    pretraining = {"final L_s": history[-1]["structure"], "final L_f": history[-1]["feature"]} if history else {}
    geometry = report.get("pretraining", {}).get("geometry")
    if geometry:  # the exported vectors' numbers as they are, the raw features' with a "raw " prefix
        pretraining |= {**geometry["pmgt"], **{f"raw {k}": v for k, v in geometry["raw"].items()},
                        "graph density": geometry["graph density"]}
    rows = []
    for protocol, metrics in report["test"].items():
        groups = {f"{group} Recall@10": m["Recall@10"] for group, m in metrics["by_popularity"].items()}
        rows.append({**name, "protocol": protocol, "Recall@10": metrics["Recall@10"],
                     "NDCG@10": metrics["NDCG@10"], **groups, "best epoch": report["best"]["epoch"],
                     "wall s": report["wall_seconds"], **pretraining})
    return rows


def load_runs(folder: str | Path | None = None) -> pd.DataFrame:
    """Every run file in ``folder`` (default: ``results/pmgt``) as one table, sorted by name."""
    folder = Path(folder) if folder is not None else results_dir() / "pmgt"
    rows = [row for path in sorted(folder.glob("*.json")) for row in run_rows(path)]
    if not rows:
        raise FileNotFoundError(f"{folder}: no results files named <dataset>_<model>_<arm>_seed<k>.json")
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame, by=("dataset", "model", "init", "variant", "protocol"),
              metrics=("Recall@10", "NDCG@10"), digits: int = 4) -> pd.DataFrame:
    """'mean ± sd' over the seeds of each group, and the number of seeds."""
    grouped = runs.groupby(list(by), sort=False, observed=True)
    mean, spread = grouped[list(metrics)].mean(), grouped[list(metrics)].std()
    shown = mean.map(f"{{:.{digits}f}}".format) + " ± " + spread.map(f"{{:.{digits}f}}".format)
    shown["seeds"] = grouped.size()
    return shown


def seeds_of(runs: pd.DataFrame, metric: str = "NDCG@10", **where) -> pd.Series:
    """The metric of the runs that match every ``column=value`` of ``where``, one value per seed."""
    chosen = runs
    for column, value in where.items():
        chosen = chosen[chosen[column] == value]
    return chosen[metric]


def separates(runs: pd.DataFrame, a: dict, b: dict, metric: str = "NDCG@10") -> bool:
    """Every seed of arm ``a`` above every seed of arm ``b`` (each a ``column=value`` filter)."""
    first, second = seeds_of(runs, metric, **a), seeds_of(runs, metric, **b)
    if first.empty or second.empty:
        raise ValueError(f"no runs match {a if first.empty else b}")
    return bool(first.min() > second.max())


def main(folder: str | None = None) -> None:
    runs = load_runs(folder)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 200):
        print(summarise(runs))


if __name__ == "__main__":
    main(*sys.argv[1:])

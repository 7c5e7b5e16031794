"""Print chapter 6's results as tables: mean ± standard deviation over seeds.

    .venv/bin/python tools/pmgt_summary.py            # reads results/pmgt/*.json
"""

import json
import re
import sys
from pathlib import Path

import pandas as pd

FILE = re.compile(r"ml-100k_(?P<model>mlp|neumf|sasrec)_(?P<init>[a-z0-9-]+)_seed(?P<seed>\d+)\.json")


def rows(folder: Path):
    for path in sorted(folder.glob("*.json")):
        match = FILE.fullmatch(path.name)
        if not match:
            continue
        report = json.loads(path.read_text())
        for protocol, metrics in report["test"].items():
            groups = {f"{g} Recall@10": m["Recall@10"] for g, m in metrics["by_popularity"].items()}
            yield {**match.groupdict(), "protocol": protocol, "Recall@10": metrics["Recall@10"],
                   "NDCG@10": metrics["NDCG@10"], **groups, "best epoch": report["best"]["epoch"],
                   "wall s": report["wall_seconds"]}


def main(folder: str = "results/pmgt") -> None:
    table = pd.DataFrame(list(rows(Path(folder))))
    if table.empty:
        sys.exit(f"no chapter 6 results in {folder}")
    numbers = table.drop(columns=["seed"]).groupby(["protocol", "model", "init"])
    summary = numbers.mean().round(4).astype(str) + " ± " + numbers.std().round(4).astype(str)
    summary["seeds"] = numbers.size()
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summary)


if __name__ == "__main__":
    main(*sys.argv[1:])

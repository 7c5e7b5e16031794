"""Re-evaluating a trained SASRec: how much do the sampled numbers move with the negatives drawn?

    python -m lessons_src.sasrec.evaluate --model results/sasrec/games_seed0_model.pt --dataset games \\
        --negative-seeds 0 1 2 --output results/sasrec/games_seed0_reevaluation.json

The paper's protocol ranks each test target among 100 sampled negatives, on 10,000 randomly chosen
users. Both the negatives and the users are random: this scores one saved model on the test
targets of ALL evaluable users and of the 10,000-user subsample, once per negative-sampling seed
(the seed also draws the subsample), and the full ranking once (it has no randomness).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data import load_interactions, sequential_split
from ..evaluation.ranking import RankingEvaluator
from ..training.device import evaluating, pick_device
from ..training.report import run_report, write_report
from .model import load_compact_sasrec

KS = (10, 20, 50)


def reevaluate(model, split, negative_seeds: Sequence[int], device, subsample: int = 10_000) -> dict:
    """{"full": metrics, "sampled": {"all users": [per seed], "10,000 users": [per seed]}, "spread": …}."""
    maxlen = model.config.maxlen
    out = {"sampled": {"all users": [], f"{subsample:,} users": []}}
    with evaluating(model):
        for seed in negative_seeds:
            for name, users in (("all users", None), (f"{subsample:,} users", subsample)):
                evaluator = RankingEvaluator(split, "test", "sampled", maxlen, max_users=users, ks=KS,
                                             seed=seed, device=device)
                out["sampled"][name].append({"negative_seed": seed, **evaluator(model.score)})
        full = RankingEvaluator(split, "test", "full", maxlen, max_users=None, ks=KS, device=device)
        out["full"] = full(model.score)
    out["spread"] = {name: {metric: spread([run[metric] for run in runs]) for metric in ("HR@10", "NDCG@10")}
                     for name, runs in out["sampled"].items()}
    return out


def saved_model_for(split, path, device, flag: str = "--model"):
    """The compact SASRec at ``path``, which must have been trained on ``split``'s catalogue; if it
    was not, the command stops with a message that names ``flag``."""
    try:
        return load_compact_sasrec(path, device, split.n_items)
    except ValueError as error:
        raise SystemExit(f"{flag}: {error} ({split.name})") from error


def spread(values: Sequence[float]) -> dict:
    """mean, min and max of one metric over the negative-sampling seeds."""
    return {"mean": float(np.mean(values)), "min": float(np.min(values)), "max": float(np.max(values))}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Score a saved SASRec under several negative-sampling seeds.")
    parser.add_argument("--model", type=Path, required=True, help="compact checkpoint written by --save-model")
    parser.add_argument("--dataset", default="games", choices=["games", "ml-100k", "ml-1m"])
    parser.add_argument("--negative-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--subsample", type=int, default=10_000, help="users in the paper-style subsample")
    parser.add_argument("--device", default=None)
    parser.add_argument("--output", type=Path, required=True)
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    began = time.perf_counter()
    device = pick_device(args.device)
    split = sequential_split(load_interactions(args.dataset))
    model = saved_model_for(split, args.model, device)
    report = run_report("lessons_src.sasrec.evaluate", argv, args.negative_seeds[0], device)
    report.update(dataset=args.dataset, model=model.config.to_dict(),
                  metrics=reevaluate(model, split, args.negative_seeds, device, args.subsample))
    report = write_report(report, began, args.output)
    for name, spread in report["metrics"]["spread"].items():
        print(f"{name:>14s}: " + "  ".join(f"{m} {s['mean']:.4f} [{s['min']:.4f}, {s['max']:.4f}]"
                                           for m, s in spread.items()))
    return report


if __name__ == "__main__":
    main()

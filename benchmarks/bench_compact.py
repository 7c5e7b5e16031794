"""What a compressed model buys at serving time: teacher vs student, side by side in one process.

    python benchmarks/bench_compact.py          # needs the Games data (LESSONS_DATA_DIR or download)

Full-catalogue scoring (23,715 items) of test users' histories, batches of 256, for SASRec with
d = 50 (chapter 1's model, the distillation teacher) and d = 16 (chapter 2's students). The
repeats alternate between the models so that both see the same machine load; the table gives the
median throughput and the parameter counts. Random weights: speed does not depend on the values.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from lessons_src.training.device import describe_hardware, pick_device
from lessons_src.evaluation.ranking import left_pad
from lessons_src.data import load_interactions, sequential_split
from lessons_src.sasrec import SASRec, SASRecConfig


@torch.no_grad()
def seconds_to_score(model: SASRec, histories: torch.Tensor, batch: int) -> float:
    began = time.perf_counter()
    for start in range(0, len(histories), batch):
        model.score(histories[start:start + batch])
    if histories.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = pick_device(args.device)
    split = sequential_split(load_interactions("games"))
    users = split.evaluable_users("test")[: args.users]
    histories = torch.as_tensor(left_pad([split.history(int(u), "test") for u in users], 50), device=device)
    models = {f"SASRec d = {d}": SASRec(SASRecConfig(split.n_items, hidden=d)).to(device).eval() for d in (50, 16)}
    for model in models.values():
        seconds_to_score(model, histories[:256], 256)  # warm-up
    times = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            times[name].append(seconds_to_score(model, histories, 256))
    print(f"{describe_hardware(device)}; {len(users)} users, full ranking over {split.n_items} items")
    print(f"{'model':14s} {'parameters':>11s} {'users/s':>9s} {'ms / 1000 users':>16s}")
    for name, model in models.items():
        median = statistics.median(times[name])
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{name:14s} {n_params:11,d} {len(users) / median:9.0f} {1000 * median / len(users) * 1000:16.1f}")


if __name__ == "__main__":
    main()

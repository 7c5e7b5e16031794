"""NCF's full-catalogue scoring, literal first layer against the factorised one, side by side.

    python benchmarks/bench_ncf_scoring.py      # no data needed: random weights, Toys-sized tables

The evaluation of chapter 6 ranks every test item against the whole catalogue: on S3-Rec's Toys
that is ~16,000 instances × 11,925 items through the NCF tower. The factorised form computes the
first layer's item half once per item (``lessons_src.pmgt.ncf``); the scores are the same (a unit
test proves it). Repeats alternate between the two forms so that both see the same machine load.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from lessons_src.pmgt.ncf import NCF
from lessons_src.training.device import describe_hardware, pick_device


@torch.no_grad()
def seconds(model: NCF, users: torch.Tensor, items: torch.Tensor, batch: int) -> float:
    began = time.perf_counter()
    for start in range(0, len(users), batch):
        chunk = users[start:start + batch]
        model(chunk, items.expand(len(chunk), -1))
    if users.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=512, help="instances scored per repeat")
    parser.add_argument("--items", type=int, default=11924)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = pick_device(args.device)
    torch.manual_seed(0)
    models = {}
    for kind in ("mlp", "neumf"):
        for factorised in (False, True):
            models[(kind, factorised)] = NCF(10_000, args.items, 64, kind, factorised=factorised).to(device).eval()
    users = torch.randint(1, 10_000, (args.users,), device=device)
    items = torch.arange(args.items + 1, device=device).unsqueeze(0)
    times = {key: [] for key in models}
    for _ in range(args.repeats):
        for key, model in models.items():
            times[key].append(seconds(model, users, items, args.batch))
    print(f"{describe_hardware(device)}; {args.users} instances × {args.items + 1:,} items, batches of {args.batch}, "
          f"median of {args.repeats}")
    print(f"{'model':8}{'literal s':>12}{'factorised s':>15}{'speed-up':>10}")
    for kind in ("mlp", "neumf"):
        slow, fast = statistics.median(times[(kind, False)]), statistics.median(times[(kind, True)])
        print(f"{kind:8}{slow:12.2f}{fast:15.2f}{slow / fast:9.1f}×")


if __name__ == "__main__":
    main()

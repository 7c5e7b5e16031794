"""SASRec's losses side by side: seconds per training step and the memory a step takes, per loss.

    python benchmarks/bench_sasrec_losses.py                       # Games at the paper's settings
    python benchmarks/bench_sasrec_losses.py --dataset ml-100k --maxlen 200

Each loss (lessons_src/sasrec/losses.py) runs in a process of its own, so that its peak resident
memory (ru_maxrss) is its own: "bce" (the authors', one negative), "ce" (full softmax, chunked over
positions within the memory budget), "ce" with an unlimited budget (the (T, N + 1) logits at once,
the baseline of the chunking) and with a small budget, "sampled" and "gbce" with 256 negatives.
The table gives the median step time over ``--steps`` steps after two warm-up steps, and the peak
resident memory above the process's memory before the first step.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

from lessons_src.data import load_interactions, sequential_split
from lessons_src.sasrec import BatchSampler, SASRec, SASRecConfig
from lessons_src.sasrec.losses import LossConfig, catalogue_chunk, sasrec_objective

CASES = {
    "bce": dict(kind="bce"),
    "ce": dict(kind="ce"),
    "ce, 16 MiB chunks": dict(kind="ce", memory_budget=16 * 2**20),
    "ce, unchunked": dict(kind="ce", memory_budget=2**40),
    "sampled (256)": dict(kind="sampled", negatives=256),
    "gbce (256, t 0.75)": dict(kind="gbce", negatives=256, calibration=0.75),
}


def one_case(args, name: str) -> dict:
    torch.set_num_threads(args.threads)
    split = sequential_split(load_interactions(args.dataset))
    torch.manual_seed(0)
    model = SASRec(SASRecConfig(n_items=split.n_items, maxlen=args.maxlen))
    sampler = BatchSampler(split.train, split.n_items, args.maxlen, args.batch_size, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.98))
    config = LossConfig(**CASES[name])
    _, seqs, positives, negatives = sampler.sample(args.steps + 2)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for step in range(args.steps + 2):
        began = time.perf_counter()
        loss = sasrec_objective(model, seqs[step], positives[step], negatives[step], config, sampler.generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - began)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"case": name, "step_ms": 1000 * statistics.median(times[2:]), "peak_mib": (peak - before) / 1024,
            "n_items": split.n_items, "chunk": catalogue_chunk(split.n_items, config.memory_budget)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="games")
    parser.add_argument("--maxlen", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # one case, in a process of its own
    args = parser.parse_args()
    if args.case:
        print(json.dumps(one_case(args, args.case)))
        return
    print(f"{args.dataset}: maxlen {args.maxlen}, batch {args.batch_size}, {args.threads} thread(s), "
          f"median of {args.steps} steps; memory budget of a chunk of 'ce' logits "
          f"{LossConfig().memory_budget / 2**20:.0f} MiB")
    print(f"{'loss':<22}{'ms / step':>10}{'× bce':>8}{'peak MiB':>10}")
    rows = []
    for name in CASES:
        done = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--case", name],
                              capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        row = rows[-1]
        print(f"{name:<22}{row['step_ms']:>10.1f}{row['step_ms'] / rows[0]['step_ms']:>8.2f}{row['peak_mib']:>10.0f}")
    print(f"catalogue: {rows[0]['n_items']:,} items; 'ce' chunk: {rows[1]['chunk']:,} positions "
          f"({rows[2]['chunk']:,} with 16 MiB)")


if __name__ == "__main__":
    main()

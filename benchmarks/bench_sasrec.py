"""SASRec speed benchmark: prints a table; compares each fast path with its baseline in one process.

    python benchmarks/bench_sasrec.py            # needs the Games data (LESSONS_DATA_DIR or download)

1. training sampler: the per-user reference sampler vs the vectorised BatchSampler (batches/s),
   on Games (short histories) and ML-100k (long ones);
2. one Games epoch at the paper's settings (maxlen 50, d 50, 2 blocks, 1 head, dropout 0.5,
   batch 128): the straightforward implementation (baseline) vs ours (padding skipped on the
   CPU, byte dropout, one embedding lookup, fused Adam);
3. evaluation throughput (users/s) for the sampled and the full-ranking protocol.
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np
import torch

from lessons_src.layers.dropout import torch_dropout
from lessons_src.training.device import describe_hardware, pick_device
from lessons_src.evaluation.ranking import RankingEvaluator
from lessons_src.data import load_interactions, sequential_split
from lessons_src.sasrec import BatchSampler, SASRec, SASRecConfig, reference_sample
from lessons_src.sasrec.model import sasrec_loss


def rate(fn, seconds: float = 3.0) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (after one warm-up call)."""
    fn()
    calls, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        fn()
        calls += 1
    return calls / (time.perf_counter() - began)


def bench_sampler(split, batch: int, maxlen: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    eligible = np.flatnonzero([len(t) >= 2 for t in split.train])

    def reference_batch():
        for user in rng.choice(eligible, batch):
            reference_sample(split.train, int(user), maxlen, split.n_items, rng)

    sampler = BatchSampler(split.train, split.n_items, maxlen, batch)
    epoch = len(sampler)
    return rate(reference_batch), rate(sampler.sample), epoch * rate(lambda: sampler.sample(epoch))


def epoch_seconds(split, device, baseline: bool) -> float:
    """One epoch. ``baseline``: the straightforward implementation — every position of the padded
    grid computed, torch's Bernoulli dropout, fused attention with its own dropout, plain Adam."""
    torch.manual_seed(0)
    config = SASRecConfig(split.n_items, 50, 50, 2, 1, 0.5, pack_tokens=not baseline)
    model = SASRec(config).to(device)
    model.check_inputs = False
    sampler = BatchSampler(split.train, split.n_items, 50, 128, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.98), fused=not baseline)
    with torch_dropout() if baseline else contextlib.nullcontext():
        began = time.perf_counter()
        _, seqs, positives, negatives = sampler.sample(len(sampler))
        for seq, pos, neg in zip(seqs, positives, negatives):
            loss = sasrec_loss(*model(seq, pos, neg), pos)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - began


def bench_evaluation(split, device) -> dict[str, float]:
    torch.manual_seed(0)
    model = SASRec(SASRecConfig(split.n_items)).to(device).eval()
    out = {}
    for protocol in ("sampled", "full"):
        evaluator = RankingEvaluator(split, "test", protocol, 50, max_users=None, device=device)
        began = time.perf_counter()
        evaluator(model.score)
        out[protocol] = len(evaluator.users) / (time.perf_counter() - began)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = pick_device(args.device)
    split = sequential_split(load_interactions("games"))
    print(f"hardware: {describe_hardware(device)}")
    for name, data, maxlen in [("Games", split, 50), ("ML-100k", sequential_split(load_interactions("ml-100k")), 200)]:
        reference, one, epoch = bench_sampler(data, 128, maxlen)
        print(f"{f'{name} sampler (batches/s, B=128, L={maxlen})':44s} reference {reference:8.1f}   "
              f"vectorised {one:8.1f}   speed-up {one / reference:5.1f}×")
        print(f"{'  … a whole epoch of batches per call':44s} reference {reference:8.1f}   "
              f"vectorised {epoch:8.1f}   speed-up {epoch / reference:5.1f}×")
    base, ours = epoch_seconds(split, device, True), epoch_seconds(split, device, False)
    print(f"{'Games epoch (s), paper settings':44s} baseline  {base:8.2f}   ours       {ours:8.2f}"
          f"   speed-up {base / ours:5.1f}×")
    rates = bench_evaluation(split, device)
    print(f"{'evaluation (users/s), all test users':44s} sampled   {rates['sampled']:8.0f}   full       {rates['full']:8.0f}")

if __name__ == "__main__":
    main()

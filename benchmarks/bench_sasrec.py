"""SASRec speed benchmark: prints a table; compares each fast path with its baseline in one process.

    python benchmarks/bench_sasrec.py            # needs the Games data (LESSONS_DATA_DIR or download)
    python benchmarks/bench_sasrec.py --quick    # one repeat, a quarter of an epoch: a smoke test
    python benchmarks/bench_sasrec.py --experiments   # also the speed-ups tried on top of ours

1. training sampler: the per-user reference sampler vs the vectorised BatchSampler (batches/s),
   on Games (short histories) and ML-100k (long ones);
2. half a Games epoch at the paper's settings (maxlen 50, d 50, 2 blocks, 1 head, dropout 0.5,
   batch 128) of our model: ``SASRecConfig(fast=False)`` (padded grid, explicit softmax, torch's
   Bernoulli dropout, plain Adam) vs ``fast=True`` (padding skipped on the CPU, byte dropout,
   fused Adam);
3. one Games epoch, the same number of steps, of a port-style trainer (``port_style.py``: the
   way pmixer/SASRec.pytorch trains, with its worker-process sampler) vs our trainer's epoch
   (what ``lessons_src.sasrec.train.fit`` does per epoch), and ours with the batch run in
   history-length buckets (``bucketed_forward_loss``: exact, a candidate for the library);
4. evaluation throughput (users/s) for the sampled and the full-ranking protocol.

Sections 2 and 3 alternate baseline and ours ``--repeats`` times, so both see the same machine
load, and give the median. On a small shared machine (2 cores, other jobs running) torch's two
OpenMP threads can lose several-fold to one thread when a core is taken: the header prints the
load average and ``--threads`` sets torch's threads for every contender alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))  # port_style.py sits next to this file

from port_style import PortTrainer  # noqa: E402

from lessons_src.data import load_interactions, sequential_split  # noqa: E402
from lessons_src.evaluation.ranking import RankingEvaluator  # noqa: E402
from lessons_src.sasrec import BatchSampler, SASRec, SASRecConfig, reference_sample  # noqa: E402
from lessons_src.sasrec.model import sasrec_loss  # noqa: E402
from lessons_src.training.device import describe_hardware, pick_device  # noqa: E402


def rate(fn, seconds: float = 3.0) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (after one warm-up call)."""
    fn()
    calls, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        fn()
        calls += 1
    return calls / (time.perf_counter() - began)


def bench_sampler(split, batch: int, maxlen: int, seconds: float) -> tuple[float, float, float]:
    rng = np.random.default_rng(0)
    eligible = np.flatnonzero([len(t) >= 2 for t in split.train])

    def reference_batch():
        for user in rng.choice(eligible, batch):
            reference_sample(split.train, int(user), maxlen, split.n_items, rng)

    sampler = BatchSampler(split.train, split.n_items, maxlen, batch)
    epoch = len(sampler)
    return (rate(reference_batch, seconds), rate(sampler.sample, seconds),
            epoch * rate(lambda: sampler.sample(epoch), seconds))


# ---------------------------------------------------------------------------- our trainer
def fused_bce(pos_logits: torch.Tensor, neg_logits: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """``sasrec_loss`` in fewer kernels: log(1+e^{−x}) = softplus(−x) for positives, softplus(x) for
    negatives, masked by multiplication instead of two boolean selections."""
    real = (pos != 0).to(pos_logits.dtype)  # (B, L)
    per_position = F.softplus(-pos_logits) + F.softplus(neg_logits)  # (B, L)
    return (per_position * real).sum() / real.sum()


def length_buckets(seq: torch.Tensor, edges: tuple[int, ...]) -> list[tuple[torch.Tensor, int]]:
    """Rows of ``seq`` (B, L) grouped by their number of real items: (row indices, longest length)."""
    lengths = (seq != 0).sum(1)  # (B,)
    groups, low = [], 0
    for high in (*edges, seq.shape[1]):
        rows = ((lengths > low) & (lengths <= high)).nonzero().squeeze(1)
        if len(rows):
            groups.append((rows, int(lengths[rows].max())))
        low = high
    return groups


def bucketed_forward_loss(model: SASRec, seq, pos, neg, edges: tuple[int, ...] = (8,)) -> torch.Tensor:
    """``sasrec_loss(*model(seq, pos, neg), pos)`` with short histories run on a narrow grid.

    Exact, not an approximation: every user is computed independently of the others, the leading
    columns cut off are padding (masked keys, dropped tokens), and positions count back from the
    newest item, so a cut grid gives each item the position it has in the full one. Attention
    costs B·L² on the grid; a Games batch (median 4 items, longest ~50) pays it mostly for padding.
    """
    pos_parts, neg_parts = [], []
    for rows, length in length_buckets(seq, edges):
        s, p, n = (t.index_select(0, rows)[:, -length:] for t in (seq, pos, neg))  # (b, length)
        pos_logits, neg_logits = model(s, p, n)
        real = p != 0
        pos_parts.append(pos_logits[real])
        neg_parts.append(neg_logits[real])
    pos_logits, neg_logits = torch.cat(pos_parts), torch.cat(neg_parts)  # (n_real,)
    bce = F.binary_cross_entropy_with_logits
    return bce(pos_logits, torch.ones_like(pos_logits)) + bce(neg_logits, torch.zeros_like(neg_logits))


BUCKET_EDGES = (5, 15)  # histories of ≤ 5, 6–15 and > 15 items; (8,) measured about as fast


class OurTrainer:
    """One ``fit`` epoch: the epoch's batches drawn at once, then forward, loss, backward, fused Adam.

    ``loss`` replaces ``sasrec_loss``; ``compile_step`` wraps forward + loss in ``torch.compile``;
    ``buckets`` runs the forward pass by history length (``bucketed_forward_loss``).
    """

    def __init__(self, split, steps: int, fast: bool = True, loss: Callable = sasrec_loss,
                 compile_step: bool = False, buckets: tuple[int, ...] | None = None, seed: int = 0):
        torch.manual_seed(seed)
        self.model = SASRec(SASRecConfig(split.n_items, 50, 50, 2, 1, 0.5, fast=fast))
        self.model.check_inputs = False  # as fit: the sampler's batches are valid by construction
        self.sampler = BatchSampler(split.train, split.n_items, 50, 128, "cpu", seed)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, betas=(0.9, 0.98), fused=True)
        self.steps, self.loss = steps, loss
        self.forward_loss = self._forward_loss
        if buckets is not None:
            self.forward_loss = lambda seq, pos, neg: bucketed_forward_loss(self.model, seq, pos, neg, buckets)
        if compile_step:
            self.forward_loss = torch.compile(self._forward_loss)

    def _forward_loss(self, seq, pos, neg):
        return self.loss(*self.model(seq, pos, neg), pos)

    def epoch(self) -> float:
        self.model.train()
        total = torch.zeros(())
        _, seqs, positives, negatives = self.sampler.sample(len(self.sampler))
        for step in range(self.steps):
            loss = self.forward_loss(seqs[step], positives[step], negatives[step])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += loss.detach()
        return float(total) / self.steps


def timed(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each contender's call, alternating between them ``repeats`` times."""
    seconds = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            seconds[name].append(timed(run))
    return seconds


def row(label: str, seconds: list[float], reference: list[float] | None = None) -> str:
    median = statistics.median(seconds)
    text = f"  {label:46s} {median:8.2f} s   (min {min(seconds):6.2f}, max {max(seconds):6.2f})"
    if reference is not None:
        text += f"   {statistics.median(reference) / median:5.1f}×"
    return text


def bench_plain_vs_fast(split, steps: int, repeats: int) -> None:
    plain, fast = OurTrainer(split, steps, fast=False), OurTrainer(split, steps, fast=True)
    plain.optimizer = torch.optim.Adam(plain.model.parameters(), lr=1e-3, betas=(0.9, 0.98))  # plain Adam
    seconds = interleaved({"plain": plain.epoch, "fast": fast.epoch}, repeats)
    print(f"Games, {steps} steps of our model, {repeats} repeats (median; × = speed-up over plain)")
    print(row("SASRecConfig(fast=False), plain Adam", seconds["plain"]))
    print(row("SASRecConfig(fast=True), fused Adam", seconds["fast"], seconds["plain"]))


def with_threads(threads: int, run: Callable[[], object]) -> Callable[[], object]:
    """``run`` under ``threads`` torch threads, the previous number restored afterwards."""
    def wrapped():
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return run()
        finally:
            torch.set_num_threads(previous)
    return wrapped


def bench_port_vs_ours(split, steps: int, repeats: int, experiments: bool) -> None:
    port = PortTrainer(split.train, split.n_items)
    try:
        port.steps(5)  # workers forked and the queue filled: the port's steady state
        contenders = {
            "port": lambda: port.steps(steps),
            "ours": OurTrainer(split, steps).epoch,
            "buckets": OurTrainer(split, steps, buckets=BUCKET_EDGES).epoch,
        }
        labels = {"port": "port-style (port_style.py)", "ours": "ours (fit's epoch, fast=True)",
                  "buckets": f"ours + length buckets {BUCKET_EDGES} (not in fit)"}
        if experiments:
            compiled = OurTrainer(split, steps, fast=False, loss=fused_bce, compile_step=True)
            began = time.perf_counter()
            compiled.forward_loss(*(t[0] for t in compiled.sampler.sample(1)[1:])).backward()
            compile_seconds = time.perf_counter() - began
            contenders |= {
                "fused_bce": OurTrainer(split, steps, loss=fused_bce).epoch,
                "compiled": compiled.epoch,
                "two_threads": with_threads(2, OurTrainer(split, steps).epoch),
            }
            labels |= {"fused_bce": "ours + fused BCE (fused_bce)",
                       "compiled": "ours, fast=False + fused BCE, torch.compile",
                       "two_threads": "ours with 2 torch threads"}
        seconds = interleaved(contenders, repeats)
    finally:
        port.close()
    print(f"Games epoch, {steps} steps of batch 128, {repeats} repeats (median; × = speed-up over port-style)")
    for name, label in labels.items():
        print(row(label, seconds[name], None if name == "port" else seconds["port"]))
    if experiments:
        print(f"  (torch.compile's first call, forward + backward: {compile_seconds:.1f} s)")


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
    parser.add_argument("--device", default=None, help="for the evaluation section; training runs on the CPU")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for every contender (default 1; 0 = torch's choice, one per core)")
    parser.add_argument("--quick", action="store_true", help="1 repeat of a quarter epoch; shorter sampler runs")
    parser.add_argument("--experiments", action="store_true", help="also time the speed-ups tried on top of ours")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = 1 if args.quick else args.repeats
    device = pick_device(args.device)
    split = sequential_split(load_interactions("games"))
    steps = len(BatchSampler(split.train, split.n_items, 50, 128))  # one epoch: users / 128
    if args.quick:
        steps //= 4
    print(f"hardware: {describe_hardware(torch.device('cpu'))}; load average {os.getloadavg()[0]:.1f} "
          f"at start; torch {torch.__version__}")
    for name, data, maxlen in [("Games", split, 50), ("ML-100k", sequential_split(load_interactions("ml-100k")), 200)]:
        reference, one, epoch = bench_sampler(data, 128, maxlen, 1.0 if args.quick else 3.0)
        print(f"{f'{name} sampler (batches/s, B=128, L={maxlen})':44s} reference {reference:8.1f}   "
              f"vectorised {one:8.1f}   speed-up {one / reference:5.1f}×")
        print(f"{'  … a whole epoch of batches per call':44s} reference {reference:8.1f}   "
              f"vectorised {epoch:8.1f}   speed-up {epoch / reference:5.1f}×")
    bench_plain_vs_fast(split, steps // 2, repeats)  # half an epoch: the plain path is slow
    bench_port_vs_ours(split, steps, repeats, args.experiments)
    rates = bench_evaluation(split, device)
    print(f"{'evaluation (users/s), all test users':44s} sampled   {rates['sampled']:8.0f}   full       {rates['full']:8.0f}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()

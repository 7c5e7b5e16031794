"""SASRec trained the way the public PyTorch port does it: the baseline of ``bench_sasrec.py``.

    python benchmarks/port_style.py              # times one Games epoch on its own

Written for this benchmark after reading pmixer/SASRec.pytorch (the widely used port of the
authors' TensorFlow code); nothing is copied from it, but every choice that costs time is kept:

* a per-user Python sampler — draw a user, walk its history backwards filling seq/pos/neg, draw
  each negative by rejection against the user's item set — running in 3 worker processes that
  hand whole batches to the trainer through a ``multiprocessing.Queue`` (its ``WarpSampler``);
* ``nn.MultiheadAttention`` (sequence-first, so a transpose around every block, and its output
  projection), point-wise feed-forward as two kernel-1 ``Conv1d``, positions counted forward
  0 … L−1 built with ``np.tile`` and looked up from numpy every batch, the timeline mask applied
  by multiplication on the whole padded (B, L, C) grid;
* three embedding lookups per step (inputs, positives, negatives), BCE on positives and on
  negatives selected with ``np.where(pos != 0)``, plain Adam, and ``loss.item()`` every step.

The model is the paper's (and the port's classic) block: Q = LN(x); x = Q + Attn(Q, x, x);
x = LN'(x); x = x + FFN(x); x = x · mask. Only speed is measured with it; it is not tested for
accuracy and the book does not use it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


# ---------------------------------------------------------------------------- sampler
def random_item_outside(history: set, n_items: int, rng: np.random.RandomState) -> int:
    """Uniform item in 1..n_items that the user has not touched (rejection sampling)."""
    item = rng.randint(1, n_items + 1)
    while item in history:
        item = rng.randint(1, n_items + 1)
    return item


def sample_user(items: np.ndarray, maxlen: int, n_items: int, rng: np.random.RandomState):
    """One user's (seq, pos, neg), each (maxlen,) int32, filled from the right."""
    seq = np.zeros(maxlen, dtype=np.int32)
    pos = np.zeros(maxlen, dtype=np.int32)
    neg = np.zeros(maxlen, dtype=np.int32)
    history = set(items.tolist())
    next_item, slot = items[-1], maxlen - 1
    for item in reversed(items[:-1]):
        seq[slot], pos[slot] = item, next_item
        neg[slot] = random_item_outside(history, n_items, rng)
        next_item, slot = item, slot - 1
        if slot < 0:
            break
    return seq, pos, neg


def sampler_worker(train, n_items: int, batch_size: int, maxlen: int, queue, seed: int) -> None:
    """Forever: walk the users in a shuffled order, put one batch of (users, seq, pos, neg) at a time."""
    rng = np.random.RandomState(seed)
    order = np.arange(len(train))
    counter = 0
    while True:
        batch = []
        for _ in range(batch_size):
            if counter % len(train) == 0:
                rng.shuffle(order)
            user = order[counter % len(train)]
            counter += 1
            while len(train[user]) < 2:  # nothing to predict: draw another user
                user = rng.randint(len(train))
            batch.append((user, *sample_user(train[user], maxlen, n_items, rng)))
        queue.put(tuple(zip(*batch)))  # four tuples of batch_size entries, pickled by the queue


class WorkerSampler:
    """Batches from ``n_workers`` processes through a bounded queue (the port's ``WarpSampler``)."""

    def __init__(self, train: Sequence[np.ndarray], n_items: int, batch_size: int, maxlen: int,
                 n_workers: int = 3, seed: int = 0):
        context = multiprocessing.get_context("fork")  # Linux's default, as the port runs it
        self.queue = context.Queue(maxsize=10 * n_workers)
        self.workers = [
            context.Process(target=sampler_worker, args=(train, n_items, batch_size, maxlen, self.queue, seed + i),
                            daemon=True)
            for i in range(n_workers)
        ]
        for worker in self.workers:
            worker.start()

    def next_batch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        users, seq, pos, neg = self.queue.get()
        return np.array(users), np.array(seq), np.array(pos), np.array(neg)  # each (B,) or (B, L)

    def close(self) -> None:
        for worker in self.workers:
            worker.terminate()
            worker.join()


# ---------------------------------------------------------------------------- model
class PortFeedForward(nn.Module):
    """x + Dropout(Conv₂(Dropout(ReLU(Conv₁(x))))) with kernel-1 convolutions over (B, C, L)."""

    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.conv1 = nn.Conv1d(hidden, hidden, kernel_size=1)
        self.dropout1 = nn.Dropout(dropout)
        self.conv2 = nn.Conv1d(hidden, hidden, kernel_size=1)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, L, C)
        y = self.dropout1(torch.relu(self.conv1(x.transpose(-1, -2))))  # (B, C, L)
        y = self.dropout2(self.conv2(y)).transpose(-1, -2)  # (B, L, C)
        return x + y


class PortSASRec(nn.Module):
    def __init__(self, n_items: int, maxlen: int = 50, hidden: int = 50, n_blocks: int = 2, n_heads: int = 1,
                 dropout: float = 0.5):
        super().__init__()
        self.hidden = hidden
        self.item_emb = nn.Embedding(n_items + 1, hidden, padding_idx=0)
        self.pos_emb = nn.Embedding(maxlen, hidden)
        self.emb_dropout = nn.Dropout(dropout)
        self.attention_norms = nn.ModuleList(nn.LayerNorm(hidden, eps=1e-8) for _ in range(n_blocks))
        self.attentions = nn.ModuleList(nn.MultiheadAttention(hidden, n_heads, dropout) for _ in range(n_blocks))
        self.forward_norms = nn.ModuleList(nn.LayerNorm(hidden, eps=1e-8) for _ in range(n_blocks))
        self.forwards = nn.ModuleList(PortFeedForward(hidden, dropout) for _ in range(n_blocks))
        self.last_norm = nn.LayerNorm(hidden, eps=1e-8)
        for parameter in self.parameters():
            if parameter.dim() > 1:
                nn.init.xavier_normal_(parameter)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def log2feats(self, log_seqs: np.ndarray) -> torch.Tensor:
        """log_seqs: (B, L) numpy ids, 0 = padding → features (B, L, C)."""
        seqs = self.item_emb(torch.LongTensor(log_seqs)) * self.hidden ** 0.5  # (B, L, C)
        positions = np.tile(np.arange(log_seqs.shape[1]), [log_seqs.shape[0], 1])  # (B, L): 0 … L−1
        seqs = self.emb_dropout(seqs + self.pos_emb(torch.LongTensor(positions)))
        keep = ~torch.BoolTensor(log_seqs == 0).unsqueeze(-1)  # (B, L, 1) the timeline mask
        seqs = seqs * keep
        length = seqs.shape[1]
        blocked = ~torch.tril(torch.ones(length, length, dtype=torch.bool))  # True = may NOT attend
        for attention_norm, attention, forward_norm, feed_forward in zip(
            self.attention_norms, self.attentions, self.forward_norms, self.forwards
        ):
            seqs = seqs.transpose(0, 1)  # (L, B, C): MultiheadAttention is sequence-first
            q = attention_norm(seqs)
            attended, _ = attention(q, seqs, seqs, attn_mask=blocked)
            seqs = (q + attended).transpose(0, 1)  # (B, L, C)
            seqs = feed_forward(forward_norm(seqs)) * keep
        return self.last_norm(seqs)

    def forward(self, seq: np.ndarray, pos: np.ndarray, neg: np.ndarray):
        features = self.log2feats(seq)  # (B, L, C)
        pos_logits = (features * self.item_emb(torch.LongTensor(pos))).sum(-1)  # (B, L)
        neg_logits = (features * self.item_emb(torch.LongTensor(neg))).sum(-1)
        return pos_logits, neg_logits


# ---------------------------------------------------------------------------- training
class PortTrainer:
    """Model, Adam and worker sampler; ``steps(n)`` runs n training steps the port's way."""

    def __init__(self, train: Sequence[np.ndarray], n_items: int, maxlen: int = 50, batch_size: int = 128,
                 lr: float = 1e-3, seed: int = 0):
        torch.manual_seed(seed)
        self.model = PortSASRec(n_items, maxlen).train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr, betas=(0.9, 0.98))
        self.bce = nn.BCEWithLogitsLoss()
        self.sampler = WorkerSampler(train, n_items, batch_size, maxlen, n_workers=3, seed=seed)

    def steps(self, n: int) -> float:
        """Runs ``n`` steps; returns the last loss."""
        for _ in range(n):
            _, seq, pos, neg = self.sampler.next_batch()
            pos_logits, neg_logits = self.model(seq, pos, neg)
            pos_labels, neg_labels = torch.ones(pos_logits.shape), torch.zeros(neg_logits.shape)
            self.optimizer.zero_grad()
            indices = np.where(pos != 0)
            loss = self.bce(pos_logits[indices], pos_labels[indices])
            loss = loss + self.bce(neg_logits[indices], neg_labels[indices])
            loss.backward()
            self.optimizer.step()
            last = loss.item()  # the port prints it every step
        return last

    def close(self) -> None:
        self.sampler.close()


def main() -> None:
    from lessons_src.data import load_interactions, sequential_split

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    split = sequential_split(load_interactions("games"))
    steps = sum(len(t) >= 2 for t in split.train) // 128
    trainer = PortTrainer(split.train, split.n_items)
    try:
        trainer.steps(5)  # workers started, queue filled
        for epoch in range(args.epochs):
            began = time.perf_counter()
            loss = trainer.steps(steps)
            print(f"epoch {epoch + 1}: {steps} steps in {time.perf_counter() - began:.2f} s, last loss {loss:.4f}")
    finally:
        trainer.close()


if __name__ == "__main__":
    main()

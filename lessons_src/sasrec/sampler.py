"""Training examples for SASRec: (input sequence, next items, negative items) per user.

For a user with training items ``s_1 … s_T`` the model reads ``s_1 … s_{T-1}`` and, at every
position t, must score the next item ``s_{t+1}`` (positive) above one item the user never
touched (negative). Sequences are cut to the last ``maxlen`` steps and padded with 0 on the left.

``reference_sample`` builds one user's arrays the way the SASRec authors' sampler does, walking the
history backwards; it is here to read and to test against. ``BatchSampler`` draws the same
distribution for a whole batch with a handful of tensor operations on the model's device.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..evaluation.ranking import left_pad
from ..evaluation.negatives import HistoryIndex


def reference_sample(
    train: Sequence[np.ndarray], user: int, maxlen: int, n_items: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One user's ``(seq, pos, neg)``, each (maxlen,), filled from the right.

    Walking the history *in reverse* fills the arrays from their last slot, so the most recent
    items are kept when the history is longer than ``maxlen`` and padding ends up on the left.
    """
    items = train[user]
    seq = np.zeros(maxlen, dtype=np.int64)
    pos = np.zeros(maxlen, dtype=np.int64)
    neg = np.zeros(maxlen, dtype=np.int64)
    history = set(items.tolist())
    next_item = items[-1]  # the target of the last input position
    slot = maxlen - 1
    for item in reversed(items[:-1]):
        seq[slot], pos[slot] = item, next_item
        # next_item is never 0 here; the check mirrors the original and documents that a
        # negative only exists where there is a positive to contrast it with
        if next_item != 0:
            neg[slot] = _random_item_outside(history, n_items, rng)
        next_item = item
        slot -= 1
        if slot < 0:
            break
    return seq, pos, neg


def _random_item_outside(history: set[int], n_items: int, rng: np.random.Generator) -> int:
    item = int(rng.integers(1, n_items + 1))
    while item in history:
        item = int(rng.integers(1, n_items + 1))
    return item


class BatchSampler:
    """Vectorised sampler with the reference distribution, living on ``device``.

    Users are drawn uniformly among those with at least two training items; ``seq`` and ``pos``
    are the last ``maxlen`` (input, next item) pairs; ``neg`` is uniform outside the user's
    training history wherever ``pos`` is not padding, 0 elsewhere.
    """

    def __init__(
        self,
        train: Sequence[np.ndarray],
        n_items: int,
        maxlen: int,
        batch_size: int,
        device: torch.device | str = "cpu",
        seed: int = 0,
        ranks: int = 1,
    ):
        if maxlen < 1 or batch_size < 1 or ranks < 1:
            raise ValueError(f"maxlen, batch_size and ranks must be ≥ 1, got {maxlen}, {batch_size}, {ranks}")
        self.ranks = ranks  # processes that each draw batch_size examples per step (torchrun)
        self.device = torch.device(device)
        self.batch_size, self.maxlen = batch_size, maxlen
        lengths = np.array([len(t) for t in train])
        eligible = np.flatnonzero(lengths >= 2)
        if len(eligible) == 0:
            raise ValueError("no user has two or more training items; nothing to learn from")
        # windows[u] = the last maxlen + 1 training items of u, left-padded: (U, maxlen + 1)
        self.windows = torch.as_tensor(left_pad(train, maxlen + 1), device=self.device)
        self.eligible = torch.as_tensor(eligible, device=self.device)
        self.history = HistoryIndex(train, n_items, self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def __len__(self) -> int:
        """Batches per epoch, as in the original code: one pass over the users on average (all
        ``ranks`` together: each of them draws ``batch_size`` examples per step)."""
        return max(1, len(self.eligible) // (self.batch_size * self.ranks))

    def sample(self, n_batches: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns ``users`` (B,) and ``seq``, ``pos``, ``neg``, each (B, maxlen) int64.

        With ``n_batches`` the tensors get a leading (n_batches,) axis: that many independent
        batches drawn in one go, which amortises the per-call overhead over an epoch.
        """
        batches = n_batches or 1
        pick = torch.randint(len(self.eligible), (batches * self.batch_size,), generator=self.generator, device=self.device)
        users = self.eligible[pick]  # (n·B,)
        window = self.windows[users]  # (n·B, L+1)
        seq = window[:, :-1]  # inputs s_1 … s_{T-1}
        pos = window[:, 1:] * (seq != 0)  # next items, 0 where the input is padding
        # negatives only where there is a positive (≈ 1 position in 8 on Games): one boolean
        # selection per call, so sample a whole epoch at once to avoid a sync per step on a GPU
        real = pos != 0
        neg = torch.zeros_like(pos)
        neg[real] = self.history.sample(users[:, None].expand_as(pos)[real], (), self.generator)
        if n_batches is None:
            return users, seq, pos, neg
        return tuple(t.view(n_batches, self.batch_size, *t.shape[1:]) for t in (users, seq, pos, neg))

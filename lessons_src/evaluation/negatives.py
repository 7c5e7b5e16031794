"""Uniform sampling of items a user has NOT interacted with, fully vectorised and exact.

For a user whose history is the sorted set ``h_0 < h_1 < … < h_{m-1}`` among items ``1..N``, the
items outside the history are ``N - m`` in number. Draw ``r`` uniformly from ``0..N-m-1`` and map it
to the r-th non-history item:

    item(r) = r + 1 + k,   k = #{ j : g_j ≤ r },   g_j = h_j − 1 − j

(``g_j`` counts the non-history items below ``h_j``). Because ``g`` is non-decreasing, ``k`` is one
``searchsorted``. Storing every user's ``g`` in one globally sorted array of keys
``user·(N+1) + g_j`` makes it one ``searchsorted`` for the whole batch: no rejection loop, no host
synchronisation, and exactly the distribution of "draw until not in the history".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


class HistoryIndex:
    """Each user's set of interacted items, on a device, for membership tests and sampling."""

    def __init__(self, histories: Sequence[np.ndarray], n_items: int, device: torch.device | str = "cpu"):
        self.n_items = n_items
        self.device = torch.device(device)
        uniques = [np.unique(np.asarray(h, dtype=np.int64)) for h in histories]
        for user, items in enumerate(uniques):
            if len(items) and (items[0] < 1 or items[-1] > n_items):
                raise ValueError(f"user {user}: item ids must lie in 1..{n_items}, got {items[0]}..{items[-1]}")
            if len(items) >= n_items:
                raise ValueError(f"user {user} has interacted with every item; no negative exists")
        sizes = np.array([len(u) for u in uniques], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        flat = np.concatenate(uniques) if offsets[-1] else np.zeros(0, dtype=np.int64)
        owner = np.repeat(np.arange(len(uniques)), sizes)
        rank_in_user = np.arange(len(flat)) - offsets[owner]
        stride = n_items + 1
        gaps = flat - 1 - rank_in_user  # g_j = h_j − 1 − j
        to = dict(device=self.device, dtype=torch.int64)
        self.stride = stride
        self.sizes = torch.as_tensor(sizes, **to)
        self.offsets = torch.as_tensor(offsets, **to)
        self.item_keys = torch.as_tensor(owner * stride + flat, **to)  # sorted
        self.gap_keys = torch.as_tensor(owner * stride + gaps, **to)  # sorted
        self.flat_items = torch.as_tensor(flat, **to)

    @property
    def n_users(self) -> int:
        return len(self.sizes)

    def contains(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Bool tensor, same shape as ``items``: is ``items[b, …]`` in the history of ``users[b]``?"""
        keys = _expand(users, items) * self.stride + items
        where = torch.searchsorted(self.item_keys, keys).clamp(max=max(len(self.item_keys) - 1, 0))
        if len(self.item_keys) == 0:
            return torch.zeros_like(items, dtype=torch.bool)
        return self.item_keys[where] == keys

    def sample(self, users: torch.Tensor, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        """Items drawn uniformly (with replacement) outside each user's history.

        users: (B,) → returns (B, *shape) int64 on the index's device.
        """
        counts = (self.n_items - self.sizes[users]).view(-1, *([1] * len(shape)))  # N − m_u
        # float64 keeps floor(u·count) unbiased to ~1e-16; Apple's MPS has no float64, and there
        # float32 (24 random bits) biases some items by up to count/2^24 relative, < 1 % below 160k items
        precision = torch.float32 if self.device.type == "mps" else torch.float64
        uniform = torch.rand((len(users), *shape), generator=generator, device=self.device, dtype=precision)
        r = torch.minimum((uniform * counts).long(), counts - 1)  # (B, *shape) in 0..N−m_u−1 (rounding-safe)
        user_keys = _expand(users, r) * self.stride
        k = torch.searchsorted(self.gap_keys, user_keys + r, right=True) - self.offsets[_expand(users, r)]
        return r + 1 + k

    def padded(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat (row, item) pairs of the histories of ``users`` — for masking a score matrix."""
        rows, flat = segments(self.offsets[users], self.sizes[users])
        return rows, self.flat_items[flat]


def segments(starts: torch.Tensor, sizes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For segments ``[starts[b], starts[b] + sizes[b])`` of a flat array: (segment b, flat index)
    of every element, concatenated — the vectorised form of ``for b: for i in range(...)``."""
    rows = torch.repeat_interleave(torch.arange(len(starts), device=starts.device), sizes)
    first = torch.repeat_interleave(torch.cumsum(sizes, 0) - sizes, sizes)  # where each segment begins in the output
    within = torch.arange(len(rows), device=starts.device) - first
    return rows, torch.repeat_interleave(starts, sizes) + within


def _expand(users: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return users.view(-1, *([1] * (like.dim() - 1))).expand_as(like)

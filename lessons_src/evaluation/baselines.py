"""Simple non-neural recommenders: every model in the book should beat these."""

from __future__ import annotations

import numpy as np
import torch

from ..data.split import SequentialSplit
from .negatives import segments


class PopularityScorer:
    """Scores every item by how often it occurs in the training sequences, for every user alike."""

    def __init__(self, split: SequentialSplit, device: torch.device | str = "cpu"):
        counts = np.bincount(np.concatenate(split.train[1:]), minlength=split.n_items + 1).astype(np.float32)
        counts[0] = 0
        self.counts = torch.as_tensor(counts, device=device)  # (N+1,)

    def __call__(self, histories: torch.Tensor, candidates: torch.Tensor | None) -> torch.Tensor:
        if candidates is None:
            return self.counts.expand(len(histories), -1)  # (B, N+1)
        return self.counts[candidates]  # (B, C)


class MarkovScorer:
    """First-order Markov chain: score(i | last item j) = #(j → i transitions in training).

    Popularity, scaled below 1, breaks ties between items with the same transition count, so that
    after an unseen last item the ranking falls back to popularity.
    """

    def __init__(self, split: SequentialSplit, device: torch.device | str = "cpu"):
        n = split.n_items + 1
        sources = np.concatenate([t[:-1] for t in split.train[1:] if len(t) > 1])
        targets = np.concatenate([t[1:] for t in split.train[1:] if len(t) > 1])
        pairs, counts = np.unique(sources * n + targets, return_counts=True)  # sorted by source
        self.device = torch.device(device)
        to = dict(device=self.device)
        self.row_start = torch.as_tensor(np.searchsorted(pairs // n, np.arange(n + 1)), **to)  # CSR rows
        self.columns = torch.as_tensor(pairs % n, **to)
        self.counts = torch.as_tensor(counts, dtype=torch.float32, **to)
        popularity = PopularityScorer(split, device).counts
        self.tie_break = popularity / (popularity.max() + 1)  # in [0, 1)

    def __call__(self, histories: torch.Tensor, candidates: torch.Tensor | None) -> torch.Tensor:
        last = histories[:, -1]  # (B,) the most recent item (histories are left-padded)
        start = self.row_start[last]
        rows, flat = segments(start, self.row_start[last + 1] - start)  # the CSR rows of `last`
        scores = self.tie_break.expand(len(last), -1).clone()  # (B, N+1)
        scores[rows, self.columns[flat]] += self.counts[flat]
        return scores if candidates is None else scores.gather(1, candidates)

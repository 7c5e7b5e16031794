"""Simple non-neural recommenders: every model in the book should beat these."""

from __future__ import annotations

import numpy as np
import torch

from ..data.split import SequentialSplit


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

"""Ranking metrics for one held-out item per user.

``rank`` is 0-based: the number of candidates scored above the target (ties count one half, the
expected rank under random tie-breaking). With one relevant item, HR@k = Recall@k.

    HR@k   = 1[rank < k]
    NDCG@k = 1[rank < k] / log2(rank + 2)      (the ideal DCG is 1/log2(2) = 1)
"""

from __future__ import annotations

import torch


def target_rank(scores: torch.Tensor, target_scores: torch.Tensor) -> torch.Tensor:
    """scores: (B, C) of all candidates incl. the target; target_scores: (B,) → rank (B,) float."""
    above = (scores > target_scores[:, None]).sum(1)
    ties = (scores == target_scores[:, None]).sum(1) - 1  # minus the target itself
    return above + 0.5 * ties


def hit_rate(ranks: torch.Tensor, k: int) -> torch.Tensor:
    """Per-user HR@k from 0-based ranks."""
    return (ranks < k).double()


def ndcg(ranks: torch.Tensor, k: int) -> torch.Tensor:
    """Per-user NDCG@k from 0-based ranks."""
    return torch.where(ranks < k, 1.0 / torch.log2(ranks.double() + 2.0), torch.zeros_like(ranks, dtype=torch.float64))

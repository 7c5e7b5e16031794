"""Ranking metrics for one held-out item per user.

``rank`` is 0-based: the number of candidates scored above the target. With one relevant item,
HR@k = Recall@k and

    HR@k   = 1[rank < k]
    NDCG@k = 1[rank < k] / log2(rank + 2)      (the ideal DCG is 1/log2(2) = 1)

When ``t`` other candidates tie with the target (a popularity scorer ties thousands of items),
the rank is uniform on {above, …, above + t} under random tie-breaking, and the evaluator reports
the *expected* metric over that range, computed in closed form.
"""

from __future__ import annotations

import torch


def rank_counts(scores: torch.Tensor, target_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """scores: (B, C) incl. the target; target_scores: (B,) → (#scored above, #tied others), each (B,)."""
    above = (scores > target_scores[:, None]).sum(1)
    ties = (scores == target_scores[:, None]).sum(1) - 1  # minus the target itself
    return above, ties


def target_rank(scores: torch.Tensor, target_scores: torch.Tensor) -> torch.Tensor:
    """Expected 0-based rank under random tie-breaking: above + ties / 2, (B,) float."""
    above, ties = rank_counts(scores, target_scores)
    return above + 0.5 * ties


def hit_rate(ranks: torch.Tensor, k: int) -> torch.Tensor:
    """Per-user HR@k from 0-based ranks."""
    return (ranks < k).double()


def ndcg(ranks: torch.Tensor, k: int) -> torch.Tensor:
    """Per-user NDCG@k from 0-based ranks."""
    gain = 1.0 / torch.log2(ranks.double() + 2.0)
    return torch.where(ranks < k, gain, torch.zeros_like(gain))


def expected_hit_rate(above: torch.Tensor, ties: torch.Tensor, k: int) -> torch.Tensor:
    """E[HR@k] with the rank uniform on {above, …, above + ties}: #(ranks < k) / (ties + 1)."""
    above, ties = above.double(), ties.double()
    return (k - above).clamp(0, None).minimum(ties + 1) / (ties + 1)


def expected_ndcg(above: torch.Tensor, ties: torch.Tensor, k: int) -> torch.Tensor:
    """E[NDCG@k] with the rank uniform on {above, …, above + ties}.

    With G[i] = Σ_{r<i} 1/log2(r+2) (for i ≤ k), the sum over the ranks below k in the range is
    G[min(above + ties + 1, k)] − G[min(above, k)].
    """
    cumulative = torch.zeros(k + 1, dtype=torch.float64, device=above.device)
    cumulative[1:] = torch.cumsum(1.0 / torch.log2(torch.arange(k, device=above.device, dtype=torch.float64) + 2), 0)
    low = above.clamp(max=k).long()
    high = (above + ties + 1).clamp(max=k).long()
    return (cumulative[high] - cumulative[low]) / (ties.double() + 1)

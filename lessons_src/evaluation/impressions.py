"""Metrics of impression logs (MIND's protocol): each impression shows a user C news, some clicked.

For one impression with scores s_1 … s_C and labels y_1 … y_C ∈ {0, 1} (P clicks, N non-clicks):

    AUC     = 1/(P·N) Σ_{i: y_i=1} Σ_{j: y_j=0} ( 1[s_i > s_j] + ½·1[s_i = s_j] )
    MRR     = 1/P Σ_{i: y_i=1} 1 / rank_i                   rank_i: 1-based position in the ranking
    nDCG@k  = DCG@k / IDCG@k,  DCG@k = Σ_{r ≤ k} y_(r) / log2(r + 1)     y_(r): label at position r

and every metric is the mean over impressions. As MIND's evaluation script does, an impression
whose candidates are all clicked or all non-clicked says nothing about a ranking and is skipped.
The ranking sorts by score, ties broken by the candidates' order in the impression (a stable sort).

Impressions come as padded grids: ``scores`` (M, C), ``labels`` (M, C) with 1 click, 0 non-click
and −1 for a padding slot of a shorter impression.
"""

from __future__ import annotations

import torch

METRICS = ("AUC", "MRR", "nDCG@5", "nDCG@10")


def _check(scores: torch.Tensor, labels: torch.Tensor) -> None:
    if scores.dim() != 2 or scores.shape != labels.shape:
        raise ValueError(f"scores and labels must both be (impressions, candidates); got {tuple(scores.shape)} "
                         f"and {tuple(labels.shape)}")
    if not torch.isin(labels, torch.tensor([-1.0, 0.0, 1.0], device=labels.device, dtype=labels.dtype)).all():
        raise ValueError("labels must be 1 (click), 0 (non-click) or -1 (padding)")


def impression_metrics(scores: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Mean AUC, MRR, nDCG@5 and nDCG@10 over the informative impressions, and their number."""
    _check(scores, labels)
    scores, labels = scores.double(), labels.double()
    real = labels >= 0  # (M, C)
    clicked = labels == 1
    skipped = clicked.sum(1) == 0
    skipped |= (real & ~clicked).sum(1) == 0
    keep = ~skipped
    scores, labels, real, clicked = scores[keep], labels[keep], real[keep], clicked[keep]
    if len(scores) == 0:
        raise ValueError("no impression has both a click and a non-click")
    per_impression = {
        "AUC": auc(scores, clicked, real),
        "MRR": mrr(scores, clicked, real),
        "nDCG@5": ndcg_at(scores, clicked, real, 5),
        "nDCG@10": ndcg_at(scores, clicked, real, 10),
    }
    metrics = {name: float(values.mean()) for name, values in per_impression.items()}
    metrics["impressions"] = int(keep.sum())
    return metrics


def auc(scores: torch.Tensor, clicked: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """(M,) AUC of each impression: the fraction of (click, non-click) pairs ordered right, ties ½."""
    negative = real & ~clicked
    above = (scores[:, :, None] > scores[:, None, :]).double()  # (M, C, C): s_i > s_j
    tied = (scores[:, :, None] == scores[:, None, :]).double()
    pairs = clicked[:, :, None] & negative[:, None, :]  # (M, C, C): i clicked, j not
    won = ((above + 0.5 * tied) * pairs).sum((1, 2))
    return won / pairs.sum((1, 2))


def ranking_positions(scores: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """(M, C) 1-based position of each candidate when sorted by score (padding slots last)."""
    masked = scores.masked_fill(~real, float("-inf"))
    order = torch.sort(masked, dim=1, descending=True, stable=True).indices  # (M, C)
    positions = torch.empty_like(order)
    positions.scatter_(1, order, torch.arange(1, scores.shape[1] + 1, device=scores.device).expand_as(order))
    return positions


def mrr(scores: torch.Tensor, clicked: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """(M,) mean reciprocal position of the clicked candidates."""
    positions = ranking_positions(scores, real).double()
    return (clicked / positions).sum(1) / clicked.sum(1)


def ndcg_at(scores: torch.Tensor, clicked: torch.Tensor, real: torch.Tensor, k: int) -> torch.Tensor:
    """(M,) nDCG@k with binary gains."""
    positions = ranking_positions(scores, real).double()
    discount = 1.0 / torch.log2(positions + 1.0)  # (M, C)
    dcg = (clicked * discount * (positions <= k)).sum(1)
    ideal_positions = torch.arange(1, scores.shape[1] + 1, device=scores.device, dtype=torch.float64)
    ideal_discount = (1.0 / torch.log2(ideal_positions + 1.0)) * (ideal_positions <= k)  # (C,)
    cumulative = torch.cumsum(ideal_discount, 0)  # IDCG with P clicks = cumulative[P − 1]
    idcg = cumulative[clicked.sum(1) - 1]
    return dcg / idcg

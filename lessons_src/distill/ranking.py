"""Ranking distillation (Tang & Wang, KDD 2018) for SASRec: a small student learns the teacher's top-K.

For every training position t the teacher ranks all items; its top-K unseen items π_1 … π_K are
treated as extra, weighted positives for the student:

    L = L_SASRec(pos, neg)  +  λ_RD · L_RD,      L_RD = − Σ_{r=1..K} w_r · log σ(ŷ_{π_r})

The weights favour the top of the teacher's list ("position importance", w_r ∝ exp(−r/λ)) and,
in the hybrid scheme, the items the student still ranks too low ("ranking discrepancy",
w_r ∝ tanh(max(μ·(r̂_r − r), 0)) with r̂_r the student's rank of π_r, estimated from a sample).

The teacher's lists are computed once, before training (the teacher is frozen): a table
(U, L, K) aligned with the sampler's fixed per-user windows, so a batch looks them up by user.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..training.device import evaluating
from ..evaluation.negatives import HistoryIndex
from ..sasrec.model import SASRec, sasrec_loss


def position_weights(k: int, lam: float) -> Tensor:
    """w_r = exp(−r/λ) / Σ_s exp(−s/λ) for r = 1 … k: (k,), sums to one, decreasing in r."""
    if k < 1:
        raise ValueError(f"k must be ≥ 1, got {k}")
    if not (lam > 0 and math.isfinite(lam)):
        raise ValueError(f"lam (the position-weight temperature λ) must be a finite number > 0, got {lam}")
    ranks = torch.arange(1, k + 1, dtype=torch.float32)
    weights = torch.exp(-ranks / lam)
    return weights / weights.sum()


def discrepancy_weights(estimated_ranks: Tensor, mu: float) -> Tensor:
    """w_r = tanh(max(μ·(r̂_r − r), 0)): large where the student ranks π_r far below r. (..., K) → (..., K)."""
    teacher_ranks = torch.arange(1, estimated_ranks.shape[-1] + 1, device=estimated_ranks.device)  # r = 1 … K
    return torch.tanh((mu * (estimated_ranks - teacher_ranks)).clamp_min(0))


def ranking_distillation_loss(logits: Tensor, weights: Tensor) -> Tensor:
    """L_RD = − Σ_r w_r · log σ(ŷ_{π_r}), averaged over rows. ``logits`` (R, K), ``weights`` (R, K) or (K,)."""
    if logits.dim() != 2 or weights.shape[-1] != logits.shape[-1]:
        raise ValueError(f"logits must be (R, K) and weights (R, K) or (K,), got {tuple(logits.shape)} "
                         f"and {tuple(weights.shape)}")
    if logits.shape[0] == 0:
        return logits.sum()  # no real position in the batch: zero, still part of the graph
    return -(weights * torch.nn.functional.logsigmoid(logits)).sum(-1).mean()


@torch.no_grad()
def teacher_top_k(
    teacher: SASRec, windows: Tensor, train: list[np.ndarray], n_items: int, k: int = 10,
    batch_size: int = 256, progress: bool = True,
) -> Tensor:
    """The teacher's top-``k`` items at every real input position of every user's window.

    ``windows`` (U, L + 1) are the sampler's left-padded training windows (inputs = ``[:, :-1]``).
    Items of the user's own training history are never in the list (they are the positives, and
    the negatives are drawn outside them). Returns (U, L, k) int64, 0 at padding positions.
    """
    if k < 1 or k > n_items:
        raise ValueError(f"k must lie in 1..n_items={n_items}, got {k}")
    device = next(teacher.parameters()).device
    windows = windows.to(device)
    seen = HistoryIndex(train, n_items, device)
    table = torch.zeros(*windows[:, :-1].shape, k, dtype=torch.int64, device=device)  # (U, L, k)
    with evaluating(teacher):
        starts = range(0, len(windows), batch_size)
        for start in tqdm(starts, desc="teacher top-K", disable=not progress, leave=False):
            users = torch.arange(start, min(start + batch_size, len(windows)), device=device)
            seq = windows[users, :-1]  # (B, L)
            real = seq != 0  # (B, L)
            if not real.any():
                continue
            features = teacher.encode(seq)[real]  # (R, C) one row per real position
            scores = features @ teacher.item_embedding.weight.T  # (R, N + 1)
            row_user = users[:, None].expand_as(seq)[real]  # (R,) each row's user
            rows, items = seen.padded(row_user)  # (R, H) each row's own history
            scores[rows, items] = -torch.inf  # padding entries point at column 0, masked next
            scores[:, 0] = -torch.inf
            table[users[:, None].expand_as(seq)[real], real.nonzero()[:, 1]] = scores.topk(k, dim=1).indices
    return table


class RankingDistillation:
    """The training loss ``fit(loss_fn=…)`` calls: SASRec's loss plus λ_RD · L_RD on the teacher's lists.

    ``top_k`` (U, L, K) from :func:`teacher_top_k`; ``weighting`` is ``"position"`` (w_r ∝ exp(−r/λ))
    or ``"hybrid"`` (position × ranking discrepancy, renormalised per row).
    """

    def __init__(
        self, top_k: Tensor, n_items: int, rd_weight: float = 0.5, lam: float = 5.0,
        weighting: str = "position", mu: float = 0.1, rank_samples: int = 100,
        generator: torch.Generator | None = None,
    ):
        if weighting not in ("position", "hybrid"):
            raise ValueError(f"weighting must be 'position' or 'hybrid', got {weighting!r}")
        if rd_weight < 0:
            raise ValueError(f"rd_weight (λ_RD) must be ≥ 0, got {rd_weight}")
        self.top_k, self.n_items = top_k, n_items
        self.rd_weight, self.weighting, self.mu, self.rank_samples = rd_weight, weighting, mu, rank_samples
        self.weights = position_weights(top_k.shape[-1], lam).to(top_k.device)  # (K,)
        self.generator = generator

    def __call__(self, model: SASRec, users: Tensor, seq: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        teacher_items = self.top_k[users]  # (B, L, K)
        items = torch.cat([pos[..., None], neg[..., None], teacher_items], -1)  # (B, L, 2 + K)
        features = model.encode(seq)  # (B, L, C)
        logits = torch.einsum("blc,blkc->blk", features, model.item_embedding(items))  # (B, L, 2 + K)
        base = sasrec_loss(logits[..., 0], logits[..., 1], pos)
        real = pos != 0
        distilled = logits[..., 2:][real]  # (R, K) student's scores of the teacher's top-K
        weights = self.weights
        if self.weighting == "hybrid":
            weights = self._hybrid_weights(model, features[real], distilled)  # (R, K)
        return base + self.rd_weight * ranking_distillation_loss(distilled, weights)

    @torch.no_grad()
    def _hybrid_weights(self, model: SASRec, features: Tensor, distilled: Tensor) -> Tensor:
        """Position × discrepancy weights; r̂ estimated against ``rank_samples`` uniform items."""
        sampled = torch.randint(1, self.n_items + 1, (len(features), self.rank_samples),
                                generator=self.generator, device=features.device)  # (R, S)
        vectors = model.item_embedding(sampled)  # (R, S, C)
        return hybrid_weights(self.weights, features, distilled, vectors, self.n_items, self.mu)


def hybrid_weights(position: Tensor, features: Tensor, distilled: Tensor, sampled_vectors: Tensor,
                   n_items: int, mu: float) -> Tensor:
    """w_r ∝ w^a_r · w^b_r, renormalised per row (all-zero rows stay zero).

    r̂_r = (N / S) · #{sampled j : ŷ_j > ŷ_{π_r}}, the student's estimated rank of π_r (1-based).
    ``features`` (R, C), ``distilled`` (R, K) scores, ``sampled_vectors`` (R, S, C).
    """
    sampled_scores = torch.einsum("rc,rsc->rs", features, sampled_vectors)  # (R, S)
    above = (sampled_scores[:, None, :] > distilled[..., None]).sum(-1)  # (R, K)
    estimated = 1 + above.float() * n_items / sampled_vectors.shape[1]  # r̂_r
    weights = position * discrepancy_weights(estimated, mu)  # (R, K)
    return weights / weights.sum(-1, keepdim=True).clamp_min(1e-12)

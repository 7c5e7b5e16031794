"""The item graph of one user's history (MGNM §3.2): every pair of history items is an edge whose
weight is learned, so the graph is fully connected before an optional sparsification.

Shapes: B users, L history positions (left-padded, id 0 = padding), d embedding size.

- **user-aware** edges (the form the public code writes but never runs, behind ``if 1:``):
  A_ij = σ( Σ_k e_ik · e_jk · p_uk ) — the same pair of items can be related for one user and
  not for another, because the user vector p_u weights each dimension of the agreement;
- **plain** edges (what the public code runs): A_ij = σ(e_i · e_j), the same for every user.

Both are symmetric (A_ij = A_ji), and rows and columns of padding positions are 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

EDGE_FORMS = ("user_aware", "plain")


def edge_weights(items: Tensor, real: Tensor, user: Tensor | None = None, form: str = "user_aware") -> Tensor:
    """items (B, L, d), real (B, L) bool, user (B, d) → adjacency A (B, L, L), padding masked."""
    if form not in EDGE_FORMS:
        raise ValueError(f"form must be one of {EDGE_FORMS}, got {form!r}")
    if form == "user_aware":
        if user is None:
            raise ValueError("the user-aware graph needs the user vectors p_u (B, d)")
        # A_ij = σ( Σ_k e_ik e_jk p_uk )
        logits = torch.einsum("bik,bjk,bk->bij", items, items, user)  # (B, L, L)
    else:
        # A_ij = σ( e_i · e_j )
        logits = items @ items.transpose(1, 2)  # (B, L, L)
    pair_is_real = real.unsqueeze(2) & real.unsqueeze(1)  # (B, L, L)
    return torch.sigmoid(logits) * pair_is_real


def keep_strongest(adjacency: Tensor, per_row: int) -> Tensor:
    """Sparsify: keep each node's ``per_row`` heaviest edges (and every edge its partner keeps,
    so the graph stays symmetric); the others become 0. (B, L, L) → (B, L, L)."""
    if per_row < 1:
        raise ValueError(f"per_row must be ≥ 1, got {per_row}")
    per_row = min(per_row, adjacency.shape[-1])
    threshold = adjacency.topk(per_row, dim=-1).values[..., -1:]  # (B, L, 1): the row's k-th weight
    kept = (adjacency >= threshold) & (adjacency > 0)
    kept = kept | kept.transpose(1, 2)
    return adjacency * kept


def normalise(adjacency: Tensor, real: Tensor) -> Tensor:
    """Â = D^{-1/2} (A + I) D^{-1/2} with self-loops on real nodes only, D_ii = Σ_j (A + I)_ij.

    Padding rows and columns stay 0 (their degree is 0 and is not inverted)."""
    loops = torch.diag_embed(real.to(adjacency.dtype))  # (B, L, L)
    with_loops = adjacency + loops
    degree = with_loops.sum(-1)  # (B, L)
    inverse_root = torch.where(degree > 0, degree.clamp_min(1e-12).rsqrt(), torch.zeros_like(degree))
    return inverse_root.unsqueeze(2) * with_loops * inverse_root.unsqueeze(1)


def adjacency_l1(adjacency: Tensor) -> Tensor:
    """Σ_ij |A_ij| per batch, the public code's sparsity term (weighted 1e-5 there): a scalar."""
    return adjacency.abs().sum()

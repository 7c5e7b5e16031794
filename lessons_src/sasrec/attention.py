"""Masks and multi-head self-attention with a fused path and an explicit, inspectable path.

Convention: our masks say where attention is ALLOWED (True = may attend), the convention of
``torch.nn.functional.scaled_dot_product_attention``. ``torch.nn.MultiheadAttention`` uses the
opposite convention (True = blocked), which is why the original code builds ``~tril``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..layers.dropout import byte_dropout, byte_dropout_active
from .tokens import TokenLayout


def causal_mask(length: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(L, L) bool, True where query position i may attend to key position j, i.e. j ≤ i."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def attention_mask(seq: torch.Tensor, mask_padding_keys: bool = True) -> torch.Tensor:
    """(B, L, L) allowed-mask for left-padded ``seq`` (B, L): causal ∧ key is a real item.

    Blocking padding keys alone would leave the query rows of padding positions with nothing to
    attend to, and a softmax over only −∞ is NaN. Every position may therefore always attend to
    itself: real positions lose nothing (they may attend to themselves anyway) and padding rows
    stay finite; their outputs are zeroed afterwards by the timeline mask.
    """
    batch, length = seq.shape
    allowed = causal_mask(length, seq.device).expand(batch, length, length)
    if mask_padding_keys:
        real_key = (seq != 0)[:, None, :]  # (B, 1, L)
        diagonal = torch.eye(length, dtype=torch.bool, device=seq.device)
        allowed = (allowed & real_key) | diagonal
    return allowed


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention over ``n_heads`` heads; queries and keys/values may differ.

    ``fused=True`` calls torch's fused kernel; ``fused=False`` (or ``return_weights=True``) spells
    the computation out and returns the attention weights for the widgets. Both give the same
    output (see the tests).
    """

    def __init__(self, hidden: int, n_heads: int, dropout: float):
        super().__init__()
        if hidden % n_heads != 0:
            raise ValueError(f"hidden size {hidden} must be divisible by the number of heads {n_heads}")
        self.n_heads, self.head_dim, self.dropout = n_heads, hidden // n_heads, dropout
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, L, d_h)

    def forward(
        self,
        queries: torch.Tensor,
        keys_values: torch.Tensor,
        allowed: torch.Tensor,
        layout: TokenLayout,
        fused: bool = True,
        return_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """queries, keys_values: tokens in ``layout`` ((B, L, C) or packed (n, C)); allowed: (B, L, L).

        Returns the output in the same layout and the weights (B, H, L, L) if requested.
        """
        batch, length = layout.shape
        q = self._heads(layout.grid(self.query(queries)))  # (B, H, L, d_h)
        k = self._heads(layout.grid(self.key(keys_values)))
        v = self._heads(layout.grid(self.value(keys_values)))
        p_drop = self.dropout if self.training else 0.0
        weights = None
        # torch's fused kernel draws its attention dropout with a slow Bernoulli on the CPU, so
        # there the explicit path (with byte dropout) is the faster one while training
        if fused and not return_weights and not (p_drop > 0 and byte_dropout_active(q)):
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed[:, None], dropout_p=p_drop)
        else:
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # QKᵀ/√d_h: (B, H, L, L)
            scores = scores.masked_fill(~allowed[:, None], float("-inf"))
            weights = scores.softmax(dim=-1)  # each query's weights over keys sum to 1
            context = byte_dropout(weights, p_drop, self.training) @ v  # (B, H, L, d_h)
        context = context.transpose(1, 2).reshape(batch, length, -1)  # (B, L, C)
        return self.out(layout.tokens(context)), weights

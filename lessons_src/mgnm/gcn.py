"""Multi-level graph convolution over the item graph (MGNM §3.2): level 0 is the raw item
embeddings, level l + 1 mixes level l over the normalised graph Â,

    X⁽ˡ⁺¹⁾ = σ( Â X⁽ˡ⁾ W⁽ˡ⁾ + b⁽ˡ⁾ )        (iterative: level l sees l hops of the graph)

so each level describes the history at a coarser grain. The public code computes every level from
the raw embeddings instead, X⁽ˡ⁾ = σ(Â X⁽⁰⁾ W⁽ˡ⁻¹⁾) — one hop at every level — and in its first
release with one weight for all levels, which makes every level after 0 the same tensor. Both are
switches here (``iterative=False``, ``shared_weights=True``) so their cost can be measured.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MultiLevelGCN(nn.Module):
    def __init__(self, hidden: int, levels: int, iterative: bool = True, shared_weights: bool = False,
                 negative_slope: float = 0.2):
        """``levels`` counts the convolved levels (the public code's 4-level model is levels=3 + the raw one)."""
        super().__init__()
        if levels < 0:
            raise ValueError(f"levels must be ≥ 0, got {levels}")
        self.iterative, self.negative_slope = iterative, negative_slope
        count = min(levels, 1) if shared_weights else levels
        self.layers = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(count))
        self.levels = levels
        for layer in self.layers:  # the public code draws N(0, 0.01²); keeps early levels near Â X
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.normal_(layer.bias, std=0.01)

    def forward(self, items: Tensor, graph: Tensor, real: Tensor) -> list[Tensor]:
        """items X⁽⁰⁾ (B, L, d), normalised graph Â (B, L, L), real (B, L) → [X⁽⁰⁾ … X⁽ᴸ⁾], each (B, L, d).

        Padding rows are 0 at every level (the bias would otherwise give them a value)."""
        keep = real.unsqueeze(-1).to(items.dtype)  # (B, L, 1)
        outputs = [items * keep]
        for level in range(self.levels):
            layer = self.layers[min(level, len(self.layers) - 1)]
            source = outputs[-1] if self.iterative else outputs[0]
            # X⁽ˡ⁺¹⁾ = σ(Â X⁽ˡ⁾ W⁽ˡ⁾ + b⁽ˡ⁾), σ = leaky ReLU as in the public code
            mixed = F.leaky_relu(layer(graph @ source), self.negative_slope)  # (B, L, d)
            outputs.append(mixed * keep)
        return outputs

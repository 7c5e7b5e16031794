"""Where the real items of a left-padded batch are, and how to skip the padding.

In the Games data the median user has 4 training items, so a batch padded to ``maxlen = 50`` is
almost 90 % padding. Everything in a SASRec block except attention works position by position, so
it can run on the real tokens alone, packed into an ``(n_real, C)`` tensor; only attention needs
the ``(B, L, C)`` grid, and padding positions there are exact zeros. This gives the same outputs
at real positions as computing on the whole grid (tested), provided padding keys are masked.
"""

from __future__ import annotations

import torch


class TokenLayout:
    """Packs (B, L, C) grids to (n_real, C) token tensors and back; or does nothing (``packed=False``)."""

    def __init__(self, seq: torch.Tensor, packed: bool):
        self.shape = seq.shape  # (B, L)
        self.real = seq != 0  # (B, L)
        self.packed = packed
        if packed:
            self.index = self.real.flatten().nonzero().squeeze(1)  # (n_real,) flat grid positions

    def tokens(self, grid: torch.Tensor) -> torch.Tensor:
        """(B, L, C) → (n_real, C) if packed, else the grid with padding rows set to zero."""
        if self.packed:
            return grid.flatten(0, 1).index_select(0, self.index)
        return grid * self.real.unsqueeze(-1)

    def zero_padding(self, tokens: torch.Tensor) -> torch.Tensor:
        """Zero the padding positions (a no-op when packed: there are none)."""
        return tokens if self.packed else tokens * self.real.unsqueeze(-1)

    def grid(self, tokens: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`tokens`: (n_real, C) → (B, L, C) with zeros at padding."""
        if not self.packed:
            return tokens
        batch, length = self.shape
        flat = tokens.new_zeros(batch * length, tokens.shape[-1])
        return flat.index_copy(0, self.index, tokens).view(batch, length, -1)

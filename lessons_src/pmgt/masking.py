"""Masked node-feature reconstruction needs masked inputs (§3.4), chosen as BERT chooses tokens.

In every sequence [centre, context…] a share ``rate`` (20 %: 2 of 10) of the *real context* positions
is picked (the centre never is). A picked node is replaced by the [MASK] vector with probability 0.8,
by a random item with probability 0.1, and left as it is with probability 0.1. The reconstruction
targets are the raw features of the ids **before** replacement — reading them after would ask the model
to reconstruct the random item it was shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class MaskedBatch:
    inputs: Tensor  # (B, S) ids fed to the model (random replacements applied), −1 padding
    use_mask_token: Tensor  # (B, S) bool: the input at this position is the [MASK] vector
    masked: Tensor  # (B, S) bool: picked positions, the ones the feature loss reads
    targets: Tensor  # (B, S) ids whose raw features are the targets (the original ids)


def mask_context(ids: Tensor, n_items: int, rate: float = 0.2, generator: torch.Generator | None = None,
                 replace=(0.8, 0.1, 0.1)) -> MaskedBatch:
    """ids (B, S) with the centre at position 0 and −1 padding → a :class:`MaskedBatch`.

    Each row picks round(rate · #real context) positions, at least one when it has any context."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must lie in [0, 1], got {rate}")
    if abs(sum(replace) - 1.0) > 1e-9 or min(replace) < 0:
        raise ValueError(f"replace = (mask, random, keep) must be probabilities summing to 1, got {replace}")
    targets = ids.clone()  # read before any replacement
    candidate = ids >= 0
    candidate[:, 0] = False  # the centre is never masked
    n_real = candidate.sum(1)  # (B,)
    n_pick = torch.where(n_real > 0, torch.round(n_real * rate).clamp_min(1), torch.zeros_like(n_real))
    if rate == 0:
        n_pick = torch.zeros_like(n_real)
    key = torch.rand(ids.shape, generator=generator).masked_fill(~candidate, 2.0)  # non-candidates last
    rank = key.argsort(1).argsort(1)  # (B, S) rank of each position's key within its row
    masked = rank < n_pick.unsqueeze(1)
    choice = torch.rand(ids.shape, generator=generator)
    use_mask_token = masked & (choice < replace[0])
    use_random = masked & (choice >= replace[0]) & (choice < replace[0] + replace[1])
    random_ids = torch.randint(0, n_items, ids.shape, generator=generator)
    inputs = torch.where(use_random, random_ids, ids)
    return MaskedBatch(inputs=inputs, use_mask_token=use_mask_token, masked=masked, targets=targets)

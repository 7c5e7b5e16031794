"""The two pre-training objectives (§3.4), summed.

* Graph-structure reconstruction: the centre's output z_c should be close to the output of a true
  neighbour z_p and far from that of a random item z_n (the centre of another sequence of the batch):
      L_s = − log σ(cos(z_c, z_p)) − log(1 − σ(cos(z_c, z_n)))
  one positive and one negative per centre, as the official code. (That code's cosine helper returns
  a tuple which the loss then treats as logits — a pitfall.)
* Masked node-feature reconstruction: at the masked positions, and only there, a linear head per
  modality predicts the raw features of the original item:
      L_f = mean over masked positions p and present modalities m of ‖W_m z_p − x_m(p)‖² / d_m
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def structure_loss(outputs: Tensor, ids: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """outputs (B, S, h), ids (B, S) (−1 padding) → L_s, averaged over centres that have context."""
    has_context = (ids[:, 1:] >= 0).any(1)  # (B,)
    if not has_context.any() or len(ids) < 2:
        return outputs.sum() * 0.0
    # one real context position per centre, uniformly
    key = torch.rand(ids[:, 1:].shape, generator=generator).masked_fill(ids[:, 1:] < 0, -1.0)
    positive_at = 1 + key.argmax(1)  # (B,)
    rows = torch.arange(len(ids))
    centre, positive = outputs[:, 0], outputs[rows, positive_at]  # (B, h)
    # the negative: the centre of another sequence (a random shift of the batch, never itself)
    shift = int(torch.randint(1, len(ids), (1,), generator=generator))
    negative = outputs[:, 0].roll(shift, dims=0)
    positive_logit = F.cosine_similarity(centre, positive, dim=-1)  # (B,)
    negative_logit = F.cosine_similarity(centre, negative, dim=-1)
    loss = F.binary_cross_entropy_with_logits(positive_logit, torch.ones_like(positive_logit), reduction="none") \
        + F.binary_cross_entropy_with_logits(negative_logit, torch.zeros_like(negative_logit), reduction="none")
    return loss[has_context].mean()


def feature_loss(outputs: Tensor, masked: Tensor, targets: list[Tensor], present: Tensor,
                 heads: nn.ModuleList) -> Tensor:
    """outputs (B, S, h), masked (B, S) bool, targets[m] (B, S, d_m), present (B, S, M) → L_f."""
    total, count = outputs.sum() * 0.0, 0
    chosen = outputs[masked]  # (P, h) the masked positions only
    for m, head in enumerate(heads):
        keep = present[..., m][masked]  # (P,) the masked nodes that have modality m
        if keep.any():
            error = (head(chosen[keep]) - targets[m][masked][keep]).pow(2).mean(-1)  # (P_m,)
            total, count = total + error.sum(), count + int(keep.sum())
    return total / max(count, 1)

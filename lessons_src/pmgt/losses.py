"""The two pre-training objectives (§3.4), summed.

* Graph-structure reconstruction: the vector of a centre c should be close to that of a true
  neighbour p and far from that of an item n it is not joined to,
      L_s = − log σ(cos(z_c, z_p)) − log(1 − σ(cos(z_c, z_n))),
  one positive and one negative per centre, as the official code. z_v is the *pooled* output of v's
  own sequence [v, v's context] — each of c, p and n is encoded as a centre, so the loss shapes
  exactly the vectors the export writes. (The official cosine helper returns a tuple which the loss
  then treats as logits — a pitfall.)
* Masked node-feature reconstruction: at the masked positions, and only there, a linear head per
  modality predicts the raw features of the original item:
      L_f = mean over masked positions p and present modalities m of ‖W_m z_p − x_m(p)‖² / d_m

``in_context_pairs`` is a tempting shortcut, kept as a switch because it fails instructively: it
reads the positive from the centre's *own* context position and the negative from another centre of
the batch, so one pass suffices. The centre can then match its positive through attention alone,
and the model separates centres with dropout noise instead of their features (chapter 6, §6.6).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def structure_loss(centre: Tensor, positive: Tensor, negative: Tensor, has_negative: Tensor | None = None) -> Tensor:
    """centre, positive, negative (B, h) → L_s, a mean over the centres; ``has_negative`` (B,) bool
    leaves the negative term out for centres that have none (every graph item is a neighbour)."""
    positive_logit = F.cosine_similarity(centre, positive, dim=-1)  # (B,)
    negative_logit = F.cosine_similarity(centre, negative, dim=-1)
    # − log σ(cos(z_c, z_p)) and − log(1 − σ(cos(z_c, z_n)))
    pull = F.binary_cross_entropy_with_logits(positive_logit, torch.ones_like(positive_logit), reduction="none")
    push = F.binary_cross_entropy_with_logits(negative_logit, torch.zeros_like(negative_logit), reduction="none")
    if has_negative is not None:
        push = push * has_negative
    return (pull + push).mean()


def in_context_pairs(outputs: Tensor, ids: Tensor, generator: torch.Generator | None = None
                     ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The shortcut: outputs (B, S, h), ids (B, S) → centre, positive, negative (B', h) for the B'
    centres that have context, and has_negative (B',): the positive is one real context position of
    the centre's own sequence, the negative the centre of another sequence (a random shift)."""
    has_context = (ids[:, 1:] >= 0).any(1)  # (B,)
    # drawn where the generator lives (pretraining's is a CPU one), then moved next to ids
    key = torch.rand(ids[:, 1:].shape, generator=generator).to(ids.device).masked_fill(ids[:, 1:] < 0, -1.0)
    positive_at = 1 + key.argmax(1)  # (B,) one real context position, uniformly
    rows = torch.arange(len(ids), device=ids.device)
    shift = int(torch.randint(1, len(ids), (1,), generator=generator)) if len(ids) > 1 else 0
    centre, positive = outputs[:, 0], outputs[rows, positive_at]  # (B, h)
    negative = outputs[:, 0].roll(shift, dims=0)
    keep = has_context & (shift > 0)
    has_negative = torch.ones(int(keep.sum()), dtype=torch.bool, device=keep.device)
    return centre[keep], positive[keep], negative[keep], has_negative


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

"""Hinton et al. 2015 §3's "dark knowledge" test: distil on a transfer set with no 3s at all.

The student never sees a 3, nor a label "3": its only evidence is how much of the teacher's
softened probability mass *other* digits put on class 3 (a 5 that looks a bit like a 3, a 8 …).
If it still recognises most 3s, that mass carried real information. Its bias for class 3 is
too low afterwards (it was never rewarded for answering 3), so the paper raises that one bias by
a constant; here the constant is chosen on the *training* images, never on the test set.
"""

from __future__ import annotations

import torch
from torch import Tensor


def without_class(data: dict[str, Tensor], digit: int, teacher_logits: Tensor) -> tuple[dict[str, Tensor], Tensor]:
    """The training split (and the teacher's logits on it) with every image of ``digit`` removed."""
    if not 0 <= digit <= 9:
        raise ValueError(f"digit must lie in 0..9, got {digit}")
    if len(teacher_logits) != len(data["train_y"]):
        raise ValueError(f"teacher_logits has {len(teacher_logits)} rows for {len(data['train_y'])} training images")
    keep = data["train_y"] != digit  # (N,)
    transfer = dict(data, train_x=data["train_x"][keep], train_y=data["train_y"][keep])
    return transfer, teacher_logits[keep]


def errors_by_class(logits: Tensor, labels: Tensor, n_classes: int = 10) -> Tensor:
    """Misclassified images of each true class: (n_classes,) int64."""
    wrong = logits.argmax(1) != labels  # (N,)
    return torch.bincount(labels[wrong], minlength=n_classes)


def bias_shift_errors(logits: Tensor, labels: Tensor, digit: int, shifts: Tensor) -> Tensor:
    """Errors after adding each shift to the logit (i.e. the output bias) of ``digit``: (S,) int64."""
    bump = torch.zeros(len(shifts), logits.shape[1], dtype=logits.dtype, device=logits.device)
    bump[:, digit] = shifts.to(logits)  # (S, C)
    shifted = logits[None] + bump[:, None, :]  # (S, N, C)
    return (shifted.argmax(-1) != labels[None]).sum(1)


def choose_bias_shift(logits: Tensor, labels: Tensor, digit: int, shifts: Tensor) -> float:
    """The shift (among ``shifts``) with the fewest errors on ``(logits, labels)``; the smallest on ties."""
    errors = bias_shift_errors(logits, labels, digit, shifts)
    return float(shifts[int(torch.argmin(errors))])  # argmin returns the first minimum

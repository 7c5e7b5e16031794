"""Distillation losses (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network").

Notation as in the paper: the student's logits z (B, C), the teacher's logits v (B, C), the softened
distributions q = softmax(z/T) (student) and p = softmax(v/T) (teacher), C classes, a batch of B.

    L = α · T² · KL(p ‖ q) + (1 − α) · CE(z, y)

The T² keeps the soft term's gradient at the same size whatever the temperature: ∂KL/∂z_i =
(q_i − p_i)/T, and for large T, q_i − p_i ≈ (z_i − v_i)/(C·T) for zero-meaned logits, so without
the T² the soft gradient would shrink like 1/T² (§2 of the paper).
"""

from __future__ import annotations

import math
from numbers import Real

import torch.nn.functional as F
from torch import Tensor


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _check_temperature(temperature: float) -> None:
    if not (_is_number(temperature) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")


def _check(
    student_logits: Tensor, teacher_logits: Tensor, labels: Tensor | None, temperature: float, alpha: float | None
) -> None:
    """Raise ``ValueError`` naming the offending argument."""
    _check_temperature(temperature)
    if alpha is not None and not (_is_number(alpha) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    if student_logits.dim() != 2:
        raise ValueError(f"student_logits must be (B, C), got shape {tuple(student_logits.shape)}")
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(
            f"teacher_logits {tuple(teacher_logits.shape)} must have the shape of "
            f"student_logits {tuple(student_logits.shape)}"
        )
    if labels is not None and labels.shape != student_logits.shape[:1]:
        raise ValueError(f"labels must be (B,) = ({student_logits.shape[0]},), got shape {tuple(labels.shape)}")


def soften(logits: Tensor, temperature: float) -> Tensor:
    """The softened distribution, Hinton et al. 2015 eq. 1: q_i = exp(z_i/T) / Σ_j exp(z_j/T).

    ``logits`` (..., C) → probabilities (..., C). T = 1 is the ordinary softmax; larger T spreads
    the mass over the classes the model thinks unlikely, which is where the "dark knowledge" lives.
    """
    _check_temperature(temperature)
    return F.softmax(logits / temperature, dim=-1)


def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    labels: Tensor,
    temperature: float,
    alpha: float,
    return_parts: bool = False,
) -> Tensor | tuple[Tensor, Tensor, Tensor]:
    """α · T² · KL(p_T ‖ q_T) + (1 − α) · CE(z, y), averaged over the batch.

    ``student_logits`` z (B, C), ``teacher_logits`` v (B, C), ``labels`` y (B,) int64 class indices.
    The teacher is detached here, so it never receives a gradient from the student's loss.
    With ``return_parts=True`` returns ``(total, soft, hard)``, where ``soft`` = T² · KL (without α)
    and ``hard`` = CE (without 1 − α), all scalars.
    """
    _check(student_logits, teacher_logits, labels, temperature, alpha)
    T = temperature
    teacher_logits = teacher_logits.detach()
    # KL(p ‖ q) = 1/B Σ_b Σ_i p_bi (log p_bi − log q_bi)    ("batchmean": sum over classes, mean over batch)
    kl = F.kl_div(
        F.log_softmax(student_logits / T, dim=-1),  # log q (B, C)
        F.log_softmax(teacher_logits / T, dim=-1),  # log p (B, C)
        log_target=True,
        reduction="batchmean",
    )
    soft = T * T * kl  # ∂KL/∂z = (q − p)/T shrinks like 1/T²; T² restores its size
    # CE = −1/B Σ_b log softmax(z_b)_{y_b}    (at T = 1)
    hard = F.cross_entropy(student_logits, labels)
    total = alpha * soft + (1.0 - alpha) * hard
    return (total, soft, hard) if return_parts else total


def study_notes_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    labels: Tensor,
    temperature: float,
    alpha: float,
    return_parts: bool = False,
) -> Tensor | tuple[Tensor, Tensor, Tensor]:
    """The study notes' loss, kept ONLY so the notebook can compare it with :func:`distillation_loss`.

    The notes write ``nn.KLDivLoss()(log_softmax(z/T), softmax(v/T)) * (T*T*2.0*alpha)
    + F.cross_entropy(z, y) * (1 - alpha)``. Two things differ from the paper:

    * ``nn.KLDivLoss()``'s default ``reduction='mean'`` averages over every element, classes included,
      so its KL is the batchmean KL divided by the number of classes C;
    * the factor 2.0 doubles it.

    The effective soft weight is therefore 2/C of the batchmean version's (1/5 for MNIST's ten
    classes): the same α gives the soft targets five times less say. Recent torch warns about
    ``'mean'`` and announces it will behave like ``'batchmean'``; to reproduce the notes' numbers
    on any version we compute the element-wise mean explicitly, which is what ``'mean'`` does today.

    Same arguments and return values as :func:`distillation_loss`; ``soft`` is the notes' 2·T²·KL_mean.
    """
    _check(student_logits, teacher_logits, labels, temperature, alpha)
    T = temperature
    teacher_logits = teacher_logits.detach()
    # nn.KLDivLoss()(input, target) with reduction='mean':  1/(B·C) Σ_b Σ_i p_bi (log p_bi − log q_bi)
    pointwise = F.kl_div(
        F.log_softmax(student_logits / T, dim=-1),  # log q (B, C)
        F.softmax(teacher_logits / T, dim=-1),  # p (B, C), as probabilities like the notes
        reduction="none",
    )  # (B, C)
    soft = pointwise.mean() * (T * T * 2.0)
    hard = F.cross_entropy(student_logits, labels)
    total = soft * alpha + hard * (1.0 - alpha)
    return (total, soft, hard) if return_parts else total


def logit_matching_loss(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """½ · 1/B Σ_b Σ_i (z_bi − v_bi)², regressing the teacher's logits (Hinton §2.1, Ba & Caruana 2014).

    ``student_logits`` z (B, C), ``teacher_logits`` v (B, C, detached) → a scalar. Its gradient is
    (z − v)/B. In the high-temperature limit, for zero-meaned logits, the gradient of
    T² · KL(p_T ‖ q_T) (batchmean) tends to (z − v)/(C·B): distillation becomes this loss scaled by 1/C.
    """
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(
            f"teacher_logits {tuple(teacher_logits.shape)} must have the shape of "
            f"student_logits {tuple(student_logits.shape)}"
        )
    if student_logits.dim() != 2:
        raise ValueError(f"student_logits must be (B, C), got shape {tuple(student_logits.shape)}")
    difference = student_logits - teacher_logits.detach()  # (B, C)
    return 0.5 * difference.pow(2).sum(dim=-1).mean()

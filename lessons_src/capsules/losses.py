"""CapsNet's losses (Sabour, Frosst & Hinton 2017, §3 and §4.1).

The length of digit capsule k is the probability that digit k is present, so each class gets its
own margin loss (Eq. 4), which allows several digits in one image (MultiMNIST):

    L_k = T_k max(0, m⁺ − |v_k|)² + λ (1 − T_k) max(0, |v_k| − m⁻)²,   m⁺ = 0.9, m⁻ = 0.1, λ = 0.5

T_k = 1 iff digit k is present. λ down-weights the absent digits so that the start of learning
does not shrink every capsule. The total adds the reconstruction error, scaled down by 0.0005 so
that it does not dominate: the sum of squared differences between the decoder's output and the
pixel intensities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import torch
import torch.nn.functional as F
from torch import Tensor

from .capsnet import CapsNetOutput


def _check_number(name: str, value, low: float = 0.0) -> None:
    if not (isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value) and value >= low):
        raise ValueError(f"{name} must be a finite number ≥ {low}, got {value!r}")


def check_labels(labels: Tensor, batch: int, n_classes: int) -> None:
    """Raise ``ValueError`` unless ``labels`` is an integer (batch,) tensor with values in 0..n_classes − 1."""
    if labels.shape != (batch,):
        raise ValueError(f"labels must be (B,) = ({batch},), got shape {tuple(labels.shape)}")
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise ValueError(f"labels must hold integer class indices, got dtype {labels.dtype}")
    if batch:
        low, high = torch.stack(torch.aminmax(labels)).tolist()  # one device synchronisation, not two
        if low < 0 or high >= n_classes:
            raise ValueError(f"labels must lie in 0..{n_classes - 1}, found {low}..{high}")


def margin_loss(lengths: Tensor, labels: Tensor, m_plus: float = 0.9, m_minus: float = 0.1,
                lambda_: float = 0.5) -> Tensor:
    """Eq. 4 summed over the classes and averaged over the batch.

    ``lengths`` (B, K) the capsule lengths |v_k|; ``labels`` (B,) class indices. Returns a scalar.
    """
    if lengths.dim() != 2:
        raise ValueError(f"lengths must be (B, K), got shape {tuple(lengths.shape)}")
    check_labels(labels, lengths.shape[0], lengths.shape[1])
    _check_number("m_plus", m_plus)
    _check_number("m_minus", m_minus)
    _check_number("lambda_", lambda_)
    if not m_minus < m_plus:
        raise ValueError(f"m_minus must be < m_plus, got m_minus={m_minus}, m_plus={m_plus}")
    T = F.one_hot(labels.long(), lengths.shape[1]).to(lengths.dtype)  # (B, K)
    # L_k = T_k max(0, m⁺ − |v_k|)² + λ (1 − T_k) max(0, |v_k| − m⁻)²
    per_class = T * F.relu(m_plus - lengths) ** 2 + lambda_ * (1 - T) * F.relu(lengths - m_minus) ** 2  # (B, K)
    return per_class.sum(dim=1).mean()


def reconstruction_loss(reconstruction: Tensor, images: Tensor) -> Tensor:
    """Sum over pixels of the squared error, averaged over the batch: (B, P) vs images (B, …) → scalar."""
    target = images.reshape(images.shape[0], -1)  # (B, 784)
    if reconstruction.dim() != 2 or target.shape != reconstruction.shape:
        raise ValueError(f"images {tuple(images.shape)} do not match reconstruction "
                         f"{tuple(reconstruction.shape)}: expected the same B and number of pixels")
    return ((reconstruction - target) ** 2).sum(dim=1).mean()


@dataclass
class CapsNetLoss:
    """Scalars: ``total`` = ``margin`` + recon_weight · ``reconstruction`` (the last unscaled)."""

    total: Tensor
    margin: Tensor
    reconstruction: Tensor


def capsnet_loss(output: CapsNetOutput, images: Tensor, labels: Tensor, recon_weight: float = 0.0005) -> CapsNetLoss:
    """The paper's training objective for one batch; ``images`` (B, 1, 28, 28) or (B, 28, 28) in [0, 1]."""
    _check_number("recon_weight", recon_weight)
    margin = margin_loss(output.lengths, labels)
    reconstruction = reconstruction_loss(output.reconstruction, images)
    return CapsNetLoss(total=margin + recon_weight * reconstruction, margin=margin, reconstruction=reconstruction)

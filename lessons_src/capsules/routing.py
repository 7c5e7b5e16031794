"""The squashing non-linearity and routing-by-agreement (Sabour, Frosst & Hinton 2017, §2).

Notation as in the paper: input (lower-level) capsule i, output (higher-level) capsule j,

    û_j|i = W_ij u_i                  the prediction of capsule i for capsule j    (Eq. 2)
    c_ij  = exp(b_ij) / Σ_k exp(b_ik) coupling coefficients, a softmax over j       (Eq. 3)
    s_j   = Σ_i c_ij û_j|i            the total input of capsule j                  (Eq. 2)
    v_j   = squash(s_j)               its output                                    (Eq. 1)
    b_ij ← b_ij + û_j|i · v_j         agreement raises the logit               (Procedure 1)

Each input capsule distributes one unit of "vote" among the output capsules: Σ_j c_ij = 1. A
softmax over the *input* capsules instead (Σ_i c_ij = 1) is a bug seen in public code; it turns
routing into attention by the outputs over the inputs, and the tests pin the right axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


def squash(s: Tensor, dim: int = -1, eps: float = 1e-8) -> Tensor:
    """Eq. 1: v = |s|² / (1 + |s|²) · s / |s|, along ``dim``; any shape, same shape out.

    Keeps the direction of s and maps its length into [0, 1): short vectors shrink to almost 0
    (length ≈ |s|²), long ones to just below 1. The ``eps`` under the square root keeps value and
    gradient finite at s = 0, where v is exactly 0 (the true |s| has an infinite derivative there,
    and 0 · ∞ = NaN in backward). It changes the length by a relative eps/(2|s|²): nothing for
    |s|² ≫ eps. In float32 the length rounds to 1.0 once |s| exceeds ≈ 4,000.
    """
    squared_norm = (s * s).sum(dim=dim, keepdim=True)  # |s|², (..., 1, ...)
    # v = |s|² / (1 + |s|²) · s / |s|
    return squared_norm / (1.0 + squared_norm) * s / torch.sqrt(squared_norm + eps)


@dataclass
class Routing:
    """What :func:`dynamic_routing` computed.

    ``v`` (B, n_out, D) the output capsules after the last iteration; ``coefficients``
    (iterations, B, n_in, n_out) the c_ij used at each iteration (row r is softmax(b) before the
    r-th update, so row 0 is uniform); ``logits`` (B, n_in, n_out) the final b_ij, i.e. the ones
    the last iteration used (Procedure 1's last update would never be read, so it is skipped).
    """

    v: Tensor
    coefficients: Tensor
    logits: Tensor


def dynamic_routing(u_hat: Tensor, iterations: int = 3, detach_intermediate: bool = False) -> Routing:
    """Procedure 1 of the paper: routing by agreement between input and output capsules.

    ``u_hat`` (B, n_in, n_out, D) holds the predictions û_j|i; returns a :class:`Routing`.

    Gradients flow through every iteration, as Procedure 1 is written (it has no stop-gradient):
    the loss also sees how the couplings c_ij depend on û. ``detach_intermediate=True`` is the
    common variant that treats the couplings as constants: the iterations before the last use a
    detached û, so only the last s_j = Σ_i c_ij û_j|i sends gradient to û (less memory, same
    forward values).
    """
    if u_hat.dim() != 4:
        raise ValueError(f"u_hat must be (B, n_in, n_out, D), got shape {tuple(u_hat.shape)}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be an integer ≥ 1, got {iterations!r}")
    B, n_in, n_out, _ = u_hat.shape  # (B, n_in, n_out, D)
    # for all capsule i in layer l and capsule j in layer (l + 1): b_ij ← 0
    b = u_hat.new_zeros(B, n_in, n_out)  # (B, n_in, n_out)
    coefficients = []
    for r in range(iterations):
        last = r == iterations - 1
        u = u_hat.detach() if detach_intermediate and not last else u_hat  # (B, n_in, n_out, D)
        # c_i ← softmax(b_i): each input capsule i splits its vote over the output capsules j
        c = F.softmax(b, dim=2)  # (B, n_in, n_out), Σ_j c_ij = 1
        coefficients.append(c)
        # s_j ← Σ_i c_ij û_j|i
        s = torch.einsum("bij,bijd->bjd", c, u)  # (B, n_out, D)
        # v_j ← squash(s_j)
        v = squash(s, dim=-1)  # (B, n_out, D)
        if not last:  # the last update of b would never be read
            # b_ij ← b_ij + û_j|i · v_j
            b = b + torch.einsum("bijd,bjd->bij", u, v)  # (B, n_in, n_out)
    return Routing(v=v, coefficients=torch.stack(coefficients), logits=b)

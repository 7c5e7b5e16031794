"""Dropout whose CPU mask costs 8 random bits per element instead of a Bernoulli draw.

On the CPU, ``torch.nn.functional.dropout`` draws one Bernoulli sample per element, and for the
small tensors of a recommender that draw dominates a training step (≈ 4.5 ms for 128×50×50 values,
against ≈ 0.5 ms here; see ``benchmarks/bench_sasrec.py``). Eight uniform random bits per element
are plenty: an element is kept when its byte, read as a signed int8 ``s`` ∈ {−128 … 127}, satisfies
``s ≥ round(256·p) − 128``, which happens with probability ``1 − round(256·p)/256``. The drop
probability is therefore ``p`` rounded to a multiple of 1/256 (exact for 0.5, 0.25; 0.2 → 0.199).
On other devices the standard kernel is already fast and is used unchanged.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

_state = {"byte_dropout_on_cpu": True}


def byte_dropout_active(x: torch.Tensor) -> bool:
    """Whether :func:`byte_dropout` would use the byte mask (rather than torch's kernel) for ``x``."""
    return x.device.type == "cpu" and _state["byte_dropout_on_cpu"]


@contextmanager
def torch_dropout():
    """Inside this block every dropout uses torch's own kernel (the benchmark's baseline)."""
    previous = _state["byte_dropout_on_cpu"]
    _state["byte_dropout_on_cpu"] = False
    try:
        yield
    finally:
        _state["byte_dropout_on_cpu"] = previous


def byte_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Inverted dropout: zero each element with probability ≈ p, scale survivors by 1/(1−p)."""
    if not training or p == 0.0:
        return x
    if not byte_dropout_active(x):
        return F.dropout(x, p, True)
    threshold = round(256 * p)
    if threshold >= 256:
        return torch.zeros_like(x)
    n_words = (x.numel() + 7) // 8
    words = torch.empty(n_words, dtype=torch.int64).random_(-(2**63), 2**63 - 1)
    signed = words.view(torch.int8)[: x.numel()].view(x.shape)
    keep = signed >= threshold - 128  # P(keep) = 1 − threshold/256
    return x * (keep.to(x.dtype) * (256.0 / (256 - threshold)))


class ByteDropout(nn.Module):
    """Drop-in replacement for ``nn.Dropout`` using :func:`byte_dropout`."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must lie in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return byte_dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"

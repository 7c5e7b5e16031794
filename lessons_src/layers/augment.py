"""Image augmentation shared by the MNIST chapters (the distillation teacher, CapsNet)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def jitter(images: Tensor, max_shift: int = 2, generator: torch.Generator | None = None) -> Tensor:
    """Translate each image by its own random (dy, dx) ∈ {−max_shift … max_shift}², filling with 0.

    ``images`` (B, H, W) or (B, K, H, W), any dtype; returns the same shape and dtype.
    out[b, …, y, x] = images[b, …, y − dy_b, x − dx_b]   (0 where that falls outside the image)
    Done as one pad and one gather, no Python loop over the batch.
    """
    if images.dim() not in (3, 4):
        raise ValueError(f"images must be (B, H, W) or (B, K, H, W), got shape {tuple(images.shape)}")
    if max_shift < 0:
        raise ValueError(f"max_shift must be ≥ 0, got {max_shift}")
    if max_shift == 0:
        return images.clone()
    m = max_shift
    x = images if images.dim() == 4 else images.unsqueeze(1)  # (B, K, H, W)
    B, K, H, W = x.shape
    padded = F.pad(x, (m, m, m, m))  # (B, K, H + 2m, W + 2m), zeros around
    device = generator.device if generator is not None else x.device
    shifts = torch.randint(-m, m + 1, (B, 2), generator=generator, device=device).to(x.device)  # (B, 2) = (dy, dx)
    # out[y] = padded[y + m − dy]
    rows = torch.arange(H, device=x.device) + m - shifts[:, :1]  # (B, H)
    cols = torch.arange(W, device=x.device) + m - shifts[:, 1:]  # (B, W)
    batch = torch.arange(B, device=x.device)[:, None, None, None]  # (B, 1, 1, 1)
    channel = torch.arange(K, device=x.device)[None, :, None, None]  # (1, K, 1, 1)
    out = padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]  # (B, K, H, W)
    return out if images.dim() == 4 else out.squeeze(1)

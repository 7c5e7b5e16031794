"""The MNIST teacher and student of Hinton et al. 2015 (§3), and the teacher's input jitter.

    teacher = MLP([784, 1200, 1200, 10], dropout=0.5, input_dropout=0.2)   # trained on jittered images
    student = MLP([784, 800, 800, 10])                                     # no regularisation
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..common.dropout import ByteDropout


class MLP(nn.Module):
    """Fully connected ReLU network returning logits.

    ``sizes`` = [input, hidden…, classes]. ``input_dropout`` drops input pixels, ``dropout`` hidden
    units (after each ReLU), as in Hinton et al. 2012's dropout nets. Input (B, …) is flattened to
    (B, sizes[0]); output is (B, sizes[-1]) logits, no softmax.
    """

    def __init__(self, sizes: list[int], dropout: float = 0.0, input_dropout: float = 0.0):
        super().__init__()
        if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
            raise ValueError(f"sizes must list ≥ 2 positive layer widths (input … classes), got {sizes}")
        for name, p in (("dropout", dropout), ("input_dropout", input_dropout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must lie in [0, 1), got {p}")
        self.sizes = [int(s) for s in sizes]
        layers: list[nn.Module] = [ByteDropout(input_dropout)] if input_dropout > 0 else []
        for i, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(self.sizes) - 2:  # hidden layer: ReLU, then dropout
                layers.append(nn.ReLU())
                if dropout > 0:
                    layers.append(ByteDropout(dropout))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(1)  # (B, 28, 28) → (B, 784)
        if x.shape[1] != self.sizes[0]:
            raise ValueError(f"expected {self.sizes[0]} input features, got {x.shape[1]}")
        return self.net(x)  # (B, classes)


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

"""CapsNet for MNIST (Sabour, Frosst & Hinton 2017, §4, Fig. 1 and Fig. 2).

    image (B, 1, 28, 28)
      → Conv1       256 × 9×9, stride 1, ReLU                       (B, 256, 20, 20)
      → PrimaryCaps 32 types × 8D, 9×9, stride 2, squashed           (B, 1152, 8)      32·6·6 = 1152
      → DigitCaps   û_j|i = W_ij u_i, one W_ij (16×8) per pair (i, j) (B, 1152, 10, 16)
                    routing by agreement, 3 iterations               (B, 10, 16)
      → lengths |v_j| = probability that digit j is present          (B, 10)
    decoder: the digit capsules with all but one masked to 0         (B, 160)
      → 512 ReLU → 1024 ReLU → 784 sigmoid                          (B, 784)

Only DigitCaps routes: the paper has no routing between Conv1 and PrimaryCaps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .routing import dynamic_routing, squash


@dataclass
class CapsNetConfig:
    """Hyper-parameters; the defaults are the paper's MNIST network (8.2M parameters)."""

    conv_channels: int = 256
    conv_kernel: int = 9
    primary_types: int = 32  # capsule types ("channels") in PrimaryCaps
    primary_dim: int = 8
    primary_kernel: int = 9
    primary_stride: int = 2
    n_classes: int = 10
    digit_dim: int = 16
    routing_iterations: int = 3
    decoder_hidden: tuple[int, int] = (512, 1024)
    image_size: int = 28  # square, one channel; the decoder outputs image_size² pixels
    recon_weight: float = 0.0005  # the reconstruction loss is scaled down by this (§4.1)
    # W_ij ~ N(0, init_std²). The paper gives no value. Digit capsules start short (mean length
    # ≈ 0.007 on MNIST), but not so short that |v| ≈ |s|² leaves them no gradient: on a reduced
    # CapsNet (2 epochs, 3,000 images) the std giving such lengths beat 10× smaller and 5× larger ones
    init_std: float = 0.05

    def __post_init__(self):
        self.decoder_hidden = tuple(self.decoder_hidden)  # a list after a JSON round trip
        for name in ("conv_channels", "conv_kernel", "primary_types", "primary_dim", "primary_kernel",
                     "primary_stride", "digit_dim", "routing_iterations", "image_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer ≥ 1, got {value!r}")
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, int) or self.n_classes < 2:
            raise ValueError(f"n_classes must be an integer ≥ 2, got {self.n_classes!r}")
        if len(self.decoder_hidden) != 2 or any(not isinstance(h, int) or h < 1 for h in self.decoder_hidden):
            raise ValueError(f"decoder_hidden must be two positive widths, got {self.decoder_hidden!r}")
        if not self.recon_weight >= 0:
            raise ValueError(f"recon_weight must be ≥ 0, got {self.recon_weight!r}")
        if not self.init_std > 0:
            raise ValueError(f"init_std must be > 0, got {self.init_std!r}")
        if self.primary_grid < 1:
            raise ValueError(
                f"image_size={self.image_size} is too small for conv_kernel={self.conv_kernel} and "
                f"primary_kernel={self.primary_kernel}: PrimaryCaps would have no positions"
            )

    @property
    def primary_grid(self) -> int:
        """Side of PrimaryCaps' grid: 28 → 20 after Conv1 → 6 after the stride-2 9×9 convolution."""
        after_conv1 = self.image_size - self.conv_kernel + 1
        return (after_conv1 - self.primary_kernel) // self.primary_stride + 1

    @property
    def n_primary(self) -> int:
        """Number of primary capsules: 32 types × 6 × 6 = 1152."""
        return self.primary_types * self.primary_grid ** 2


@dataclass
class CapsNetOutput:
    """``lengths`` (B, n_classes) in [0, 1); ``digit_capsules`` (B, n_classes, digit_dim);
    ``reconstruction`` (B, image_size²) in (0, 1); ``coefficients`` (iterations, B, n_primary,
    n_classes), the routing's c_ij; ``masked_classes`` (B,) the capsule the decoder saw."""

    lengths: Tensor
    digit_capsules: Tensor
    reconstruction: Tensor
    coefficients: Tensor
    masked_classes: Tensor


class PrimaryCaps(nn.Module):
    """A convolution whose output channels are grouped into ``types`` capsules of ``dim`` numbers.

    Capsules of one type share their weights across the grid, like the units of a feature map.
    """

    def __init__(self, in_channels: int, types: int, dim: int, kernel: int, stride: int):
        super().__init__()
        self.types, self.dim = types, dim
        self.conv = nn.Conv2d(in_channels, types * dim, kernel, stride=stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)  # (B, types·dim, H, W)
        B, _, H, W = out.shape
        out = out.view(B, self.types, self.dim, H, W)  # (B, types, dim, H, W): channel = type·dim + d
        out = out.permute(0, 1, 3, 4, 2).reshape(B, self.types * H * W, self.dim)  # (B, n_primary, dim)
        return squash(out, dim=-1)  # (B, n_primary, dim)


class CapsNet(nn.Module):
    """The three-layer CapsNet with its reconstruction decoder; see the module docstring."""

    def __init__(self, config: CapsNetConfig | None = None):
        super().__init__()
        self.config = config = config or CapsNetConfig()
        self.conv1 = nn.Conv2d(1, config.conv_channels, config.conv_kernel)
        self.primary = PrimaryCaps(config.conv_channels, config.primary_types, config.primary_dim,
                                   config.primary_kernel, config.primary_stride)
        # W_ij: one 16×8 matrix for every (primary capsule i, digit capsule j) pair; not shared
        # across the grid, so each position learns its own part-whole relation
        self.W = nn.Parameter(config.init_std * torch.randn(
            config.n_primary, config.n_classes, config.digit_dim, config.primary_dim))  # (1152, 10, 16, 8)
        hidden1, hidden2 = config.decoder_hidden
        self.decoder = nn.Sequential(
            nn.Linear(config.n_classes * config.digit_dim, hidden1), nn.ReLU(),
            nn.Linear(hidden1, hidden2), nn.ReLU(),
            nn.Linear(hidden2, config.image_size ** 2), nn.Sigmoid(),
        )

    def forward(self, images: Tensor, labels: Tensor | None = None) -> CapsNetOutput:
        """``images`` (B, 1, 28, 28) or (B, 28, 28), floats in [0, 1]; ``labels`` (B,) int64 or None.

        The decoder sees only one digit capsule: the true class's while training (``self.training``
        and labels given), the longest capsule otherwise (at test, or without labels).
        """
        config = self.config
        if images.dim() == 3:
            images = images.unsqueeze(1)  # (B, 1, 28, 28)
        size = config.image_size
        if images.dim() != 4 or images.shape[1:] != (1, size, size):
            raise ValueError(f"images must be (B, 1, {size}, {size}) or (B, {size}, {size}), "
                             f"got shape {tuple(images.shape)}")
        if labels is not None:
            self._check_labels(labels, images.shape[0])
        u_hat = self.predictions(images)  # (B, 1152, 10, 16)
        routing = dynamic_routing(u_hat, config.routing_iterations)
        v = routing.v  # (B, 10, 16)
        lengths = torch.linalg.vector_norm(v, dim=-1)  # (B, 10)
        classes = labels if labels is not None and self.training else lengths.argmax(dim=1)  # (B,)
        return CapsNetOutput(lengths=lengths, digit_capsules=v, reconstruction=self.reconstruct(v, classes),
                             coefficients=routing.coefficients, masked_classes=classes)

    def predictions(self, images: Tensor) -> Tensor:
        """The votes û_j|i of every primary capsule for every digit capsule: (B, 1, 28, 28) → (B, 1152, 10, 16)."""
        h = F.relu(self.conv1(images))  # (B, 256, 20, 20)
        u = self.primary(h)  # (B, 1152, 8)
        # û_j|i = W_ij u_i
        return torch.einsum("ijdk,bik->bijd", self.W, u)  # (B, 1152, 10, 16)

    def reconstruct(self, digit_capsules: Tensor, classes: Tensor) -> Tensor:
        """Decode the capsule ``classes`` (B,) of ``digit_capsules`` (B, 10, 16), the others set to 0.

        Returns (B, 784) pixel intensities. Paper Fig. 4 perturbs one dimension of a digit capsule
        and decodes it, to show what that dimension encodes (stroke width, skew, …).
        """
        config = self.config
        expected = (config.n_classes, config.digit_dim)
        if digit_capsules.dim() != 3 or digit_capsules.shape[1:] != expected:
            raise ValueError(f"digit_capsules must be (B, {expected[0]}, {expected[1]}), "
                             f"got shape {tuple(digit_capsules.shape)}")
        self._check_labels(classes, digit_capsules.shape[0], name="classes")
        mask = F.one_hot(classes, config.n_classes).to(digit_capsules.dtype)  # (B, 10)
        masked = digit_capsules * mask[:, :, None]  # (B, 10, 16), zero but for one capsule
        return self.decoder(masked.flatten(1))  # (B, 160) → (B, 784)

    def _check_labels(self, labels: Tensor, batch: int, name: str = "labels") -> None:
        """Shape and dtype only: a range check would synchronise with the GPU (margin_loss does it)."""
        if labels.shape != (batch,):
            raise ValueError(f"{name} must be ({batch},), got shape {tuple(labels.shape)}")
        if labels.dtype != torch.int64:
            raise ValueError(f"{name} must be int64 class indices, got dtype {labels.dtype}")

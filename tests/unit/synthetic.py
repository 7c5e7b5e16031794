"""A tiny, learnable stand-in for MNIST shared by the distillation and capsule tests (imported by
the test modules: pytest puts this folder on ``sys.path``)."""

from __future__ import annotations

import torch


def synthetic_digits(n: int, seed: int, columns: slice = slice(None)) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 28, 28) images in [0, 1] whose class (0..9) is the row band holding a bright stripe."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=generator)
    images = 0.1 * torch.rand(n, 28, 28, generator=generator)
    rows = (labels * 2 + 4)[:, None] + torch.arange(2)  # (n, 2): two rows per class
    images[torch.arange(n)[:, None], rows, columns] = 1.0
    return images, labels


def synthetic_mnist(n_train: int, n_test: int, columns: slice = slice(None)) -> dict[str, torch.Tensor]:
    """The four tensors ``mnist_tensors`` returns, synthetic: train (seed 0) and test (seed 1)."""
    train_x, train_y = synthetic_digits(n_train, 0, columns)
    test_x, test_y = synthetic_digits(n_test, 1, columns)
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}

"""Choosing a device and seeding every random number generator we use."""

from __future__ import annotations

import os
import random
from contextlib import contextmanager

import numpy as np
import torch


def pick_device(preference: str | None = None) -> torch.device:
    """Return ``preference`` if given, else the best available device: cuda > mps > cpu.

    The environment variable ``LESSONS_DEVICE`` overrides the automatic choice, which lets a
    teacher force the CPU on a machine that has a GPU.
    """
    choice = preference or os.environ.get("LESSONS_DEVICE")
    if choice:
        device = torch.device(choice)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={choice!r} was requested but CUDA is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU ``torch.Generator`` seeded with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def make_generator(seed: int, device: torch.device | str) -> torch.Generator:
    """A generator living on ``device`` so that sampling there needs no host round trip."""
    return torch.Generator(device=torch.device(device)).manual_seed(seed)


def describe_hardware(device: torch.device | str) -> str:
    """One line naming the device and torch version, for results files."""
    device = torch.device(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{device.type} ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    return f"{name}, torch {torch.__version__}"


@contextmanager
def evaluating(model: torch.nn.Module):
    """Run the block with ``model`` in eval mode and without gradients; restore its mode after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)

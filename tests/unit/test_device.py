"""Device choice, seeding and the hardware line of results files."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from lessons_src.training.device import describe_hardware, make_generator, pick_device, seed_everything


def test_explicit_preference_and_environment_override(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("LESSONS_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
    assert pick_device("meta") == torch.device("meta")  # an explicit argument beats the variable


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        pick_device("cuda")


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (True, False, "cuda"),
                                                  (False, True, "mps"), (False, False, "cpu")])
def test_automatic_choice_is_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert pick_device() == torch.device(expected)


def test_automatic_choice_is_an_available_device():
    device = pick_device()
    assert device.type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        assert device.type != "cuda"


def test_seed_everything_makes_every_generator_repeat():
    def draw():
        generator = seed_everything(11)
        return random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=generator).item()

    assert draw() == draw()
    seed_everything(12)
    assert random.random() != draw()[0]


def test_make_generator_is_seeded_on_the_device():
    a = torch.rand(4, generator=make_generator(5, "cpu"))
    b = torch.rand(4, generator=make_generator(5, torch.device("cpu")))
    assert torch.equal(a, b)


def test_describe_hardware_names_device_and_torch():
    line = describe_hardware("cpu")
    assert line.startswith("cpu (") and line.endswith(f"torch {torch.__version__}")

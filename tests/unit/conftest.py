"""Shared fixtures: tiny synthetic datasets and models, and an isolated data environment.

Nothing here reads ``$LESSONS_DATA_DIR`` or the user cache: every test runs with the cache in a
temporary folder and without a data mirror, unless it asks for the real data explicitly
(``real_data_dir``), in which case it is skipped where the variable is unset.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from lessons_src.data.sequences import Interactions
from lessons_src.data.split import SequentialSplit, sequential_split
from lessons_src.sasrec.model import SASRec, SASRecConfig

# The models here are tiny: one thread is faster than two, and far faster when the CPU is busy
# with something else (a notebook, a training run), where two threads thrash.
torch.set_num_threads(1)

# captured before the autouse fixture below removes it from the environment
_REAL_DATA_DIR = os.environ.get("LESSONS_DATA_DIR")


@pytest.fixture(autouse=True)
def isolated_data_env(tmp_path_factory, monkeypatch):
    """Every test: cache in a fresh temp folder, no data mirror, no forced device."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("LESSONS_CACHE_DIR", str(cache))
    monkeypatch.delenv("LESSONS_DATA_DIR", raising=False)
    monkeypatch.delenv("LESSONS_DEVICE", raising=False)
    return cache


@pytest.fixture
def real_data_dir() -> Path:
    """The real data mirror, for optional smoke tests; skips where it is not configured."""
    if not _REAL_DATA_DIR:
        pytest.skip("LESSONS_DATA_DIR is not set")
    return Path(_REAL_DATA_DIR)


def random_interactions(n_users: int = 30, n_items: int = 40, min_len: int = 1, max_len: int = 12, seed: int = 0) -> Interactions:
    """Users 1..n_users with distinct random items each (lengths min_len..max_len)."""
    rng = np.random.default_rng(seed)
    sequences = [np.zeros(0, dtype=np.int64)]
    for _ in range(n_users):
        length = int(rng.integers(min_len, max_len + 1))
        sequences.append(rng.choice(np.arange(1, n_items + 1), size=length, replace=False).astype(np.int64))
    return Interactions("random", sequences, n_items)


def pattern_interactions(n_users: int = 60, n_items: int = 30, seed: int = 0) -> Interactions:
    """A learnable dataset: every user walks i → i+1 (mod n_items) from a random start."""
    rng = np.random.default_rng(seed)
    sequences = [np.zeros(0, dtype=np.int64)]
    for _ in range(n_users):
        start, length = int(rng.integers(0, n_items)), int(rng.integers(6, 13))
        sequences.append(((start + np.arange(length)) % n_items + 1).astype(np.int64))
    return Interactions("pattern", sequences, n_items)


@pytest.fixture
def tiny_interactions() -> Interactions:
    return random_interactions()


@pytest.fixture
def tiny_split(tiny_interactions) -> SequentialSplit:
    return sequential_split(tiny_interactions)


@pytest.fixture
def pattern_split() -> SequentialSplit:
    return sequential_split(pattern_interactions())


def make_model(seed: int = 0, perturb: bool = False, **overrides) -> SASRec:
    """A small SASRec, initialised deterministically.

    ``perturb=True`` adds noise to every vector parameter (biases, LayerNorm scales and shifts),
    which a fresh model has at 0 or 1: a trained model does not, and bugs can hide behind them.
    """
    options = dict(n_items=20, maxlen=8, hidden=16, n_blocks=2, n_heads=2, dropout=0.3)
    options.update(overrides)
    torch.manual_seed(seed)
    model = SASRec(SASRecConfig(**options))
    if perturb:
        with torch.no_grad():
            for parameter in model.parameters():
                if parameter.dim() == 1:
                    parameter.add_(0.3 * torch.randn_like(parameter))
    return model


@pytest.fixture
def tiny_model() -> SASRec:
    return make_model().eval()


@pytest.fixture(scope="session")
def model_factory():
    """``model_factory(seed=0, **config overrides)`` → a deterministically initialised SASRec."""
    return make_model


@pytest.fixture(scope="session")
def interactions_factory():
    """``interactions_factory('random' | 'pattern', **kwargs)`` → synthetic Interactions."""
    return lambda kind="random", **kwargs: (random_interactions if kind == "random" else pattern_interactions)(**kwargs)

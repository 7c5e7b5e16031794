"""Derived files (built from data, never downloaded): computed once, kept in the cache directory.

    value = cached("mmrec", "features", key, build)   # cache_dir()/mmrec/features-<hash of key>.pt

``key`` is anything JSON can write (settings, input fingerprints); the file is written atomically
and loaded with ``weights_only=True`` (tensors, lists, dicts, numbers, strings); a damaged or
foreign file is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import torch

from ..training.checkpoint import atomic_write
from .fetch import cache_dir


def cached_path(folder: str, name: str, key: object) -> Path:
    """Where the derived file ``name`` for ``key`` lives: cache_dir()/folder/name-<16 hex>.pt."""
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
    return cache_dir() / folder / f"{name}-{digest}.pt"


def cached(folder: str, name: str, key: object, build: Callable[[], object], enabled: bool = True):
    """The value saved for ``key``, else ``build()`` — saved for next time when ``enabled``."""
    path = cached_path(folder, name, key)
    if enabled and path.is_file():
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a damaged or foreign file: build anew
            pass
    value = build()
    if enabled:
        atomic_write(path, lambda handle: torch.save(value, handle))
    return value

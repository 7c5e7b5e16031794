"""SASRec's leave-last-two-out split.

For every user with at least three interactions the last item is the test target, the one before
it the validation target, and the rest is training data. Users with fewer than three interactions
keep everything in training and are never evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sequences import Interactions


@dataclass
class SequentialSplit:
    """``train[u]`` (array), ``valid[u]`` and ``test[u]`` (item id, 0 = none) for users 1..n_users."""

    name: str
    train: list[np.ndarray]
    valid: np.ndarray  # (n_users + 1,)
    test: np.ndarray  # (n_users + 1,)
    n_items: int

    @property
    def n_users(self) -> int:
        return len(self.train) - 1

    def history(self, user: int, stage: str) -> np.ndarray:
        """The items a model sees before predicting ``stage`` ('valid' or 'test') for ``user``."""
        if stage == "valid":
            return self.train[user]
        if stage == "test":
            return np.append(self.train[user], self.valid[user])
        raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")

    def target(self, stage: str) -> np.ndarray:
        """(n_users + 1,) target item per user for ``stage``; 0 where the user is not evaluated."""
        if stage not in ("valid", "test"):
            raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")
        return self.valid if stage == "valid" else self.test

    def evaluable_users(self, stage: str) -> np.ndarray:
        """Users that have a target for ``stage`` and a non-empty history before it."""
        lengths = np.array([len(s) for s in self.train])
        return np.flatnonzero((self.target(stage) > 0) & (lengths > 0))


def sequential_split(data: Interactions) -> SequentialSplit:
    """Leave-last-two-out: last item → test, second to last → validation, rest → train."""
    n = data.n_users
    train: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    valid = np.zeros(n + 1, dtype=np.int64)
    test = np.zeros(n + 1, dtype=np.int64)
    for user in range(1, n + 1):
        items = data.sequences[user]
        if len(items) < 3:
            train.append(items.copy())
            continue
        train.append(items[:-2].copy())
        valid[user], test[user] = items[-2], items[-1]
    return SequentialSplit(data.name, train, valid, test, data.n_items)

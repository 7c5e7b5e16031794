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


@dataclass
class ChronologicalSplit:
    """Each user's sequence cut in time order into train / validation / test parts.

    Positions ``[0, train_end[u])`` are training data, ``[train_end[u], valid_end[u])`` validation
    instances and ``[valid_end[u], len)`` test instances. An instance is (user, position): its
    history is everything the user did before that position, its target the item at it.
    """

    name: str
    sequences: list[np.ndarray]
    train_end: np.ndarray  # (n_users + 1,)
    valid_end: np.ndarray  # (n_users + 1,)
    n_items: int

    @property
    def n_users(self) -> int:
        return len(self.sequences) - 1

    @property
    def train(self) -> list[np.ndarray]:
        """``train[u]``: the user's training part (what the model may learn from)."""
        return [s[:end] for s, end in zip(self.sequences, self.train_end)]

    def instances(self, stage: str) -> tuple[np.ndarray, np.ndarray]:
        """(users, positions) of every ``stage`` instance ('valid' or 'test'), in user order."""
        if stage not in ("valid", "test"):
            raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")
        first, last = ((self.train_end, self.valid_end) if stage == "valid" else
                       (self.valid_end, np.array([len(s) for s in self.sequences])))
        counts = last - first
        users = np.repeat(np.arange(len(counts)), counts)
        positions = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(first, counts)
        return users, positions


def time_ordered_split(data: Interactions, train: float = 0.7, valid: float = 0.1) -> ChronologicalSplit:
    """Per user of n items, in time order: the last max(1, round(test·n)) items test (test = 1 −
    train − valid), the max(1, round(valid·n)) before them validate, the rest trains.

    (The public MGNM code cuts all records at one moment instead — 70 % / unused 10 % / 20 % —
    which needs timestamps; the S3-Rec and SASRec files keep only each user's order.) Users with
    fewer than three items only train."""
    if not (0 < train < 1 and 0 < valid < 1 and train + valid < 1):
        raise ValueError(f"train and valid must be fractions > 0 with train + valid < 1, got {train}, {valid}")
    lengths = np.array([len(s) for s in data.sequences])
    n_test = np.maximum(1, np.round((1 - train - valid) * lengths)).astype(np.int64)
    n_valid = np.maximum(1, np.round(valid * lengths)).astype(np.int64)
    valid_end = lengths - n_test
    train_end = valid_end - n_valid
    short = train_end < 1
    train_end[short] = valid_end[short] = lengths[short]
    return ChronologicalSplit(data.name, data.sequences, train_end, valid_end, data.n_items)

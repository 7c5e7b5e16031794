"""SASRec's leave-last-two-out split."""

from __future__ import annotations

import numpy as np
import pytest

from lessons_src.data.sequences import Interactions
from lessons_src.data.split import sequential_split


def make(sequences, n_items=10):
    return Interactions("toy", [np.zeros(0, dtype=np.int64)] + [np.asarray(s, dtype=np.int64) for s in sequences], n_items)


def test_last_two_items_are_held_out():
    split = sequential_split(make([[1, 2, 3, 4, 5], [6, 7, 8], [9, 1], [2], [3, 3, 3]]))
    assert split.n_users == 5 and split.n_items == 10
    assert [t.tolist() for t in split.train] == [[], [1, 2, 3], [6], [9, 1], [2], [3]]
    assert split.valid.tolist() == [0, 4, 7, 0, 0, 3]
    assert split.test.tolist() == [0, 5, 8, 0, 0, 3]


def test_short_users_are_train_only_and_never_evaluated():
    split = sequential_split(make([[1, 2, 3], [4, 5], [6]]))
    for stage in ("valid", "test"):
        assert split.evaluable_users(stage).tolist() == [1]
        assert split.target(stage)[2:].tolist() == [0, 0]
    assert split.train[2].tolist() == [4, 5] and split.train[3].tolist() == [6]


def test_history_for_each_stage():
    split = sequential_split(make([[5, 6, 7, 8]]))
    assert split.history(1, "valid").tolist() == [5, 6]
    assert split.history(1, "test").tolist() == [5, 6, 7]
    assert split.target("valid")[1] == 7 and split.target("test")[1] == 8
    with pytest.raises(ValueError):
        split.history(1, "train")
    with pytest.raises(ValueError):
        split.target("train")


def test_split_reassembles_the_sequences(tiny_interactions):
    split = sequential_split(tiny_interactions)
    for user in range(1, tiny_interactions.n_users + 1):
        items = tiny_interactions.sequences[user]
        if len(items) >= 3:
            rebuilt = np.append(split.history(user, "test"), split.test[user])
            assert rebuilt.tolist() == items.tolist()
            assert user in split.evaluable_users("test")
        else:
            assert split.train[user].tolist() == items.tolist()
            assert user not in split.evaluable_users("valid")


def test_split_does_not_alias_the_input():
    data = make([[1, 2, 3, 4]])
    split = sequential_split(data)
    split.train[1][0] = 9
    assert data.sequences[1][0] == 1

"""HistoryIndex: membership tests and exact uniform sampling outside each user's history."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lessons_src.evaluation.negatives import HistoryIndex


def random_histories(n_users=25, n_items=40, seed=0):
    rng = np.random.default_rng(seed)
    histories = []
    for user in range(n_users):
        size = 0 if user == 3 else int(rng.integers(1, n_items))  # one empty history, some nearly full
        items = rng.choice(np.arange(1, n_items + 1), size=size, replace=False)
        histories.append(np.concatenate([items, items[: size // 3]]))  # with duplicates, unsorted
    return histories


def chi_square(counts: np.ndarray) -> float:
    expected = counts.sum() / len(counts)
    return float(((counts - expected) ** 2 / expected).sum())


def test_samples_are_outside_history_and_in_range():
    n_items = 40
    histories = random_histories(n_items=n_items)
    index = HistoryIndex(histories, n_items)
    users = torch.arange(len(histories)).repeat_interleave(3)
    draws = index.sample(users, (50, 4), torch.Generator().manual_seed(1))
    assert draws.shape == (len(users), 50, 4) and draws.dtype == torch.int64
    assert int(draws.min()) >= 1 and int(draws.max()) <= n_items
    for row, user in enumerate(users.tolist()):
        assert not set(draws[row].flatten().tolist()) & set(histories[user].tolist())
    assert not index.contains(users, draws.flatten(1)).any()


def test_sampling_is_uniform_over_the_complement():
    n_items, history = 10, np.array([2, 5, 6, 10])
    index = HistoryIndex([history], n_items)
    draws = index.sample(torch.zeros(1, dtype=torch.long), (60_000,), torch.Generator().manual_seed(0))
    counts = np.bincount(draws.numpy().ravel(), minlength=n_items + 1)
    complement = [i for i in range(1, n_items + 1) if i not in history]
    assert counts[history].sum() == 0 and counts[0] == 0
    # 5 degrees of freedom: P(χ² > 30) ≈ 1.5e-5 under uniformity
    assert chi_square(counts[complement]) < 30
    # and the sampler is not trivially constant: every complement item occurs
    assert (counts[complement] > 0).all()


def test_sampling_is_uniform_for_every_user_in_a_batch():
    n_items = 12
    histories = [np.array([1, 2, 3]), np.array([12]), np.array([], dtype=np.int64), np.array([4, 6, 8, 10, 12])]
    index = HistoryIndex(histories, n_items)
    draws = index.sample(torch.arange(4), (24_000,), torch.Generator().manual_seed(3)).numpy()
    for user, history in enumerate(histories):
        counts = np.bincount(draws[user], minlength=n_items + 1)
        complement = np.setdiff1d(np.arange(1, n_items + 1), history)
        assert counts[history].sum() == 0
        assert chi_square(counts[complement]) < 45  # ≤ 11 degrees of freedom


def test_same_generator_seed_same_samples():
    index = HistoryIndex(random_histories(), 40)
    users = torch.arange(25)
    a = index.sample(users, (7,), torch.Generator().manual_seed(5))
    b = index.sample(users, (7,), torch.Generator().manual_seed(5))
    c = index.sample(users, (7,), torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_contains_agrees_with_python_sets():
    n_items = 40
    histories = random_histories(n_items=n_items, seed=4)
    index = HistoryIndex(histories, n_items)
    users = torch.arange(len(histories))
    items = torch.arange(0, n_items + 2).expand(len(histories), -1)  # includes 0 and N+1
    got = index.contains(users, items)
    expected = torch.tensor([[i in set(h.tolist()) for i in range(0, n_items + 2)] for h in histories])
    assert torch.equal(got, expected)
    assert index.contains(torch.tensor([3]), torch.tensor([5])).tolist() == [False]  # empty history


def test_contains_with_no_history_at_all():
    index = HistoryIndex([np.array([], dtype=np.int64)] * 2, 5)
    assert not index.contains(torch.tensor([0, 1]), torch.tensor([[1, 2], [3, 5]])).any()
    assert set(index.sample(torch.tensor([0, 1]), (100,)).flatten().tolist()) == {1, 2, 3, 4, 5}


def test_padded_lists_each_users_distinct_items():
    histories = [np.array([3, 1, 3]), np.array([], dtype=np.int64), np.array([2, 5])]
    index = HistoryIndex(histories, 6)
    rows, items = index.padded(torch.tensor([2, 0, 1]))
    assert list(zip(rows.tolist(), items.tolist())) == [(0, 2), (0, 5), (1, 1), (1, 3)]


def test_a_user_who_saw_everything_has_no_negative():
    with pytest.raises(ValueError, match="every item"):
        HistoryIndex([np.array([1]), np.array([3, 1, 2, 2])], 3)


@pytest.mark.parametrize("bad", [[0, 1], [1, 7]])
def test_out_of_range_items_are_rejected(bad):
    with pytest.raises(ValueError, match="1..6"):
        HistoryIndex([np.array(bad)], 6)

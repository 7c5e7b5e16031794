"""Leave-one-out ranking evaluation: the sampled and the full protocol, and the popularity baseline."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from lessons_src.evaluation.baselines import PopularityScorer
from lessons_src.evaluation.ranking import RankingEvaluator, left_pad
from lessons_src.data.sequences import Interactions
from lessons_src.data.split import sequential_split


def split_of(sequences, n_items):
    return sequential_split(
        Interactions("toy", [np.zeros(0, dtype=np.int64)] + [np.asarray(s, dtype=np.int64) for s in sequences], n_items)
    )


def oracle(split, stage, sign=1.0):
    """A scorer that knows each user's target (looked up by its history): target scores ±1, others 0."""
    lookup = {}
    for user in split.evaluable_users(stage):
        key = tuple(left_pad([split.history(int(user), stage)], 50)[0].tolist())
        assert key not in lookup, "histories must identify users for this oracle"
        lookup[key] = int(split.target(stage)[user])

    def score(histories, candidates):
        targets = torch.tensor([lookup[tuple(h.tolist())] for h in histories])
        if candidates is None:
            candidates = torch.arange(split.n_items + 1).expand(len(histories), -1)
        return sign * (candidates == targets[:, None]).float()

    return score


def test_left_pad_keeps_the_most_recent_items():
    out = left_pad([np.array([1, 2, 3, 4]), np.array([5]), np.array([], dtype=np.int64)], 3)
    assert out.tolist() == [[2, 3, 4], [0, 0, 5], [0, 0, 0]]
    assert left_pad([np.array([1, 2])], 0).shape == (1, 0)


@pytest.mark.parametrize("stage", ["valid", "test"])
def test_sampled_negatives_avoid_everything_known_up_to_the_target(tiny_split, stage):
    evaluator = RankingEvaluator(tiny_split, stage, "sampled", n_negatives=100, max_users=None, seed=3)
    assert evaluator.candidates.shape == (len(evaluator.users), 101)
    assert torch.equal(evaluator.candidates[:, 0], torch.as_tensor(tiny_split.target(stage)[evaluator.users]))
    for row, user in enumerate(evaluator.users.tolist()):
        known = set(tiny_split.history(user, stage).tolist()) | {int(tiny_split.target(stage)[user])}
        negatives = set(evaluator.candidates[row, 1:].tolist())
        assert not negatives & known
        assert min(negatives) >= 1 and max(negatives) <= tiny_split.n_items


def test_validation_candidates_do_not_depend_on_the_test_item(tiny_split):
    """Model selection sees nothing of the test data: changing every test target leaves the
    validation candidates unchanged, and the test item can be drawn as a validation negative."""
    before = RankingEvaluator(tiny_split, "valid", "sampled", n_negatives=200, max_users=None, seed=4)
    changed = copy.deepcopy(tiny_split)
    evaluable = changed.test > 0
    changed.test[evaluable] = changed.test[evaluable] % changed.n_items + 1  # another item
    after = RankingEvaluator(changed, "valid", "sampled", n_negatives=200, max_users=None, seed=4)
    assert torch.equal(before.candidates, after.candidates)
    drawn = [int(tiny_split.test[u]) in set(before.candidates[row, 1:].tolist())
             for row, u in enumerate(before.users.tolist())]
    assert any(drawn)


def test_evaluated_users_and_histories(tiny_split):
    evaluator = RankingEvaluator(tiny_split, "test", "sampled", history_len=5, max_users=None)
    assert evaluator.users.tolist() == tiny_split.evaluable_users("test").tolist()
    for row, user in enumerate(evaluator.users.tolist()):
        expected = left_pad([tiny_split.history(user, "test")], 5)[0]
        assert evaluator.histories[row].tolist() == expected.tolist()


@pytest.mark.parametrize("protocol", ["sampled", "full"])
@pytest.mark.parametrize("stage", ["valid", "test"])
def test_perfect_and_worst_scorers(tiny_split, protocol, stage):
    evaluator = RankingEvaluator(tiny_split, stage, protocol, ks=(1, 10), max_users=None)
    best = evaluator(oracle(tiny_split, stage))
    assert best["HR@1"] == best["NDCG@1"] == best["HR@10"] == best["NDCG@10"] == 1.0
    assert best["users"] == len(tiny_split.evaluable_users(stage))
    worst = evaluator(oracle(tiny_split, stage, sign=-1.0))
    assert worst["HR@10"] == worst["NDCG@10"] == 0.0


def test_same_seed_same_candidates_and_users(tiny_split):
    a = RankingEvaluator(tiny_split, "test", "sampled", max_users=8, seed=5)
    b = RankingEvaluator(tiny_split, "test", "sampled", max_users=8, seed=5)
    c = RankingEvaluator(tiny_split, "test", "sampled", max_users=8, seed=6)
    assert torch.equal(a.candidates, b.candidates) and np.array_equal(a.users, b.users)
    assert not torch.equal(a.candidates, c.candidates)
    assert len(a.users) == 8 and (np.diff(a.users) > 0).all()
    assert set(a.users.tolist()) <= set(tiny_split.evaluable_users("test").tolist())


def test_batching_does_not_change_ranks(tiny_split):
    scores = torch.randn(tiny_split.n_items + 1, generator=torch.Generator().manual_seed(0))

    def score(histories, candidates):
        # depends on the history too, so that rows are not interchangeable
        base = scores + 0.01 * histories.sum(1, keepdim=True)
        return base if candidates is None else base.gather(1, candidates)

    for protocol in ("sampled", "full"):
        small = RankingEvaluator(tiny_split, "test", protocol, batch_size=3, max_users=None).ranks(score)
        large = RankingEvaluator(tiny_split, "test", protocol, batch_size=1000, max_users=None).ranks(score)
        assert torch.equal(small, large)


@pytest.mark.parametrize("protocol", ["sampled", "full"])
def test_a_scorer_that_asks_gets_each_rows_user(tiny_split, protocol):
    """with_users=True: the third argument is the user whose history is in that row (an oracle
    that knows the targets by user id, not by history, is perfect only if the ids are right)."""
    targets = torch.as_tensor(tiny_split.target("test"))

    def score(histories, candidates, users):
        if candidates is None:
            candidates = torch.arange(tiny_split.n_items + 1).expand(len(histories), -1)
        return (candidates == targets[users][:, None]).float()

    evaluator = RankingEvaluator(tiny_split, "test", protocol, ks=(1,), max_users=None, batch_size=3)
    assert evaluator(score, with_users=True)["HR@1"] == 1.0
    with pytest.raises(TypeError):
        evaluator(score)  # without the flag the scorer gets no users


def test_full_protocol_ignores_seen_items_and_padding():
    # user 1: train [1, 2, 3], valid 4, test 5; items 1..7
    split = split_of([[1, 2, 3, 4, 5]], n_items=7)
    item_scores = torch.tensor([100.0, 1.0, 10.0, 9.0, 8.0, 5.0, 6.0, 2.0])  # padding column 0 scores highest

    def score(histories, candidates):
        assert candidates is None
        return item_scores.expand(len(histories), -1)

    test = RankingEvaluator(split, "test", "full")
    # seen items 1..4 and padding are ignored; only item 6 (6.0) beats the target 5 (5.0)
    assert test.ranks(score).tolist() == [1.0]
    valid = RankingEvaluator(split, "valid", "full")
    # target 4 (8.0); seen 1..3 ignored; 5, 6, 7 score lower: rank 0 even though items 2 and 3 score higher
    assert valid.ranks(score).tolist() == [0.0]


def test_full_protocol_ranks_a_target_that_is_also_in_the_history():
    # a re-consumption: train [1], valid 2, test 1 — the test target appears in the history
    split = split_of([[1, 2, 1]], n_items=6)
    item_scores = torch.tensor([0.0, 3.0, 50.0, 4.0, 0.0, 0.0, 0.0])

    def score(histories, candidates):
        return item_scores.expand(len(histories), -1)

    ranks = RankingEvaluator(split, "test", "full").ranks(score)
    assert ranks.tolist() == [1.0]  # item 2 is seen; only item 3 beats the target; 4..6 lose


def test_popularity_scorer_by_hand():
    # training counts: item 1 ×4, item 2 ×2, item 3 ×1, items 4..6 ×0
    split = split_of([[1, 2, 3, 4, 5], [1, 2, 6, 3], [1, 5, 6], [1, 4, 2]], n_items=6)
    assert [t.tolist() for t in split.train[1:]] == [[1, 2, 3], [1, 2], [1], [1]]
    popularity = PopularityScorer(split)
    assert popularity.counts.tolist() == [0, 4, 2, 1, 0, 0, 0]
    histories = torch.tensor([[0, 1], [1, 2]])
    assert popularity(histories, torch.tensor([[3, 1], [2, 6]])).tolist() == [[1, 4], [2, 0]]
    assert popularity(histories, None).shape == (2, 7)

    ranks = RankingEvaluator(split, "valid", "full").ranks(popularity)
    # user 1: seen {1,2,3}, target 4 (0) ties with 5, 6 → 1.0
    # user 2: seen {1,2}, target 6 (0) below item 3 (1), ties with 4, 5 → 1 + 1 = 2.0
    # user 3: seen {1}, target 5 (0) below 2 (2) and 3 (1), ties with 4, 6 → 2 + 1 = 3.0
    # user 4: seen {1}, target 4 (0) below 2 and 3, ties with 5, 6 → 3.0
    assert ranks.tolist() == [1.0, 2.0, 3.0, 3.0]


def test_bad_arguments():
    split = split_of([[1, 2, 3]], n_items=5)
    with pytest.raises(ValueError, match="protocol"):
        RankingEvaluator(split, "test", "leave-one-out")
    nobody = split_of([[1, 2]], n_items=5)
    with pytest.raises(ValueError, match="no user"):
        RankingEvaluator(nobody, "test", "full")

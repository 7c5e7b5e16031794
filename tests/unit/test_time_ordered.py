"""The time-ordered protocol: each user's 70 / 10 / 20 % in order, instances ranked against sampled
negatives, and the public MGNM code's pooled metrics — checked against plain loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lessons_src.data.fetch import DataError
from lessons_src.data.sequences import Interactions, parse_sequence_file
from lessons_src.data.split import time_ordered_split
from lessons_src.evaluation.instances import InstanceEvaluator, expected_reciprocal_rank


def interactions(sequences, n_items):
    return Interactions("toy", [np.zeros(0, dtype=np.int64)] + [np.asarray(s, dtype=np.int64) for s in sequences],
                        n_items)


def test_each_user_is_cut_in_order_and_every_part_is_used():
    data = interactions([list(range(1, 11)), [3, 4, 5, 6, 7], [8, 9], [1, 2, 3], list(range(1, 21))], 30)
    split = time_ordered_split(data)
    # 10 items: 7 / 1 / 2; 5 items: 3 / 1 / 1; 2 items: train only; 3 items: 1 / 1 / 1; 20: 14 / 2 / 4
    assert split.train_end.tolist() == [0, 7, 3, 2, 1, 14]
    assert split.valid_end.tolist() == [0, 8, 4, 2, 2, 16]
    users, positions = split.instances("valid")
    assert list(zip(users, positions)) == [(1, 7), (2, 3), (4, 1), (5, 14), (5, 15)]
    users, positions = split.instances("test")
    assert list(zip(users, positions))[:5] == [(1, 8), (1, 9), (2, 4), (4, 2), (5, 16)]
    assert split.train[1].tolist() == list(range(1, 8))
    with pytest.raises(ValueError, match="stage"):
        split.instances("train")
    with pytest.raises(ValueError, match="fractions"):
        time_ordered_split(data, train=0.9, valid=0.2)


def test_parse_sequence_file(tmp_path):
    path = tmp_path / "toys.txt"
    path.write_text("2 5 6 7\n1 1 2 3 4\n")
    data = parse_sequence_file(path)
    assert data.n_users == 2 and data.n_items == 7
    assert data.sequences[1].tolist() == [1, 2, 3, 4] and data.sequences[2].tolist() == [5, 6, 7]
    path.write_text("1 1 2\n3 4 5\n")
    with pytest.raises(DataError, match="without gaps"):
        parse_sequence_file(path)
    path.write_text("1 1 x\n")
    with pytest.raises(DataError, match=r"toys.txt:1: item 'x'"):
        parse_sequence_file(path)


def test_expected_reciprocal_rank_averages_over_tied_ranks():
    above, ties = torch.tensor([0, 2, 3, 6]), torch.tensor([0, 2, 4, 0])
    for k in (None, 5):
        got = expected_reciprocal_rank(above, ties, k)
        for a, t, value in zip(above.tolist(), ties.tolist(), got.tolist()):
            ranks = range(a, a + t + 1)
            want = sum(1 / (r + 1) for r in ranks if k is None or r < k) / len(ranks)
            assert math.isclose(value, want, rel_tol=1e-12)


def by_hand(scores, users, k=5):
    """The protocol's metrics as plain loops over instances and users (scores: target in column 0)."""
    hit = ndcg = mrr = 0.0
    for row in scores:
        rank = sum(s > row[0] for s in row[1:])  # no ties in these scores
        hit += rank < k
        ndcg += (rank < k) / math.log2(rank + 2)
        mrr += 1 / (rank + 1)
    n = len(scores)
    weighted, rows, pooled_hit = 0.0, 0, 0.0
    for user in sorted(set(users)):
        block = [row for row, u in zip(scores, users) if u == user]
        positives = [row[0] for row in block]
        negatives = [s for row in block for s in row[1:]]
        pairs = [(p > q) + 0.5 * (p == q) for p in positives for q in negatives]
        weighted += (len(positives) + len(negatives)) * sum(pairs) / len(pairs)
        rows += len(positives) + len(negatives)
        best = sum(s > max(positives) for s in negatives)
        pooled_hit += best < k
    return {"HIT@5": hit / n, "NDCG@5": ndcg / n, "MRR": mrr / n, "GAUC": weighted / rows,
            "pooled HIT@5": pooled_hit / len(set(users))}


def test_instance_metrics_equal_plain_loops():
    rng = np.random.default_rng(0)
    data = interactions([rng.choice(np.arange(1, 41), size=n, replace=False) for n in (12, 7, 20, 5)], 40)
    split = time_ordered_split(data)
    evaluator = InstanceEvaluator(split, "test", history_len=6, n_negatives=9, seed=1)
    # the candidates: the target first, then negatives outside everything up to and including it
    for row, (user, position) in enumerate(zip(evaluator.users, evaluator.positions)):
        candidates = evaluator.candidates[row].tolist()
        assert candidates[0] == data.sequences[user][position]
        assert not set(candidates[1:]) & set(data.sequences[user][:position + 1].tolist())
    table = torch.as_tensor(rng.normal(size=(41,)))

    def score(histories, candidates, users):
        return table[candidates] + 0.01 * users[:, None]

    got = evaluator(score)
    want = by_hand(score(evaluator.histories, evaluator.candidates,
                         torch.as_tensor(evaluator.users)).tolist(), evaluator.users.tolist())
    for name, value in want.items():
        assert math.isclose(got[name], value, rel_tol=1e-9), name
    assert got["instances"] == len(evaluator.users)


def test_a_perfect_scorer_gets_full_marks_and_a_reversed_one_none():
    data = interactions([list(range(1, 11)), list(range(11, 21))], 60)
    evaluator = InstanceEvaluator(time_ordered_split(data), "test", n_negatives=20)
    best = evaluator(lambda h, c, u: (torch.arange(c.shape[1]) == 0).float().expand(len(c), -1))
    worst = evaluator(lambda h, c, u: -(torch.arange(c.shape[1]) == 0).float().expand(len(c), -1))
    assert best["HIT@5"] == best["GAUC"] == best["pooled HIT@5"] == 1.0
    assert math.isclose(best["MRR"], 1.0, rel_tol=1e-12)
    assert worst["HIT@5"] == 0.0 and worst["GAUC"] == 0.0


def test_a_constant_scorer_is_at_chance_on_every_metric():
    """Ties count as the expected rank under random tie-breaking, on every metric."""
    data = interactions([list(range(1, 11)), list(range(11, 21)), list(range(21, 31))], 200)
    evaluator = InstanceEvaluator(time_ordered_split(data), "test", n_negatives=99)
    flat = evaluator(lambda h, c, u: torch.zeros(c.shape))
    assert math.isclose(flat["HIT@5"], 0.05, rel_tol=1e-9) and math.isclose(flat["GAUC"], 0.5)
    assert math.isclose(flat["pooled HIT@5"], 5 / 199, rel_tol=1e-9)  # 2 positives: rank among 198 negatives


def test_full_ranking_equals_a_plain_loop_over_unseen_items():
    rng = np.random.default_rng(2)
    data = interactions([rng.choice(np.arange(1, 31), size=n, replace=False) for n in (12, 7, 20, 5)], 30)
    split = time_ordered_split(data)
    evaluator = InstanceEvaluator(split, "test", n_negatives=None, k=5)
    table = torch.as_tensor(rng.normal(size=(5, 31)))  # a score per (user, item); users are 1 … 4

    def score(histories, candidates, users):
        assert candidates is None
        return table[users]

    got = evaluator(score)
    hits = gains = 0.0
    for user, position in zip(evaluator.users, evaluator.positions):
        target = data.sequences[user][position]
        seen = set(data.sequences[user][:position + 1].tolist())
        above = sum(table[user, item] > table[user, target] for item in range(1, 31) if item not in seen)
        hits += above < 5
        gains += (above < 5) / math.log2(above + 2)
    assert math.isclose(got["HIT@5"], hits / len(evaluator.users), rel_tol=1e-9)
    assert math.isclose(got["NDCG@5"], float(gains) / len(evaluator.users), rel_tol=1e-6)  # float32 scores
    assert "GAUC" not in got


def test_distinct_negatives_are_different_unseen_items():
    data = interactions([list(range(1, 11)), list(range(11, 31))], 60)
    split = time_ordered_split(data)
    evaluator = InstanceEvaluator(split, "test", n_negatives=35, distinct=True, seed=4)
    for row, (user, position) in enumerate(zip(evaluator.users, evaluator.positions)):
        negatives = evaluator.candidates[row, 1:].tolist()
        assert len(set(negatives)) == 35
        assert not set(negatives) & set(data.sequences[user][:position + 1].tolist())
    # with replacement the same draw repeats items
    plain = InstanceEvaluator(split, "test", n_negatives=35, seed=4)
    assert any(len(set(row.tolist())) < 35 for row in plain.candidates[:, 1:])
    # fewer unseen items than asked for: all of them, padded with id 0, which never ranks above
    short = InstanceEvaluator(split, "test", n_negatives=55, distinct=True)
    for row, (user, position) in enumerate(zip(short.users, short.positions)):
        unseen = set(range(1, 61)) - set(data.sequences[user][:position + 1].tolist())
        assert set(short.candidates[row, 1:].tolist()) - {0} == unseen
    assert short(lambda h, c, u: torch.zeros(c.shape))["HIT@5"] > 0

"""HR@k, NDCG@k and the rank of the held-out item."""

from __future__ import annotations

import math

import torch

from lessons_src.evaluation.metrics import (
    expected_hit_rate,
    expected_ndcg,
    hit_rate,
    ndcg,
    rank_counts,
    target_rank,
)


def test_hit_rate_and_ndcg_by_hand():
    ranks = torch.tensor([0.0, 2.0, 9.0, 9.5, 10.0, 57.0])
    assert hit_rate(ranks, 10).tolist() == [1, 1, 1, 1, 0, 0]
    expected = [1.0, 0.5, 1 / math.log2(11), 1 / math.log2(11.5), 0.0, 0.0]
    torch.testing.assert_close(ndcg(ranks, 10), torch.tensor(expected, dtype=torch.float64))
    assert hit_rate(ranks, 1).tolist() == [1, 0, 0, 0, 0, 0]
    assert ndcg(ranks, 100)[-1].item() == 1 / math.log2(59)


def test_target_rank_counts_strictly_better_and_half_the_ties():
    scores = torch.tensor(
        [
            [3.0, 1.0, 2.0, 0.0],   # target 3.0 is best
            [1.0, 5.0, 1.0, 0.0],   # one above, one tie
            [2.0, 2.0, 2.0, 2.0],   # all tied: 3 ties → 1.5
            [0.0, 1.0, 2.0, 3.0],   # worst
        ]
    )
    target_scores = scores[:, 0]
    assert target_rank(scores, target_scores).tolist() == [0.0, 1.5, 1.5, 3.0]


def test_expected_metrics_equal_the_average_over_every_tie_order():
    """With ties, the evaluator reports E[metric] over random tie-breaking, not metric(E[rank])."""
    above = torch.tensor([0, 0, 3, 8, 12, 2])
    ties = torch.tensor([0, 1, 4, 5, 3, 40])
    for k in (1, 5, 10):
        brute_hr, brute_ndcg = [], []
        for a, t in zip(above.tolist(), ties.tolist()):
            ranks = torch.arange(a, a + t + 1, dtype=torch.float64)  # every equally likely rank
            brute_hr.append(hit_rate(ranks, k).mean().item())
            brute_ndcg.append(ndcg(ranks, k).mean().item())
        torch.testing.assert_close(expected_hit_rate(above, ties, k), torch.tensor(brute_hr, dtype=torch.float64))
        torch.testing.assert_close(expected_ndcg(above, ties, k), torch.tensor(brute_ndcg, dtype=torch.float64))


def test_a_constant_scorer_gets_the_random_baseline():
    """All 101 candidates tied: HR@10 must be 10/101, what a random ranking achieves."""
    scores = torch.zeros(1, 101)
    above, ties = rank_counts(scores, scores[:, 0])
    assert expected_hit_rate(above, ties, 10).item() == 10 / 101

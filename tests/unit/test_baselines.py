"""The Markov-chain baseline: transition counts, popularity tie-breaking, both protocols."""

from __future__ import annotations

import numpy as np
import torch

from lessons_src.evaluation.baselines import MarkovScorer, PopularityScorer
from lessons_src.data.split import SequentialSplit


def split_of(train: list[list[int]], n_items: int) -> SequentialSplit:
    n_users = len(train)
    sequences = [np.zeros(0, dtype=np.int64)] + [np.array(t, dtype=np.int64) for t in train]
    return SequentialSplit("toy", sequences, np.zeros(n_users + 1, dtype=np.int64),
                           np.zeros(n_users + 1, dtype=np.int64), n_items)


def test_markov_scores_are_transition_counts_from_the_last_item():
    # transitions: 1→2 ×2, 2→3 ×1, 1→4 ×1, 4→2 ×1, 3→1 ×1
    split = split_of([[1, 2, 3], [1, 2], [1, 4, 2], [3, 1]], n_items=5)
    markov = MarkovScorer(split)
    scores = markov(torch.tensor([[0, 3, 1], [0, 0, 2], [5, 4, 4]]), None)  # last items 1, 2, 4
    integer_part = scores.floor()
    assert integer_part[0].tolist() == [0, 0, 2, 0, 1, 0]
    assert integer_part[1].tolist() == [0, 0, 0, 1, 0, 0]
    assert integer_part[2].tolist() == [0, 0, 1, 0, 0, 0]


def test_markov_ties_are_broken_by_popularity_and_never_override_a_transition():
    split = split_of([[1, 2, 3], [1, 2], [1, 4, 2], [3, 1]], n_items=5)
    markov = MarkovScorer(split)
    popularity = PopularityScorer(split).counts
    scores = markov(torch.tensor([[5]]), None)[0]  # item 5 never occurs: popularity order only
    assert torch.equal(scores.argsort(descending=True)[:3], popularity.argsort(descending=True)[:3])
    assert scores.max() < 1.0
    after_four = markov(torch.tensor([[4]]), None)[0]
    assert after_four.argmax().item() == 2  # one transition beats any popularity


def test_markov_candidates_match_the_full_scores():
    split = split_of([[1, 2, 3], [1, 2], [1, 4, 2], [3, 1]], n_items=5)
    markov = MarkovScorer(split)
    histories = torch.tensor([[0, 1], [3, 2]])
    candidates = torch.tensor([[2, 4, 5], [3, 1, 1]])
    torch.testing.assert_close(markov(histories, candidates), markov(histories, None).gather(1, candidates))

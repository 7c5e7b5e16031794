"""PMGT item graph and MCNSampling: the paper's edge weight, hop-weighted draw frequencies, no centre."""

import math

import numpy as np
import pytest
import torch

from lessons_src.pmgt.graph import build_item_graph, co_interaction_counts
from lessons_src.pmgt.sampling import NO_ITEM, ContextSampler


def small_graph(min_users=1):
    # users 0–3 over items 0–4; item 4 is seen by one user only and ends up isolated
    users = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4])
    items = np.array([0, 1, 2, 0, 1, 2, 0, 1, 3, 2, 3, 3, 4])
    return build_item_graph(users, items, n_items=5, min_users=min_users)


def test_counts_are_distinct_co_users():
    users = np.array([0, 0, 0, 1, 1])
    items = np.array([0, 1, 1, 0, 1])  # user 0 saw item 1 twice: still one co-user
    counts = co_interaction_counts(users, items, 3).toarray()
    assert counts[0, 1] == counts[1, 0] == 2 and counts[0, 0] == 0 and counts[2].sum() == 0


def test_edge_weight_is_the_papers_formula_with_threshold():
    graph = small_graph(min_users=2)
    dense_counts = {(0, 1): 3, (0, 2): 2, (1, 2): 2}  # pairs with ≥ 2 co-users, by hand
    degree = {0: 2, 1: 2, 2: 2, 3: 0, 4: 0}
    weights = graph.weights.toarray()
    for u in range(5):
        for v in range(5):
            w = dense_counts.get((min(u, v), max(u, v)))
            expected = 0.0 if w is None else (math.log(w) + 1) / (math.log(math.sqrt(degree[u] * degree[v])) + 1)
            assert weights[u, v] == pytest.approx(expected)


def exact_expected_scores(graph, centre, draws, hop_weights):
    """E[score] by hand: hop h visits v  Π_{i ≤ h} k_i · (Pʰ)_{c v}  times in expectation."""
    weights = graph.weights.toarray()
    rows = weights.sum(1, keepdims=True)
    transition = np.divide(weights, rows, out=np.zeros_like(weights), where=rows > 0)
    reach, walkers, total = np.eye(len(weights))[centre], 1, np.zeros(len(weights))
    for k, beta in zip(draws, hop_weights):
        reach, walkers = reach @ transition, walkers * k
        total += beta * walkers * reach
    return total


def test_sampling_frequencies_match_the_hop_weighting():
    graph = small_graph()
    sampler = ContextSampler(graph, draws_per_hop=(10, 5, 2), hop_weights=(3, 2, 1))
    centres = torch.full((4000,), 3)
    score, _ = sampler.hop_scores(centres, torch.Generator().manual_seed(0))
    expected = exact_expected_scores(graph, 3, (10, 5, 2), (3, 2, 1))
    mean = score.mean(0).numpy()
    std_error = score.std(0).numpy() / math.sqrt(len(centres))
    assert np.all(np.abs(mean - expected) < 5 * std_error + 1e-9), (mean, expected)
    # a wrong weighting (every hop weighted 1) is far outside that band
    unweighted = exact_expected_scores(graph, 3, (10, 5, 2), (1, 1, 1))
    assert np.any(np.abs(mean - unweighted) > 20 * std_error)


def test_centre_never_in_its_own_context_and_isolated_items_have_none():
    graph = small_graph()
    sampler = ContextSampler(graph, context_size=4)
    centres = torch.arange(5).repeat(50)
    contexts = sampler.sample(centres, torch.Generator().manual_seed(1))
    assert not (contexts.items == centres.view(-1, 1)).any()
    assert (contexts.items[centres == 4] == NO_ITEM).all()
    # context items are real neighbours-of-neighbours, ordered by score, hops ≥ 1
    real = contexts.items >= 0
    assert (contexts.hops[real] >= 1).all() and (contexts.scores[:, :-1] >= contexts.scores[:, 1:]).all()
    # the official code's variant keeps the centre: walks come back to it on this small graph
    keeping = ContextSampler(graph, context_size=4, exclude_centre=False)
    assert (keeping.sample(centres, torch.Generator().manual_seed(1)).items == centres.view(-1, 1)).any()


def test_sampling_is_reproducible_from_its_generator():
    sampler = ContextSampler(small_graph())
    a = sampler.sample(torch.arange(5), torch.Generator().manual_seed(3))
    b = sampler.sample(torch.arange(5), torch.Generator().manual_seed(3))
    assert torch.equal(a.items, b.items) and torch.equal(a.scores, b.scores)


def test_draws_stay_inside_the_row():
    graph = small_graph()
    sampler = ContextSampler(graph)
    drawn = sampler.draw_neighbours(torch.arange(5).view(5, 1).repeat(1, 3), 50, torch.Generator().manual_seed(0))
    for node in range(5):
        allowed = set(graph.neighbours(node).tolist()) or {NO_ITEM}
        assert set(drawn[node].tolist()) <= allowed


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="min_users"):
        build_item_graph(np.array([0]), np.array([0]), 1, min_users=0)
    with pytest.raises(ValueError, match="item ids"):
        co_interaction_counts(np.array([0]), np.array([5]), 3)
    with pytest.raises(ValueError, match="same length"):
        ContextSampler(small_graph(), draws_per_hop=(10, 5), hop_weights=(3, 2, 1))

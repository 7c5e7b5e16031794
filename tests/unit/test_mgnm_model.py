"""The assembled MGNM: routing per level, serving by the max over levels × interests, the
training objective, and what padding, batching and the user may and may not change."""

from __future__ import annotations

import math

import pytest
import torch

from lessons_src.mgnm.model import MGNM, MGNMConfig


def model(**options):
    torch.manual_seed(0)
    return MGNM(MGNMConfig(n_items=20, n_users=5, maxlen=6, hidden=8, **options))


HISTORIES = torch.tensor([[0, 0, 3, 7, 7, 12], [1, 2, 4, 8, 16, 19]])
USERS = torch.tensor([2, 5])


def test_every_level_routes_its_items_over_the_interests():
    net = model().eval()
    interests, couplings, adjacency = net(HISTORIES, USERS)
    assert interests.shape == (2, 4, 4, 8) and couplings.shape == (2, 4, 6, 4)
    real = HISTORIES != 0
    for level in range(4):
        torch.testing.assert_close(couplings[:, level][real].sum(-1), torch.ones(int(real.sum())))
        assert (couplings[:, level][~real] == 0).all()
    assert (adjacency[0, :2] == 0).all() and (adjacency[0, :, :2] == 0).all()


def test_serving_score_is_the_max_over_levels_and_interests():
    net = model().eval()
    with torch.no_grad():
        interests, _, _ = net(HISTORIES, USERS)
        scores = net.score(HISTORIES, users=USERS)
        embedding = net.item_embedding.weight
        for b in range(2):
            for item in range(21):
                best = max(float(interests[b, l, k] @ embedding[item]) for l in range(4) for k in range(4))
                assert math.isclose(float(scores[b, item]), best, rel_tol=1e-5, abs_tol=1e-6)
        candidates = torch.tensor([[3, 9], [4, 1]])
        torch.testing.assert_close(net.score(HISTORIES, candidates, USERS), scores.gather(1, candidates))


def test_padding_and_batch_mates_change_nothing():
    net = model().eval()
    with torch.no_grad():
        alone = net.score(HISTORIES[:1, 2:], users=USERS[:1])  # the same history without its padding
        together = net.score(HISTORIES, users=USERS)[:1]
        other_mate = net.score(torch.tensor([[0, 0, 3, 7, 7, 12], [5, 5, 5, 6, 6, 6]]), users=USERS)[:1]
    torch.testing.assert_close(alone, together)
    torch.testing.assert_close(other_mate, together)


def test_only_the_user_aware_model_listens_to_the_user():
    for form, depends in (("user_aware", True), ("plain", False)):
        net = model(edge_form=form).eval()
        with torch.no_grad():
            a = net.score(HISTORIES, users=torch.tensor([2, 5]))
            b = net.score(HISTORIES, users=torch.tensor([3, 1]))
        assert (not torch.allclose(a, b)) == depends, form


def _readout_by_hand(vectors, target, readout):
    """One level's K interests (K, d) and the target's embedding (d,) → the user vector, as plain loops."""
    affinities = [float(v @ target) for v in vectors]
    if readout == "hard":
        return vectors[max(range(len(vectors)), key=lambda k: affinities[k])]
    weights = [math.exp(a) for a in affinities]
    return sum(w / sum(weights) * v for w, v in zip(weights, vectors))


@pytest.mark.parametrize("readout", ["attention", "hard"])
def test_the_objective_by_hand(readout):
    net = model(l1_adjacency=0.0, readout=readout)
    generator = torch.Generator().manual_seed(3)
    targets, negatives = torch.tensor([5, 9]), torch.tensor([[1, 2, 3], [4, 6, 11]])
    loss = net.loss(HISTORIES, USERS, targets, negatives, generator=torch.Generator().manual_seed(3))
    interests = net(HISTORIES, USERS, generator=generator)[0].detach()  # the same draw of initial logits
    embedding = net.item_embedding.weight.detach()
    total = 0.0
    for level in range(4):
        terms = []
        for b in range(2):
            v = _readout_by_hand(interests[b, level], embedding[targets[b]], readout)
            terms.append(-math.log(1 / (1 + math.exp(-float(v @ embedding[targets[b]])))))
            terms += [-math.log(1 - 1 / (1 + math.exp(-float(v @ embedding[n])))) for n in negatives[b]]
        total += sum(terms) / len(terms)
    assert math.isclose(loss.item(), total, rel_tol=1e-5)
    loss.backward()
    assert net.user_embedding.weight.grad[USERS].abs().sum() > 0  # the graph listens to the user


def test_levels_routed_in_one_batch_equal_levels_routed_one_by_one():
    net = model().eval()
    with torch.no_grad():
        interests, couplings, _ = net(HISTORIES, USERS)
        real = HISTORIES != 0
        _, graph = net.graph(HISTORIES, USERS)
        levels = net.gcn(net.item_embedding(HISTORIES), graph, real)
        logits = net.interests_model.initial_logits(HISTORIES, None)
        for level, x in enumerate(levels):
            v, c = net.interests_model.router(x, real, logits, sequence_residual=net.time_order)
            torch.testing.assert_close(interests[:, level], v)
            torch.testing.assert_close(couplings[:, level], c)


def test_l1_term_and_bad_inputs():
    net = model()
    targets, negatives = torch.tensor([5, 9]), torch.tensor([[1, 2, 3], [4, 6, 11]])
    with_l1 = MGNM(MGNMConfig(n_items=20, n_users=5, maxlen=6, hidden=8, l1_adjacency=1.0))
    with_l1.load_state_dict(net.state_dict())
    g = lambda: torch.Generator().manual_seed(0)
    _, _, adjacency = net(HISTORIES, USERS, generator=g())
    difference = with_l1.loss(HISTORIES, USERS, targets, negatives, g()) - net.loss(HISTORIES, USERS, targets, negatives, g())
    assert math.isclose(difference.item(), (adjacency.abs().sum() / 2 * (1 - 1e-5)).item(), rel_tol=1e-4)
    with pytest.raises(ValueError, match="pass users"):
        net.score(HISTORIES)
    with pytest.raises(ValueError, match="users: expected 2 ids in 1..5"):
        net(HISTORIES, torch.tensor([0, 6]))
    with pytest.raises(ValueError, match="time_order needs routing_iterations"):
        MGNMConfig(n_items=3, n_users=2, routing_iterations=2)
    with pytest.raises(ValueError, match="edge_form"):
        MGNMConfig(n_items=3, n_users=2, edge_form="dense")


def test_mean_level_cosine_matches_a_loop_over_pairs():
    from lessons_src.mgnm.widgets import mean_level_cosine

    net = model().eval()
    got = mean_level_cosine(net, HISTORIES, USERS)
    with torch.no_grad():
        _, graph = net.graph(HISTORIES, USERS)
        levels = net.gcn(net.item_embedding(HISTORIES), graph, HISTORIES != 0)
    for level, x in enumerate(levels):
        values = [float(torch.nn.functional.cosine_similarity(x[b, i], x[b, j], dim=0))
                  for b in range(len(HISTORIES)) for i in range(HISTORIES.shape[1]) for j in range(HISTORIES.shape[1])
                  if i != j and HISTORIES[b, i] != 0 and HISTORIES[b, j] != 0]
        assert math.isclose(got[level], sum(values) / len(values), rel_tol=1e-5)

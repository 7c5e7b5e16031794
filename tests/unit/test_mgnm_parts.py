"""MGNM's parts against their equations: the item graph, the multi-level GCN, the time-order
BiLSTM and the routing it corrects (chapter 3's router)."""

from __future__ import annotations

import math

import pytest
import torch

from lessons_src.capsules.interests import InterestConfig, MultiInterestRouter
from lessons_src.mgnm.gcn import MultiLevelGCN
from lessons_src.mgnm.graph import adjacency_l1, edge_weights, keep_strongest, normalise
from lessons_src.mgnm.sequence import TimeOrderEncoder, left_to_right_padding, right_to_left_padding


def batch(seed=0, B=3, L=6, d=4, padding=(0, 2, 4)):
    generator = torch.Generator().manual_seed(seed)
    items = torch.randn(B, L, d, generator=generator, dtype=torch.float64)
    real = torch.ones(B, L, dtype=torch.bool)
    for b, pad in enumerate(padding[:B]):
        real[b, :pad] = False
    items = items * real.unsqueeze(-1)
    user = torch.randn(B, d, generator=generator, dtype=torch.float64)
    return items, real, user


def test_edge_weights_follow_the_equations_by_loops():
    items, real, user = batch()
    aware, plain = edge_weights(items, real, user, "user_aware"), edge_weights(items, real, form="plain")
    B, L, d = items.shape
    for b in range(B):
        for i in range(L):
            for j in range(L):
                if not (real[b, i] and real[b, j]):
                    assert aware[b, i, j] == 0 and plain[b, i, j] == 0
                    continue
                agreement = sum(items[b, i, k] * items[b, j, k] * user[b, k] for k in range(d))
                assert math.isclose(aware[b, i, j], 1 / (1 + math.exp(-agreement)), rel_tol=1e-9)
                dot = sum(items[b, i, k] * items[b, j, k] for k in range(d))
                assert math.isclose(plain[b, i, j], 1 / (1 + math.exp(-dot)), rel_tol=1e-9)
    torch.testing.assert_close(aware, aware.transpose(1, 2))
    torch.testing.assert_close(plain, plain.transpose(1, 2))


def test_only_the_user_aware_graph_depends_on_the_user():
    items, real, user = batch()
    other = torch.randn_like(user)
    assert not torch.allclose(edge_weights(items, real, user), edge_weights(items, real, other))
    # the plain form takes no user at all; the same histories give the same graph for anyone
    torch.testing.assert_close(edge_weights(items, real, user, "plain"), edge_weights(items, real, other, "plain"))
    with pytest.raises(ValueError, match="user vectors"):
        edge_weights(items, real, None, "user_aware")
    with pytest.raises(ValueError, match="form must be"):
        edge_weights(items, real, user, "cosine")


def test_sparsified_graph_keeps_the_strongest_edges_symmetrically():
    items, real, user = batch(L=8, padding=(0, 0, 3))
    adjacency = edge_weights(items, real, user)
    sparse = keep_strongest(adjacency, 2)
    torch.testing.assert_close(sparse, sparse.transpose(1, 2))
    for b in range(3):
        for i in range(8):
            row = adjacency[b, i]
            if not real[b, i]:
                assert (sparse[b, i] == 0).all()
                continue
            strongest = set(row.topk(2).indices.tolist())
            kept = set(sparse[b, i].nonzero().flatten().tolist())
            assert strongest <= kept  # its own two, plus any edge a partner kept
            partners = {j for j in kept - strongest if i in set(adjacency[b, j].topk(2).indices.tolist())}
            assert kept == strongest | partners
    assert adjacency_l1(sparse) < adjacency_l1(adjacency)


def test_normalisation_by_loops_and_padding_stays_out():
    items, real, user = batch()
    adjacency = edge_weights(items, real, user)
    hat = normalise(adjacency, real)
    for b in range(3):
        with_loops = adjacency[b] + torch.diag(real[b].double())
        degree = with_loops.sum(1)
        for i in range(6):
            for j in range(6):
                want = with_loops[i, j] / math.sqrt(degree[i] * degree[j]) if degree[i] * degree[j] > 0 else 0.0
                assert math.isclose(hat[b, i, j], want, abs_tol=1e-12)
    assert (hat[2, :4] == 0).all() and (hat[2, :, :4] == 0).all()


def path_graph(L=5):
    adjacency = torch.zeros(1, L, L, dtype=torch.float64)
    for i in range(L - 1):
        adjacency[0, i, i + 1] = adjacency[0, i + 1, i] = 1.0
    real = torch.ones(1, L, dtype=torch.bool)
    return normalise(adjacency, real), real


def reach(gcn, graph, real, L=5, d=4):
    """[level][node]: does node's representation move when node 0's input moves?"""
    torch.manual_seed(1)
    x = torch.randn(1, L, d, dtype=torch.float64)
    moved = x.clone()
    moved[0, 0] += 1.0
    before, after = gcn(x, graph, real), gcn(moved, graph, real)
    return [[not torch.allclose(a[0, k], b[0, k], atol=1e-300, rtol=0) for k in range(L)] for a, b in zip(before, after)]


def test_level_l_mixes_information_from_l_hops():
    graph, real = path_graph()
    gcn = MultiLevelGCN(4, levels=3).double()
    for level, row in enumerate(reach(gcn, graph, real)):
        assert row == [k <= level for k in range(5)], (level, row)


def test_the_public_codes_levels_see_one_hop_and_shared_weights_make_them_equal():
    graph, real = path_graph()
    one_hop = MultiLevelGCN(4, levels=3, iterative=False).double()
    for level, row in enumerate(reach(one_hop, graph, real)):
        assert row == [k <= min(level, 1) for k in range(5)], (level, row)
    shared = MultiLevelGCN(4, levels=3, iterative=False, shared_weights=True).double()
    x = torch.randn(1, 5, 4, dtype=torch.float64)
    levels = shared(x, graph, real)
    torch.testing.assert_close(levels[1], levels[2])
    torch.testing.assert_close(levels[1], levels[3])


def test_padding_changes_nothing_in_graph_and_gcn():
    items, real, user = batch(B=1, L=5, padding=(0,))
    padded_items = torch.cat([torch.zeros(1, 3, 4, dtype=torch.float64), items], 1)
    padded_real = torch.cat([torch.zeros(1, 3, dtype=torch.bool), real], 1)
    gcn = MultiLevelGCN(4, levels=2).double()
    plain = gcn(items, normalise(edge_weights(items, real, user), real), real)
    padded = gcn(padded_items, normalise(edge_weights(padded_items, padded_real, user), padded_real), padded_real)
    for a, b in zip(plain, padded):
        torch.testing.assert_close(b[:, 3:], a)
        assert (b[:, :3] == 0).all()


def test_padding_moves_round_trip():
    x = torch.arange(12.0).view(2, 6, 1)
    real = torch.tensor([[False, False, True, True, True, True], [True] * 6])
    right = left_to_right_padding(x, real)
    assert right[0, :4, 0].tolist() == [2.0, 3.0, 4.0, 5.0]
    torch.testing.assert_close(right_to_left_padding(right, real), x)


def predictions(seed, B=2, L=5, K=3, d=4, padding=(0, 2)):
    generator = torch.Generator().manual_seed(seed)
    u_hat = torch.randn(B, L, K, d, generator=generator)
    real = torch.ones(B, L, dtype=torch.bool)
    for b, pad in enumerate(padding):
        real[b, :pad] = False
    return u_hat * real.view(B, L, 1, 1), real


def test_bilstm_reads_each_users_own_sequence_in_time_order():
    torch.manual_seed(0)
    encoder = TimeOrderEncoder(hidden=4, n_interests=3).eval()
    u_hat, real = predictions(0)
    out = encoder(u_hat, real)
    for b in range(2):  # each user alone, no padding, straight through nn.LSTM
        own = u_hat[b, real[b]].reshape(1, -1, 12)
        states, _ = encoder.lstm(own)
        want = encoder.project(states).reshape(-1, 3, 4)
        torch.testing.assert_close(out[b, real[b]], want)
        assert (out[b, ~real[b]] == 0).all()
    # changing the other user's history leaves this user alone ...
    other = u_hat.clone()
    other[1] = torch.randn_like(other[1]) * real[1].view(-1, 1, 1)
    torch.testing.assert_close(encoder(other, real)[0], out[0])
    # ... and the order of one's own history matters
    reversed_ = u_hat.clone()
    reversed_[0] = u_hat[0].flip(0)
    assert not torch.allclose(encoder(reversed_, real)[0], out[0].flip(0))


def test_the_public_codes_reshapes_mix_users():
    """The test above, failed on purpose: with the public code's reshapes user 0's correction
    depends on user 1's history."""
    torch.manual_seed(0)
    public = TimeOrderEncoder(hidden=4, n_interests=3, public_code_reshape=True).eval()
    u_hat, real = predictions(0, padding=(0, 0))
    other = u_hat.clone()
    other[1] = torch.randn_like(other[1])
    assert not torch.allclose(public(other, real)[0], public(u_hat, real)[0])


def router(seed=0, K=3, d=4, L=5, iterations=3):
    torch.manual_seed(seed)
    return MultiInterestRouter(InterestConfig(n_items=10, hidden=d, maxlen=L, n_interests=K,
                                              bilinear="per_position", routing_iterations=iterations))


def test_routing_with_time_order_keeps_couplings_a_distribution_over_interests():
    route = router()
    encoder = TimeOrderEncoder(hidden=4, n_interests=3)
    behaviours, real = predictions(2, K=1)
    behaviours = behaviours[:, :, 0]  # (B, L, d)
    logits = torch.randn(2, 5, 3)
    interests, coupling = route(behaviours, real, logits, sequence_residual=encoder)
    torch.testing.assert_close(coupling[real].sum(-1), torch.ones(int(real.sum())))
    assert (coupling[~real] == 0).all()
    plain_interests, plain_coupling = route(behaviours, real, logits)
    assert not torch.allclose(coupling, plain_coupling)  # the correction changes the routing
    # a correction of zero is the plain routing, exactly
    zero_interests, zero_coupling = route(behaviours, real, logits,
                                          sequence_residual=lambda u, r: torch.zeros_like(u))
    torch.testing.assert_close(zero_coupling, plain_coupling, rtol=0, atol=0)
    torch.testing.assert_close(zero_interests, plain_interests, rtol=0, atol=0)
    with pytest.raises(ValueError, match="≥ 3 iterations"):
        router(iterations=2)(behaviours, real, logits, sequence_residual=encoder)

"""PMGT network, masking, losses, pre-training and export, against the paper's equations."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lessons_src.pmgt.graph import build_item_graph
from lessons_src.pmgt.losses import feature_loss, in_context_pairs, structure_loss
from lessons_src.pmgt.masking import mask_context
from lessons_src.pmgt.model import PMGT, DiversityAttention, ModalityFusion, PMGTConfig
from lessons_src.pmgt.pretrain import PretrainConfig, export_embeddings, pretrain, sequences_of
from lessons_src.pmgt.sampling import ContextSampler


def tiny_model(alpha=0.2, n_items=12, seed=0, dropout=0.0):
    torch.manual_seed(seed)
    features = [torch.randn(n_items, 6), torch.randn(n_items, 3)]
    present = torch.ones(n_items, 2, dtype=torch.bool)
    present[1, 1] = False  # item 1 lacks the second modality
    config = PMGTConfig(feature_sizes=[6, 3], hidden=8, layers=2, heads=2, intermediate=16,
                        context_size=4, alpha=alpha, dropout=dropout)
    return PMGT(config, features, present)


def reference_attention(x, real, qkv_weight, qkv_bias, heads, alpha):
    """(1 − α) softmax(QKᵀ/√d) + α softmax(1 − cos(D_i, D_j) + I), written as loops over i, j."""
    B, S, h = x.shape
    d = h // heads
    out = torch.zeros(B, heads, S, S)
    for b in range(B):
        qkv = x[b] @ qkv_weight.T + qkv_bias
        for head in range(heads):
            q = qkv[:, head * d:(head + 1) * d]
            k = qkv[:, h + head * d:h + (head + 1) * d]
            for i in range(S):
                plain = torch.tensor([q[i] @ k[j] / math.sqrt(d) if real[b, j] else -math.inf for j in range(S)])
                diverse = torch.tensor([
                    1 - F.cosine_similarity(x[b, i], x[b, j], dim=0) + (1.0 if i == j else 0.0)
                    if real[b, j] else -math.inf for j in range(S)])
                out[b, head, i] = (1 - alpha) * torch.softmax(plain, 0) + alpha * torch.softmax(diverse, 0)
    return out


@pytest.mark.parametrize("alpha", [0.0, 0.2, 1.0])
def test_attention_matches_the_equation(alpha):
    torch.manual_seed(0)
    config = PMGTConfig(feature_sizes=[3], hidden=8, heads=2, alpha=alpha, context_size=4, dropout=0.0)
    attention = DiversityAttention(config)
    x = torch.randn(2, 5, 8)
    real = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    with torch.no_grad():
        expected = reference_attention(x, real, attention.qkv.weight, attention.qkv.bias, 2, alpha)
    assert torch.allclose(attention.weights(x, real), expected, atol=1e-5)


def test_alpha_zero_is_plain_softmax_attention():
    torch.manual_seed(1)
    config = PMGTConfig(feature_sizes=[3], hidden=8, heads=2, alpha=0.0, context_size=4, dropout=0.0)
    attention = DiversityAttention(config)
    x, real = torch.randn(3, 5, 8), torch.ones(3, 5, dtype=torch.bool)
    q, k, v = attention.qkv(x).split(8, -1)
    split = lambda t: t.view(3, 5, 2, 4).transpose(1, 2)
    plain = F.scaled_dot_product_attention(split(q), split(k), split(v)).transpose(1, 2).reshape(3, 5, 8)
    assert torch.allclose(attention(x, real), attention.out(plain), atol=1e-5)


def test_fusion_gate_ignores_a_missing_modality():
    torch.manual_seed(0)
    fusion = ModalityFusion([4, 2], hidden=6)
    x = [torch.randn(3, 4), torch.randn(3, 2)]
    present = torch.tensor([[True, True], [True, False], [False, False]])
    fused, gate = fusion(x, present)
    assert torch.allclose(gate.sum(-1), torch.tensor([1.0, 1.0, 0.0]))
    assert gate[1, 1] == 0 and torch.allclose(fused[1], fusion.project[0](x[0][1]))
    assert torch.allclose(fused[2], fusion.no_features)
    # changing the absent modality's values changes nothing
    x2 = [x[0], x[1] + 100 * (~present[:, 1:]).float()]
    assert torch.allclose(fusion(x2, present)[0][:2], fused[:2])


def test_masking_picks_context_only_and_reads_targets_before_replacement():
    ids = torch.arange(1, 11).repeat(20000, 1)  # centre 1, context 2 … 10
    ids[:, 0] = 0
    ids[:, 8:] = -1  # 7 real context nodes per row
    batch = mask_context(ids, n_items=1000, rate=0.2, generator=torch.Generator().manual_seed(0))
    assert not batch.masked[:, 0].any() and not batch.masked[ids < 0].any()
    assert (batch.masked.sum(1) == round(7 * 0.2)).all()
    assert torch.equal(batch.targets, ids)
    masked = batch.masked
    token = batch.use_mask_token[masked].float().mean()
    replaced = (batch.inputs[masked] != ids[masked]).float().mean()
    assert abs(token - 0.8) < 0.01 and 0.09 < replaced < 0.11  # random ids rarely equal the original
    assert torch.equal(batch.inputs[~masked], ids[~masked]) and not batch.use_mask_token[~masked].any()


def test_only_masked_positions_enter_the_feature_loss():
    model = tiny_model()
    outputs = torch.randn(4, 5, 8, requires_grad=True)
    ids = torch.randint(0, 12, (4, 5))
    masked = torch.zeros(4, 5, dtype=torch.bool)
    masked[0, 2] = masked[3, 1] = masked[1, 4] = True
    raw, present = model.raw_features(ids)
    loss = feature_loss(outputs, masked, raw, present, model.reconstruct)
    loss.backward()
    gradient_norm = outputs.grad.norm(dim=-1)
    assert (gradient_norm[masked] > 0).all() and (gradient_norm[~masked] == 0).all()
    # and it is the mean squared error of the heads there, by hand
    by_hand, count = 0.0, 0
    for b, s in masked.nonzero().tolist():
        for m, head in enumerate(model.reconstruct):
            if present[b, s, m]:
                by_hand += ((head(outputs[b, s]) - raw[m][b, s]) ** 2).mean()
                count += 1
    assert torch.allclose(loss, by_hand / count)


def two_cliques(size=6):
    """Two disjoint cliques of items, built from users who each saw one clique."""
    users, items = [], []
    for user in range(8):
        clique = user % 2
        for item in range(size):
            users.append(user)
            items.append(clique * size + item)
    return build_item_graph(np.array(users), np.array(items), 2 * size, min_users=3)


def test_structure_loss_is_lower_for_true_neighbours_after_training():
    graph = two_cliques()
    torch.manual_seed(0)
    features = [torch.randn(12, 6)]  # features say nothing about the cliques
    model = PMGT(PMGTConfig(feature_sizes=[6], hidden=16, heads=2, context_size=4, dropout=0.0),
                 features, torch.ones(12, 1, dtype=torch.bool))
    sampler = ContextSampler(graph, context_size=4)
    pretrain(model, sampler, PretrainConfig(epochs=40, batch_size=12, lr=3e-3, feature_weight=0.0,
                                            progress=False))
    embeddings = F.normalize(export_embeddings(model, sampler), dim=-1)
    cosine = embeddings @ embeddings.T
    same = torch.tensor([[(i < 6) == (j < 6) and i != j for j in range(12)] for i in range(12)])
    other = torch.tensor([[(i < 6) != (j < 6) for j in range(12)] for i in range(12)])
    logit = lambda c, y: F.binary_cross_entropy_with_logits(c, torch.full_like(c, y))
    assert logit(cosine[same], 1.0) < logit(cosine[other], 1.0)
    assert cosine[same].mean() > cosine[other].mean() + 0.5


def test_structure_loss_by_hand():
    centre, positive, negative = torch.randn(3, 4, 5).unbind(0)
    has_negative = torch.tensor([True, False, True, True])
    loss = structure_loss(centre, positive, negative, has_negative)
    terms = []
    for b in range(4):
        cp = F.cosine_similarity(centre[b], positive[b], dim=0)
        cn = F.cosine_similarity(centre[b], negative[b], dim=0)
        push = -torch.log(1 - torch.sigmoid(cn)) if has_negative[b] else 0.0
        terms.append(-torch.log(torch.sigmoid(cp)) + push)
    assert torch.allclose(loss, torch.stack(terms).mean(), atol=1e-6)
    assert torch.allclose(structure_loss(centre, positive, negative),
                          structure_loss(centre, positive, negative, torch.ones(4, dtype=torch.bool)))


def test_the_in_context_shortcut_reads_its_pairs_from_one_pass():
    outputs = torch.randn(3, 4, 5)
    ids = torch.tensor([[0, 1, -1, -1], [1, 2, 3, -1], [2, -1, -1, -1]])  # row 2 has no context
    centre, positive, negative, _ = in_context_pairs(outputs, ids, torch.Generator().manual_seed(0))
    # replay the generator to know which positive and which shift it used
    replay = torch.Generator().manual_seed(0)
    key = torch.rand(3, 3, generator=replay).masked_fill(ids[:, 1:] < 0, -1.0)
    positive_at = 1 + key.argmax(1)
    shift = int(torch.randint(1, 3, (1,), generator=replay))
    assert len(centre) == 2  # the row without context is left out
    for b in (0, 1):
        assert torch.equal(centre[b], outputs[b, 0]) and torch.equal(positive[b], outputs[b, positive_at[b]])
        assert torch.equal(negative[b], outputs[(b - shift) % 3, 0])


def test_negatives_are_uniform_over_the_graph_items_that_are_not_neighbours():
    rng = np.random.default_rng(0)
    graph = build_item_graph(rng.integers(0, 30, 300), rng.integers(1, 25, 300), 26, min_users=2)
    sampler = ContextSampler(graph)
    graph_items = set(np.flatnonzero(graph.degrees > 0).tolist())
    centres = torch.arange(26).repeat(3000)
    drawn = sampler.draw_non_neighbours(centres, torch.Generator().manual_seed(0))
    checked = 0
    for centre in range(26):
        allowed = sorted(graph_items - set(graph.neighbours(centre).tolist()) - {centre})
        got = drawn[centres == centre].numpy()
        if not allowed:
            assert (got == -1).all()
            continue
        values, counts = np.unique(got, return_counts=True)
        assert values.tolist() == allowed  # every allowed item, nothing else
        expected = 3000 / len(allowed)
        assert np.abs(counts - expected).max() < 5 * np.sqrt(expected)  # uniform within 5 sd
        checked += len(allowed) > 1
    assert checked >= 3  # the graph leaves several centres a choice


def test_export_is_deterministic_and_unmasked():
    graph = two_cliques()
    model = tiny_model(n_items=12, dropout=0.3)
    sampler = ContextSampler(graph, context_size=4)
    model.train()
    a, b = export_embeddings(model, sampler, seed=5), export_embeddings(model, sampler, seed=5)
    assert torch.equal(a, b) and model.training  # eval inside, mode restored after
    # it is the pooled centre vector, at unit length, over the seed's context with no [MASK] input
    contexts = sampler.sample(torch.arange(12), torch.Generator().manual_seed(5)).items
    model.eval()
    with torch.no_grad():
        direct = model.pooler(model(sequences_of(torch.arange(12), contexts))[:, 0])
    assert torch.allclose(a, F.normalize(direct, dim=-1), atol=1e-6)


def test_the_official_masked_export_hides_neighbours_and_the_default_does_not():
    graph = two_cliques()
    model = tiny_model(n_items=12)
    sampler = ContextSampler(graph, context_size=4)
    clean = export_embeddings(model, sampler, seed=5)
    masked = export_embeddings(model, sampler, seed=5, mask_rate=0.5)
    # half of every context hidden (as in training): the centres' outputs move
    assert not torch.allclose(clean, masked, atol=1e-4)
    assert torch.equal(masked, export_embeddings(model, sampler, seed=5, mask_rate=0.5))  # still seeded
    assert torch.equal(clean, export_embeddings(model, sampler, seed=5, mask_rate=0.0))


def test_pretraining_reduces_both_losses_and_is_reproducible():
    graph = two_cliques()
    runs = []
    for _ in range(2):
        model = tiny_model(n_items=12)
        result = pretrain(model, ContextSampler(graph, context_size=4),
                          PretrainConfig(epochs=15, batch_size=6, lr=3e-3, progress=False))
        runs.append([r["loss"] for r in result.history])
        first, last = result.history[0], result.history[-1]
        assert last["feature"] < first["feature"] and last["structure"] < first["structure"]
    assert runs[0] == runs[1]


def test_bad_configuration_is_named():
    with pytest.raises(ValueError, match="feature_sizes"):
        PMGTConfig()
    with pytest.raises(ValueError, match="alpha"):
        PMGTConfig(feature_sizes=[3], alpha=1.5)
    with pytest.raises(ValueError, match="feature table 0"):
        PMGT(PMGTConfig(feature_sizes=[3]), [torch.zeros(4, 2)], torch.ones(4, 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="rate"):
        mask_context(torch.zeros(1, 3, dtype=torch.long), 5, rate=2.0)

"""SASRec against a reference written from the paper and the authors' TF code, as plain Python loops.

The reference below uses nothing but scalar arithmetic on Python floats: loops over sequences,
query positions, key positions and features, its own softmax and its own layer norm. It follows
kang205/SASRec: ``modules.multihead_attention`` (Q, K, V dense layers and no output projection,
blocked scores filled with −2³²+1, padding query rows zeroed, dropout on the weights, residual
adding the normed queries), ``modules.feedforward`` (dense-ReLU-dropout-dense-dropout, residual
adding its normed input), ``modules.normalize`` (ε = 1e-8) and ``model.Model`` (√d-scaled item
embedding plus position embedding, timeline mask after the embedding and after every block,
final layer norm, logits as dot products with the item table). ``port`` adds W_O; ``pre_ln``
normalises before each sub-layer, keys and values included.
"""

from __future__ import annotations

import math

import pytest
import torch

from lessons_src.sasrec.model import Batch, SASRec

LAYOUTS = ["official", "port", "pre_ln"]
TF_BLOCKED = -(2.0**32) + 1  # what the authors write into blocked scores


# ----------------------------------------------------------------------------- the reference


def dense(weight, bias, x):
    """y_o = Σ_i W[o][i] x_i + b_o (torch stores W as (out, in); TF's kernel is its transpose)."""
    return [sum(w_oi * x_i for w_oi, x_i in zip(row, x)) + b_o for row, b_o in zip(weight, bias)]


def layer_norm(x, gamma, beta, eps=1e-8):
    mean = sum(x) / len(x)
    variance = sum((v - mean) ** 2 for v in x) / len(x)  # tf.nn.moments: the biased variance
    return [g * (v - mean) / math.sqrt(variance + eps) + b for v, g, b in zip(x, gamma, beta)]


def softmax(scores):
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def add(a, b):
    return [u + v for u, v in zip(a, b)]


def attention(p, prefix, queries, keys, key_real, query_real, n_heads, output_projection):
    """TF multihead_attention for one sequence, without its residual; lists over positions of features."""
    q = [dense(p[prefix + "query.weight"], p[prefix + "query.bias"], x) for x in queries]
    k = [dense(p[prefix + "key.weight"], p[prefix + "key.bias"], x) for x in keys]
    v = [dense(p[prefix + "value.weight"], p[prefix + "value.bias"], x) for x in keys]
    length, hidden = len(queries), len(q[0])
    head_dim = hidden // n_heads
    out = [[0.0] * hidden for _ in range(length)]
    for h in range(n_heads):
        features = range(h * head_dim, (h + 1) * head_dim)
        for t in range(length):
            scores = []
            for j in range(length):
                if j <= t and key_real[j]:  # causality and key masking
                    scores.append(sum(q[t][c] * k[j][c] for c in features) / math.sqrt(head_dim))
                else:
                    scores.append(TF_BLOCKED)
            weights = softmax(scores)
            if not query_real[t]:  # query masking
                weights = [0.0] * length
            for c in features:
                out[t][c] = sum(weights[j] * v[j][c] for j in range(length))
    if output_projection:
        out = [dense(p[prefix + "out.weight"], p[prefix + "out.bias"], o) for o in out]
    return out


def feed_forward(p, prefix, x):
    inner = [max(0.0, u) for u in dense(p[prefix + "net.0.weight"], p[prefix + "net.0.bias"], x)]
    return dense(p[prefix + "net.3.weight"], p[prefix + "net.3.bias"], inner)


def reference_block(p, i, x, real, layout, n_heads):
    """One block on one sequence x (list over positions of features) whose padding rows are zero."""
    pre = f"blocks.{i}."
    norm = lambda name, v: layer_norm(v, p[pre + name + ".weight"], p[pre + name + ".bias"])  # noqa: E731
    if layout == "pre_ln":
        h = [norm("attention_norm", v) for v in x]
        attended = attention(p, pre + "attention.", h, h, real, real, n_heads, False)
        x = [add(a, b) for a, b in zip(x, attended)]
        x = [add(v, feed_forward(p, pre + "ffn.", norm("ffn_norm", v))) for v in x]
    else:
        q = [norm("attention_norm", v) for v in x]
        # TF's key mask: sign(Σ|keys|), keys = the (timeline-masked) block input itself
        key_real = [any(value != 0.0 for value in v) for v in x]
        attended = attention(p, pre + "attention.", q, x, key_real, real, n_heads, layout == "port")
        x = [add(a, b) for a, b in zip(q, attended)]
        x = [norm("ffn_norm", v) for v in x]
        x = [add(v, feed_forward(p, pre + "ffn.", v)) for v in x]
    return [v if r else [0.0] * len(v) for v, r in zip(x, real)]  # seq *= mask


def reference_features(p, seq, layout, n_blocks, n_heads):
    """Model.seq of the TF graph for one left-padded sequence (list of ids)."""
    length = len(seq)
    hidden = len(p["final_norm.weight"])
    real = [s != 0 for s in seq]
    x = []
    for t, item in enumerate(seq):
        m = p["item_embedding.weight"][item]
        position = p["position_embedding.weight"][length - 1 - t]  # counted back from the newest item
        row = [math.sqrt(hidden) * a + b for a, b in zip(m, position)]
        x.append(row if real[t] else [0.0] * hidden)
    for i in range(n_blocks):
        x = reference_block(p, i, x, real, layout, n_heads)
    return [layer_norm(v, p["final_norm.weight"], p["final_norm.bias"]) for v in x]


def as_lists(model):
    return {name: value.tolist() for name, value in model.state_dict().items()}


# ----------------------------------------------------------------------------- the comparisons

SEQ = torch.tensor([[0, 0, 0, 5, 3, 8], [4, 1, 1, 9, 2, 20], [0, 0, 0, 0, 0, 7], [0, 0, 12, 0, 6, 6]])


def make(model_factory, layout, training):
    model = model_factory(perturb=True, block_layout=layout, dropout=0.0, hidden=8, n_heads=2, maxlen=6)
    return model.train(training)


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_one_block_matches_the_reference(model_factory, layout, training):
    model = make(model_factory, layout, training)
    model.config.fast = False
    g = torch.Generator().manual_seed(0)
    x = torch.randn(*SEQ.shape, 8, generator=g) * (SEQ != 0).unsqueeze(-1)  # (B, L, C), padding rows zero
    with torch.no_grad():
        out, _ = model.blocks[1](x, Batch(SEQ, model.config))
    p = as_lists(model)
    for b in range(len(SEQ)):
        real = [s != 0 for s in SEQ[b].tolist()]
        expected = reference_block(p, 1, x[b].tolist(), real, layout, model.config.n_heads)
        torch.testing.assert_close(out[b], torch.tensor(expected), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_whole_model_matches_the_reference(model_factory, layout, training, fast):
    model = make(model_factory, layout, training)
    model.config.fast = fast
    g = torch.Generator().manual_seed(1)
    pos = torch.randint(0, 21, SEQ.shape, generator=g)
    neg = torch.randint(1, 21, SEQ.shape, generator=g)
    with torch.no_grad():
        features = model.encode(SEQ)
        pos_logits, neg_logits = model(SEQ, pos, neg)
    p = as_lists(model)
    item = p["item_embedding.weight"]
    for b in range(len(SEQ)):
        expected = reference_features(p, SEQ[b].tolist(), layout, model.config.n_blocks, model.config.n_heads)
        torch.testing.assert_close(features[b], torch.tensor(expected), atol=1e-5, rtol=1e-5)
        for t in range(SEQ.shape[1]):
            r_pos = sum(f * m for f, m in zip(expected[t], item[pos[b, t]]))  # r(i, t) = F_t · M_i
            r_neg = sum(f * m for f, m in zip(expected[t], item[neg[b, t]]))
            assert pos_logits[b, t].item() == pytest.approx(r_pos, abs=1e-4)
            assert neg_logits[b, t].item() == pytest.approx(r_neg, abs=1e-4)


def test_official_attention_has_no_output_projection_and_port_has_one(model_factory):
    names = lambda layout: {n for n, _ in model_factory(block_layout=layout).named_parameters()}  # noqa: E731
    assert not any(".attention.out." in n for n in names("official"))
    assert {"blocks.0.attention.out.weight", "blocks.0.attention.out.bias"} <= names("port")
    assert names("port") - names("official") == {f"blocks.{i}.attention.out.{w}" for i in (0, 1) for w in ("weight", "bias")}


# ----------------------------------------------------------------------------- dropout on the weights


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
def test_attention_dropout_drops_whole_attention_weights(model_factory, fast):
    """Dropout acts on the weights A (TF: dropout after the softmax), not on the values or the output.

    A query that may attend only to itself has A = [1], so its head output is either 0 (its one
    weight dropped) or V₀ / (1 − p) (kept and rescaled), all d_h features of the head together.
    Without attention dropout it would always be V₀; with dropout on the output, a mix.
    """
    model = model_factory(block_layout="official", dropout=0.5, hidden=8, n_heads=2, maxlen=6)
    model.config.fast = fast
    attention = model.blocks[0].attention.train()
    g = torch.Generator().manual_seed(2)
    seq = torch.randint(1, 21, (400, 6), generator=g)
    x = torch.randn(400, 6, 8, generator=g)
    batch = Batch(seq, model.config)
    torch.manual_seed(3)
    with torch.no_grad():
        out, _ = attention(batch.tokens(x), batch.tokens(x), batch)
        values = attention.value(x)  # V: (B, L, C)
    first = batch.grid(out)[:, 0].view(400, 2, 4)  # position 0, per head: (B, H, d_h)
    v0 = values[:, 0].view(400, 2, 4)
    dropped = (first == 0).all(-1)  # (B, H)
    kept = torch.isclose(first, 2 * v0, atol=1e-6).all(-1)
    assert (dropped | kept).all(), "a head's output is neither 0 nor V/(1−p): dropout is not on the weights"
    assert 0.4 < dropped.float().mean().item() < 0.6  # each weight dropped with probability p = 0.5


def test_only_attention_dropout_makes_training_random(model_factory):
    """With the embedding and feed-forward dropout off, training mode still differs from eval mode."""
    model = model_factory(perturb=True, block_layout="official", dropout=0.5)
    model.config.fast = False
    for name, module in model.named_modules():
        if hasattr(module, "p") and "attention_dropout" not in name:
            module.p = 0.0
    seq = torch.randint(1, 21, (8, 8), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        evaluated = model.eval().encode(seq)
        trained = model.train().encode(seq)
    assert not torch.allclose(trained, evaluated, atol=1e-3)
    model.blocks[0].attention.attention_dropout.p = model.blocks[1].attention.attention_dropout.p = 0.0
    with torch.no_grad():
        torch.testing.assert_close(model.train().encode(seq), evaluated, atol=1e-5, rtol=1e-5)

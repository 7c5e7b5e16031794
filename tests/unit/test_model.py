"""The SASRec model: causality, left-padding invariance, numerics, input checks, loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lessons_src.sasrec.attention import attention_mask
from lessons_src.sasrec.model import SASRec, SASRecConfig, sasrec_loss

# every way the model can compute: block layout × attention kernel × packed tokens
VARIANTS = [
    pytest.param(dict(block_layout=layout, fused_attention=fused, pack_tokens=packed),
                 id=f"{layout}-{'fused' if fused else 'explicit'}-{'packed' if packed else 'grid'}")
    for layout in ("official", "pre_ln")
    for fused in (True, False)
    for packed in (True, False)
]


def random_seq(batch, length, n_items, generator, min_real=1):
    """Left-padded sequences with random lengths in min_real..length."""
    seq = torch.randint(1, n_items + 1, (batch, length), generator=generator)
    lengths = torch.randint(min_real, length + 1, (batch,), generator=generator)
    padding = torch.arange(length)[None, :] < (length - lengths)[:, None]
    return seq.masked_fill(padding, 0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_outputs_do_not_depend_on_the_future(model_factory, variant):
    model = model_factory(perturb=True, **variant).eval()
    g = torch.Generator().manual_seed(0)
    seq = random_seq(6, 8, 20, g)
    with torch.no_grad():
        base = model.encode(seq)
        for t in range(7):
            changed = seq.clone()
            changed[:, t + 1:] = torch.randint(1, 21, (6, 7 - t), generator=g)
            out = model.encode(changed)
            torch.testing.assert_close(out[:, : t + 1], base[:, : t + 1], atol=1e-5, rtol=1e-5)
            assert not torch.allclose(out[:, t + 1:], base[:, t + 1:], atol=1e-4)  # the future did change


@pytest.mark.parametrize("variant", VARIANTS)
def test_left_padding_does_not_change_scores(model_factory, variant):
    model = model_factory(perturb=True, **variant, mask_padding_keys=True).eval()
    short = torch.tensor([[5, 3, 8], [1, 1, 19]])
    padded = F.pad(short, (5, 0))  # to maxlen 8
    with torch.no_grad():
        torch.testing.assert_close(model.score(short), model.score(padded), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.encode(short), model.encode(padded)[:, 5:], atol=1e-5, rtol=1e-5)
        # padding positions come out as the final LayerNorm of zeros: the same for every row
        pad_features = model.encode(padded)[:, :5]
        torch.testing.assert_close(pad_features, pad_features[:1, :1].expand_as(pad_features))


@pytest.mark.parametrize("layout", ["official", "pre_ln"])
def test_attending_to_padding_makes_scores_depend_on_padding(model_factory, layout):
    """Why mask_padding_keys defaults to True: without it, left padding changes the prediction."""
    model = model_factory(perturb=True, block_layout=layout, mask_padding_keys=False).eval()
    short = torch.tensor([[5, 3, 8]])
    with torch.no_grad():
        difference = (model.score(short) - model.score(F.pad(short, (5, 0)))).abs().max()
    assert difference > 1e-3


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("mask_padding_keys", [True, False])
def test_no_nan_for_any_padding_pattern(model_factory, variant, mask_padding_keys):
    model = model_factory(perturb=True, **variant, mask_padding_keys=mask_padding_keys)
    g = torch.Generator().manual_seed(3)
    seq = torch.randint(1, 21, (16, 8), generator=g) * (torch.rand(16, 8, generator=g) > 0.5)  # holes anywhere
    seq[0] = 0  # all padding
    seq[1] = 0
    seq[1, 0] = 4  # only the oldest slot real
    seq[2] = 0
    seq[2, -1] = 4  # only the newest slot real
    for training in (True, False):
        model.train(training)
        model.zero_grad()
        features = model.encode(seq)
        assert torch.isfinite(features).all()
        pos_logits, neg_logits = model(seq, seq.roll(1, 1), torch.ones_like(seq))
        features.sum().backward()
        for name, parameter in model.named_parameters():
            assert parameter.grad is None or torch.isfinite(parameter.grad).all(), name
    with pytest.raises(ValueError, match="all padding"):
        model.eval().score(seq)
    assert torch.isfinite(model.score(seq[1:])).all()


@pytest.mark.parametrize("layout", ["official", "pre_ln"])
def test_fused_and_explicit_models_agree(model_factory, layout):
    model = model_factory(perturb=True, block_layout=layout).eval()
    seq = random_seq(8, 8, 20, torch.Generator().manual_seed(4))
    seq[0] = 0
    with torch.no_grad():
        model.config.fused_attention = True
        fused = model.encode(seq)
        model.config.fused_attention = False
        explicit = model.encode(seq)
        again, weights = model.encode(seq, return_weights=True)
    torch.testing.assert_close(fused, explicit, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(again, explicit)
    model.config.pack_tokens = False  # computing on the whole grid, padding included
    with torch.no_grad():
        grid = model.encode(seq)
    torch.testing.assert_close(grid, explicit, atol=1e-5, rtol=1e-5)
    allowed = attention_mask(seq)
    assert len(weights) == model.config.n_blocks
    for w in weights:
        assert w.shape == (8, model.config.n_heads, 8, 8)
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))
        assert (w[~allowed[:, None].expand_as(w)] == 0).all()  # future and padding keys get nothing


def test_embedding_layer_scales_items_and_counts_positions_from_the_end(model_factory):
    model = model_factory(dropout=0.0).eval()
    seen = {}
    model.embedding_dropout.register_forward_hook(lambda module, args, output: seen.update(x=args[0]))
    seq = torch.tensor([[0, 0, 4, 9, 2], [7, 1, 1, 3, 20]])
    model.encode(seq)
    d = model.config.hidden
    positions = torch.arange(4, -1, -1)
    expected = math.sqrt(d) * model.item_embedding.weight[seq] + model.position_embedding.weight[positions]
    torch.testing.assert_close(seen["x"], expected)
    assert torch.equal(model.item_embedding.weight[0], torch.zeros(d))  # padding embedding is zero


def test_forward_logits_are_feature_item_dot_products(tiny_model):
    g = torch.Generator().manual_seed(5)
    seq = random_seq(3, 8, 20, g)
    pos, neg = torch.randint(0, 21, (3, 8), generator=g), torch.randint(0, 21, (3, 8), generator=g)
    with torch.no_grad():
        pos_logits, neg_logits = tiny_model(seq, pos, neg)
        features = tiny_model.encode(seq)
        embed = tiny_model.item_embedding.weight
        torch.testing.assert_close(pos_logits, (features * embed[pos]).sum(-1))
        torch.testing.assert_close(neg_logits, (features * embed[neg]).sum(-1))
        # score: the last position against every item, or against chosen candidates
        everything = tiny_model.score(seq)
        torch.testing.assert_close(everything, features[:, -1] @ embed.T)
        candidates = torch.randint(1, 21, (3, 6), generator=g)
        torch.testing.assert_close(tiny_model.score(seq, candidates), everything.gather(1, candidates))


@pytest.mark.parametrize(
    "seq, words",
    [
        (torch.tensor([[1, 2, 21]]), ["0..20", "21"]),
        (torch.tensor([[-1, 2, 3]]), ["0..20", "-1"]),
        (torch.ones(1, 9, dtype=torch.long), ["9", "maxlen 8"]),
        (torch.ones(1, 3), ["integer"]),
        (torch.ones(3, dtype=torch.long), ["2-D"]),
    ],
)
def test_bad_input_is_rejected_before_any_computation(tiny_model, monkeypatch, seq, words):
    def fail(*args, **kwargs):
        raise AssertionError("the embedding ran on invalid input")

    monkeypatch.setattr(tiny_model.item_embedding, "forward", fail)
    with pytest.raises(ValueError) as caught:
        tiny_model.encode(seq)
    for word in words:
        assert word in str(caught.value)


@pytest.mark.parametrize(
    "overrides, words",
    [
        (dict(hidden=10, n_heads=3), ["10", "3"]),
        (dict(n_items=0), ["n_items"]),
        (dict(dropout=1.0), ["dropout"]),
        (dict(block_layout="post_ln"), ["post_ln"]),
        (dict(maxlen=0), ["maxlen"]),
    ],
)
def test_bad_config_is_rejected(overrides, words):
    options = dict(n_items=20, maxlen=8, hidden=16, n_heads=2)
    options.update(overrides)
    with pytest.raises(ValueError) as caught:
        SASRecConfig(**options)
    for word in words:
        assert word in str(caught.value)


def test_loss_by_hand():
    pos_logits = torch.tensor([[9.0, 0.5, -1.0], [2.0, 7.0, -3.0]])
    neg_logits = torch.tensor([[-9.0, 0.3, 0.1], [-0.2, 5.0, 4.0]])
    pos = torch.tensor([[0, 4, 7], [2, 0, 0]])  # only three positions count
    log_sigmoid = lambda z: -math.log1p(math.exp(-z))  # noqa: E731
    real = [(0, 1), (0, 2), (1, 0)]
    positive = -sum(log_sigmoid(pos_logits[i, j].item()) for i, j in real) / 3
    negative = -sum(log_sigmoid(-neg_logits[i, j].item()) for i, j in real) / 3
    assert sasrec_loss(pos_logits, neg_logits, pos).item() == pytest.approx(positive + negative, rel=1e-6)


def test_loss_ignores_padding_logits():
    pos = torch.tensor([[0, 3, 2]])
    a = sasrec_loss(torch.tensor([[100.0, 1.0, 2.0]]), torch.tensor([[-50.0, 0.0, 1.0]]), pos)
    b = sasrec_loss(torch.tensor([[-100.0, 1.0, 2.0]]), torch.tensor([[50.0, 0.0, 1.0]]), pos)
    assert a.item() == b.item()


def test_forward_validates_targets_before_any_lookup():
    model = SASRec(SASRecConfig(n_items=10, maxlen=4, hidden=8))
    seq = torch.tensor([[0, 1, 2, 3]])
    with pytest.raises(ValueError, match="neg: item ids must lie in 0..10"):
        model(seq, seq, torch.tensor([[0, 11, 2, 3]]))
    with pytest.raises(ValueError, match="one shape"):
        model(seq, seq, torch.tensor([[1, 2, 3]]))

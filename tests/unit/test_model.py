"""The SASRec model: causality, left-padding invariance, fast = plain, numerics, init, input checks, loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pathlib import Path

from lessons_src.sasrec.model import SASRec, SASRecConfig, attention_mask, load_compact_sasrec, sasrec_loss

LAYOUTS = ("official", "port", "pre_ln")
# every way the model can compute: block layout × path
VARIANTS = [
    pytest.param(dict(block_layout=layout, fast=fast), id=f"{layout}-{'fast' if fast else 'plain'}")
    for layout in LAYOUTS
    for fast in (True, False)
]
RESULTS = Path(__file__).resolve().parents[2] / "results" / "sasrec"


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


@pytest.mark.parametrize("layout", LAYOUTS)
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
        pos = seq.roll(-1, 1)  # a next-item target wherever the next slot is real
        pos_logits, neg_logits = model(seq, pos, torch.ones_like(seq))
        assert torch.isfinite(pos_logits).all() and torch.isfinite(neg_logits).all()
        (features.sum() + sasrec_loss(pos_logits, neg_logits, pos)).backward()
        for name, parameter in model.named_parameters():
            assert parameter.grad is None or torch.isfinite(parameter.grad).all(), name
    with pytest.raises(ValueError, match="all padding"):
        model.eval().score(seq)
    assert torch.isfinite(model.score(seq[1:])).all()


def padding_patterns():
    """Left padding of random lengths, no padding, all but the newest slot padding, holes, all padding."""
    g = torch.Generator().manual_seed(4)
    left = random_seq(6, 8, 20, g)
    full = torch.randint(1, 21, (2, 8), generator=g)
    newest_only = torch.zeros(2, 8, dtype=torch.long)
    newest_only[:, -1] = torch.tensor([3, 17])
    holes = torch.randint(1, 21, (3, 8), generator=g) * (torch.rand(3, 8, generator=g) > 0.5)
    holes[:, -1] = 5
    empty = torch.zeros(1, 8, dtype=torch.long)
    return {"left": left, "full": full, "newest-only": newest_only, "holes": holes, "mixed": torch.cat(
        [left[:2], full[:1], newest_only[:1], holes[:1], empty])}


@pytest.mark.parametrize("pattern", list(padding_patterns()))
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_fast_and_plain_paths_give_the_same_outputs_and_gradients(model_factory, layout, training, pattern):
    seq = padding_patterns()[pattern]
    model = model_factory(perturb=True, block_layout=layout, dropout=0.0).train(training)
    g = torch.Generator().manual_seed(5)
    pos, neg = torch.randint(0, 21, seq.shape, generator=g), torch.randint(1, 21, seq.shape, generator=g)
    probe = torch.randn(*seq.shape, model.config.hidden, generator=g)  # weighs every feature differently
    results = {}
    for fast in (True, False):
        model.config.fast = fast
        model.zero_grad()
        features = model.encode(seq)
        pos_logits, neg_logits = model(seq, pos, neg)
        ((features * probe).sum() + sasrec_loss(pos_logits, neg_logits, pos)).backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        results[fast] = (features.detach(), pos_logits.detach(), neg_logits.detach(), grads)
    for fast_value, plain_value in zip(results[True][:3], results[False][:3]):
        torch.testing.assert_close(fast_value, plain_value, atol=1e-5, rtol=1e-5)
    fast_grads, plain_grads = results[True][3], results[False][3]
    assert fast_grads.keys() == plain_grads.keys()
    for name in plain_grads:
        torch.testing.assert_close(fast_grads[name], plain_grads[name], atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_return_weights_gives_distributions_over_allowed_keys(model_factory, layout):
    model = model_factory(perturb=True, block_layout=layout).eval()
    seq = random_seq(8, 8, 20, torch.Generator().manual_seed(4))
    seq[0] = 0
    with torch.no_grad():
        fast = model.encode(seq)
        again, weights = model.encode(seq, return_weights=True)  # the plain path, whatever config.fast says
    torch.testing.assert_close(again, fast, atol=1e-5, rtol=1e-5)
    allowed = attention_mask(seq)
    assert len(weights) == model.config.n_blocks
    for w in weights:
        assert w.shape == (8, model.config.n_heads, 8, 8)
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))
        assert (w[~allowed[:, None].expand_as(w)] == 0).all()  # future and padding keys get nothing
        assert (w[allowed[:, None].expand_as(w)] > 0).all()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_initialisation_is_glorot_uniform_with_zero_biases(layout):
    """As the authors' TF defaults: U(±√(6 / (fan_in + fan_out))) for every matrix, zero biases."""
    torch.manual_seed(0)
    model = SASRec(SASRecConfig(n_items=400, maxlen=50, hidden=50, block_layout=layout))
    matrices = 0
    for name, parameter in model.named_parameters():
        value = parameter.detach()
        if parameter.dim() == 2:
            matrices += 1
            rows = value[1:] if name == "item_embedding.weight" else value
            bound = math.sqrt(6 / sum(value.shape))
            assert rows.abs().max() <= bound, name  # a normal of the same variance would exceed it
            assert rows.abs().max() > 0.97 * bound, name
            inner = (rows.abs() < bound / 2).float().mean().item()
            assert inner == pytest.approx(0.5, abs=0.06), name  # uniform, not bell-shaped (≈ 0.66)
        elif name.endswith("norm.weight"):
            assert torch.equal(value, torch.ones_like(value)), name
        else:
            assert torch.equal(value, torch.zeros_like(value)), name  # linear biases, LayerNorm β
    assert matrices == 2 + model.config.n_blocks * (6 if layout == "port" else 5)
    assert torch.equal(model.item_embedding.weight[0], torch.zeros(50))  # the padding row


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
        (dict(block_layout="post_ln"), ["post_ln", "official", "port", "pre_ln"]),
        (dict(maxlen=0), ["maxlen"]),
        (dict(hidden=0, n_heads=1), ["hidden"]),
        (dict(n_blocks=1.5), ["n_blocks"]),
        (dict(n_heads=True), ["n_heads"]),
        (dict(dropout=-0.1), ["dropout"]),
        (dict(mask_padding_keys="yes"), ["mask_padding_keys"]),
        (dict(fast=1), ["fast"]),
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


def test_config_round_trips_and_drops_the_legacy_switches():
    config = SASRecConfig(30, 10, 16, 1, 2, 0.2, "port", False, False)  # the positional order
    assert SASRecConfig.from_dict(config.to_dict()) == config
    legacy = dict(config.to_dict(), fused_attention=True, pack_tokens=False)
    assert SASRecConfig.from_dict(legacy) == config
    with pytest.raises(ValueError, match="unknown SASRecConfig keys"):
        SASRecConfig.from_dict(dict(config.to_dict(), heads=2))


@pytest.mark.parametrize("name, layout", [("games_port_seed0", "port"), ("games_seed0", "official")])
def test_committed_checkpoints_load_with_the_layout_they_were_trained_with(name, layout):
    """The first Games run (saved as "official", but trained with W_O) loads as "port"; the re-run
    with the authors' block loads as "official", without any output projection."""
    path = RESULTS / f"{name}_model.pt"
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout")
    model = load_compact_sasrec(path)
    assert model.config.block_layout == layout
    assert any(k.endswith("attention.out.weight") for k in model.state_dict()) == (layout == "port")
    assert not model.training
    history = torch.tensor([[0, 0, 1, 2, 3]])
    scores = model.score(history)
    assert scores.shape == (1, model.config.n_items + 1) and torch.isfinite(scores).all()
    model.config.fast = False
    torch.testing.assert_close(model.score(history), scores, atol=1e-4, rtol=1e-4)

"""Attention masks and the two attention paths (fast: packed tokens + fused kernel; plain: explicit softmax)."""

from __future__ import annotations

import pytest
import torch

from lessons_src.sasrec.model import Batch, SASRecConfig, SelfAttention, attention_mask, causal_mask


def make_attention(hidden, heads, layout="official", dropout=0.5):
    torch.manual_seed(0)
    config = SASRecConfig(n_items=3, maxlen=9, hidden=hidden, n_heads=heads, dropout=dropout, block_layout=layout)
    return SelfAttention(config), config


def test_causal_mask_is_lower_triangular():
    mask = causal_mask(5)
    assert mask.dtype == torch.bool and mask.shape == (5, 5)
    for i in range(5):
        for j in range(5):
            assert bool(mask[i, j]) == (j <= i)


def test_attention_mask_by_hand():
    seq = torch.tensor([[0, 0, 3, 4], [5, 0, 6, 7]])  # the second row has a hole, for generality
    T, F = True, False
    expected = torch.tensor(
        [
            [[T, F, F, F], [F, T, F, F], [F, F, T, F], [F, F, T, T]],
            [[T, F, F, F], [T, T, F, F], [T, F, T, F], [T, F, T, T]],
        ]
    )
    assert torch.equal(attention_mask(seq), expected)
    # without padding masking it is the plain causal mask for every row
    assert torch.equal(attention_mask(seq, mask_padding_keys=False), causal_mask(4).expand(2, 4, 4))


def test_attention_mask_never_leaves_a_row_empty():
    seq = torch.zeros(3, 6, dtype=torch.long)
    seq[1, 4:] = 2
    assert attention_mask(seq).any(-1).all()


def random_seq(batch, length, generator):
    seq = (torch.rand(batch, length, generator=generator) > 0.4).long() * 3
    seq[0] = 0  # an all-padding row
    return seq


@pytest.mark.parametrize("layout", ["official", "port"])
@pytest.mark.parametrize("heads", [1, 4])
def test_fast_and_plain_paths_agree(heads, layout):
    attention, config = make_attention(16, heads, layout)
    attention.eval()
    g = torch.Generator().manual_seed(1)
    seq = random_seq(5, 7, g)
    queries, keys = torch.randn(5, 7, 16, generator=g), torch.randn(5, 7, 16, generator=g)
    plain = Batch(seq, config, need_weights=True)
    explicit, weights = attention(plain.tokens(queries), plain.tokens(keys), plain)
    assert weights.shape == (5, heads, 7, 7)
    fast = Batch(seq, config)  # packed tokens and the fused kernel
    assert fast.packed
    out, none = attention(fast.tokens(queries), fast.tokens(keys), fast)
    assert none is None and out.shape == (int((seq != 0).sum()), 16)
    torch.testing.assert_close(fast.grid(out), explicit * (seq != 0).unsqueeze(-1), atol=1e-5, rtol=1e-5)


def test_weights_are_a_distribution_over_allowed_keys():
    attention, config = make_attention(12, 3, dropout=0.0)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(6, 9, 12, generator=g)
    seq = random_seq(6, 9, g)
    batch = Batch(seq, config, need_weights=True)
    _, weights = attention(x, x, batch)
    torch.testing.assert_close(weights.sum(-1), torch.ones(6, 3, 9))
    blocked = ~batch.allowed[:, None].expand_as(weights)
    assert (weights[blocked] == 0).all()
    assert (weights[~blocked] > 0).all()


def test_official_attention_is_the_weighted_sum_of_values_and_port_projects_it():
    """No W_O in the authors' code: the output is Σ_j A_tj V_j itself; the port applies W_O after it."""
    official, config = make_attention(8, 2, "official", dropout=0.0)
    port, port_config = make_attention(8, 2, "port", dropout=0.0)
    port.load_state_dict(official.state_dict(), strict=False)  # the same W_Q, W_K, W_V
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 5, 8, generator=g)
    seq = torch.tensor([[0, 1, 2, 3, 1], [3, 3, 3, 3, 3]])
    batch = Batch(seq, config, need_weights=True)
    out, weights = official(x, x, batch)
    v = official.value(x).view(2, 5, 2, 4).transpose(1, 2)  # (B, H, L, d_h)
    by_hand = (weights @ v).transpose(1, 2).reshape(2, 5, 8) * (seq != 0).unsqueeze(-1)
    torch.testing.assert_close(out, by_hand)
    projected, _ = port(x, x, Batch(seq, port_config, need_weights=True))
    torch.testing.assert_close(projected, port.out(out))


def test_hidden_must_divide_into_heads():
    with pytest.raises(ValueError) as caught:
        SASRecConfig(n_items=3, hidden=10, n_heads=3)
    assert "10" in str(caught.value) and "3" in str(caught.value)

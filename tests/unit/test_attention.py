"""Attention masks and the two attention paths (fused kernel vs spelled-out softmax)."""

from __future__ import annotations

import pytest
import torch

from lessons_src.sasrec.attention import MultiHeadAttention, attention_mask, causal_mask
from lessons_src.sasrec.tokens import TokenLayout


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


@pytest.mark.parametrize("heads", [1, 4])
def test_fused_and_explicit_paths_agree(heads):
    torch.manual_seed(0)
    attention = MultiHeadAttention(16, heads, dropout=0.5).eval()
    g = torch.Generator().manual_seed(1)
    seq = random_seq(5, 7, g)
    allowed, layout = attention_mask(seq), TokenLayout(seq, packed=False)
    queries, keys = torch.randn(5, 7, 16, generator=g), torch.randn(5, 7, 16, generator=g)
    fused, none = attention(queries, keys, allowed, layout, fused=True)
    explicit, weights = attention(queries, keys, allowed, layout, fused=False)
    assert none is None and weights.shape == (5, heads, 7, 7)
    torch.testing.assert_close(fused, explicit, atol=1e-5, rtol=1e-5)
    also, weights2 = attention(queries, keys, allowed, layout, fused=True, return_weights=True)
    torch.testing.assert_close(also, explicit)
    torch.testing.assert_close(weights2, weights)


def test_packed_tokens_give_the_same_outputs_at_real_positions():
    torch.manual_seed(0)
    attention = MultiHeadAttention(16, 2, dropout=0.5).eval()
    g = torch.Generator().manual_seed(7)
    seq = random_seq(5, 7, g)
    allowed = attention_mask(seq)
    grid = torch.randn(5, 7, 16, generator=g) * (seq != 0).unsqueeze(-1)  # padding rows are zero
    packed = TokenLayout(seq, packed=True)
    unpacked = TokenLayout(seq, packed=False)
    out_grid, _ = attention(grid, grid, allowed, unpacked)
    out_packed, _ = attention(packed.tokens(grid), packed.tokens(grid), allowed, packed)
    assert out_packed.shape == (int((seq != 0).sum()), 16)
    torch.testing.assert_close(packed.grid(out_packed), unpacked.zero_padding(out_grid), atol=1e-5, rtol=1e-5)


def test_weights_are_a_distribution_over_allowed_keys():
    torch.manual_seed(0)
    attention = MultiHeadAttention(12, 3, dropout=0.0)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(6, 9, 12, generator=g)
    seq = random_seq(6, 9, g)
    allowed = attention_mask(seq)
    _, weights = attention(x, x, allowed, TokenLayout(seq, packed=False), fused=False)
    torch.testing.assert_close(weights.sum(-1), torch.ones(6, 3, 9))
    blocked = ~allowed[:, None].expand_as(weights)
    assert (weights[blocked] == 0).all()
    assert (weights[~blocked] > 0).all()


def test_hidden_must_divide_into_heads():
    with pytest.raises(ValueError) as caught:
        MultiHeadAttention(10, 3, 0.0)
    assert "10" in str(caught.value) and "3" in str(caught.value)

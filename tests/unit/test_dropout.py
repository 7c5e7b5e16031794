"""byte_dropout: inverted dropout with an 8-bit mask on the CPU."""

from __future__ import annotations

import pytest
import torch

from lessons_src.layers import dropout as dropout_module
from lessons_src.layers.dropout import ByteDropout, byte_dropout

N = 400_000


def effective_p(p: float) -> float:
    return round(256 * p) / 256


@pytest.mark.parametrize("p", [0.5, 0.2, 0.25, 0.9])
def test_keeps_about_one_minus_p_and_preserves_the_mean(p):
    torch.manual_seed(0)
    x = torch.ones(N)
    y = byte_dropout(x, p)
    kept = y != 0
    # binomial standard deviation of the kept fraction is ≤ 0.0008 here; allow ~6σ
    assert kept.float().mean().item() == pytest.approx(1 - p, abs=0.005)
    scale = 1 / (1 - effective_p(p))
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], scale))
    assert y.mean().item() == pytest.approx(1.0, abs=0.02 if p < 0.9 else 0.06)


def test_mask_elements_are_independent():
    """Neighbouring elements share a random word; their keep decisions must still be independent."""
    torch.manual_seed(1)
    kept = (byte_dropout(torch.ones(N), 0.5) != 0).float()
    both = (kept[:-1] * kept[1:]).mean().item()
    assert both == pytest.approx(0.25, abs=0.006)
    eight_apart = (kept[:-8] * kept[8:]).mean().item()
    assert eight_apart == pytest.approx(0.25, abs=0.006)


def test_the_mask_changes_between_calls_and_follows_the_seed():
    torch.manual_seed(2)
    a, b = byte_dropout(torch.ones(1000), 0.5), byte_dropout(torch.ones(1000), 0.5)
    assert not torch.equal(a, b)
    torch.manual_seed(2)
    assert torch.equal(byte_dropout(torch.ones(1000), 0.5), a)


def test_identity_in_eval_mode_and_for_p_zero():
    x = torch.randn(3, 5, 7)
    assert torch.equal(byte_dropout(x, 0.5, training=False), x)
    assert torch.equal(byte_dropout(x, 0.0), x)
    module = ByteDropout(0.5).eval()
    assert torch.equal(module(x), x)
    module.train()
    assert not torch.equal(module(x), x)


def test_gradient_is_zero_where_dropped():
    torch.manual_seed(3)
    x = torch.randn(64, 33, requires_grad=True)  # numel not a multiple of 8
    y = byte_dropout(x, 0.3)
    y.sum().backward()
    dropped = y.detach() == 0
    assert dropped.any() and (~dropped).any()
    assert (x.grad[dropped] == 0).all()
    torch.testing.assert_close(x.grad[~dropped], torch.full_like(x.grad[~dropped], 1 / (1 - effective_p(0.3))))


def test_shape_and_dtype_are_kept():
    x = torch.randn(2, 3, 5, dtype=torch.float64)
    y = byte_dropout(x, 0.5)
    assert y.shape == x.shape and y.dtype == x.dtype


def test_p_near_one_drops_everything():
    assert torch.equal(byte_dropout(torch.ones(100), 0.999), torch.zeros(100))


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_module_rejects_bad_probabilities(p):
    with pytest.raises(ValueError, match="dropout probability"):
        ByteDropout(p)


def test_torch_dropout_context_uses_torch_kernel_and_restores(monkeypatch):
    calls = []
    real = dropout_module.F.dropout
    monkeypatch.setattr(dropout_module.F, "dropout", lambda *a, **k: calls.append(1) or real(*a, **k))
    x = torch.ones(100)
    byte_dropout(x, 0.5)
    assert calls == []
    with dropout_module.torch_dropout():
        assert not dropout_module.byte_dropout_active(x)
        byte_dropout(x, 0.5)
    assert calls == [1]
    assert dropout_module.byte_dropout_active(x)

"""Chapter 2's checkers accept a right answer and name the classic mistakes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lessons_src.distill import exercises as ex


def kd(z, v, y, T, alpha, reduction="batchmean", t2=True):
    kl = F.kl_div(F.log_softmax(z / T, -1), F.softmax(v / T, -1), reduction=reduction)
    return alpha * kl * (T * T if t2 else 1.0) + (1 - alpha) * F.cross_entropy(z, y)


def unfinished(*args):
    raise NotImplementedError


def test_soften_checker():
    assert ex.check_soften(lambda z, t: torch.softmax(z / t, -1)) == ex.PASS
    assert "dim=0" in ex.check_soften(lambda z, t: torch.softmax(z / t, 0))
    assert ex.check_soften(lambda z, t: torch.softmax(z, -1)).startswith("✗")
    assert "not attempted" in ex.check_soften(unfinished)


def test_distillation_loss_checker_names_each_classic_mistake():
    assert ex.check_distillation_loss(kd) == ex.PASS
    assert "T²" in ex.check_distillation_loss(lambda *a: kd(*a, t2=False))
    with pytest.warns(UserWarning):  # torch warns that 'mean' does not give the true KL
        message = ex.check_distillation_loss(lambda *a: kd(*a, reduction="mean"))
    assert "batchmean" in message
    assert "swapped" in ex.check_distillation_loss(lambda z, v, y, T, a: kd(z, v, y, T, 1 - a))
    assert "raised" in ex.check_distillation_loss(lambda *a: 1 / 0)


def test_effective_weight_checker():
    assert ex.check_effective_weight(lambda c: 2 / c) == ex.PASS
    assert ex.check_effective_weight(lambda c: 1 / c).startswith("✗")
    assert ex.check_effective_weight(lambda c: 2.0).startswith("✗")


def test_position_weights_checker():
    def right(k, lam):
        w = torch.exp(-torch.arange(1, k + 1) / lam)
        return w / w.sum()

    def from_zero(k, lam):
        w = torch.exp(-torch.arange(0, k) / lam)
        return w / w.sum() * 1.0  # the same after normalising: ranks from 0 are fine

    def unnormalised(k, lam):
        return torch.exp(-torch.arange(1, k + 1) / lam)

    assert ex.check_position_weights(right) == ex.PASS
    assert ex.check_position_weights(from_zero) == ex.PASS
    assert "sum to" in ex.check_position_weights(unnormalised)
    assert ex.check_position_weights(lambda k, lam: torch.full((k,), 1.0 / k)).startswith("✗")

"""Checkers for chapter 3's exercises (see :mod:`lessons_src.course.checkers` for the conventions)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..course.checkers import PASS, assert_correct
from ..course.checkers import attempt as _attempt
from .losses import margin_loss
from .routing import dynamic_routing, squash


def _as_tensor(value, name: str):
    try:
        return torch.as_tensor(value, dtype=torch.float32), None
    except (TypeError, ValueError, RuntimeError):
        return None, f"✗ expected a tensor for {name}, got {type(value).__name__}"


def check_squash(fn: Callable[[torch.Tensor], torch.Tensor]) -> str:
    """Exercise 1: ``fn(s)`` squashes the vectors along the last axis; must be finite at s = 0."""
    generator = torch.Generator().manual_seed(0)
    cases = [torch.tensor([[3.0, 4.0]]), 5 * torch.randn(6, 8, generator=generator), torch.zeros(2, 16),
             0.01 * torch.randn(3, 4, 5, generator=generator)]
    for s in cases:
        got, problem = _attempt(fn, s.clone())
        if problem:
            return problem
        got, problem = _as_tensor(got, "squash(s)")
        if problem:
            return problem
        if got.shape != s.shape:
            return f"✗ expected shape {tuple(s.shape)}, got {tuple(got.shape)}"
        if not torch.isfinite(got).all():
            return "✗ NaN or inf in the output: what happens at |s| = 0? (add a small eps under the square root)"
        if not torch.allclose(got, squash(s), atol=1e-5):
            if torch.allclose(got, squash(s, dim=0), atol=1e-5):
                return "✗ you squashed along the first axis; capsules are vectors along the LAST axis"
            return "✗ wrong values: v = |s|²/(1 + |s|²) · s/|s|; for s = (3, 4) the length is 25/26"
    return PASS


def check_routing(fn: Callable[[torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]) -> str:
    """Exercise 2: ``fn(u_hat, iterations)`` → (v (B, n_out, D), c (B, n_in, n_out) of the last iteration)."""
    generator = torch.Generator().manual_seed(1)
    u_hat = torch.randn(2, 7, 3, 4, generator=generator)
    for iterations in (1, 3):
        got, problem = _attempt(fn, u_hat.clone(), iterations)
        if problem:
            return problem
        try:
            v, c = (torch.as_tensor(t, dtype=torch.float32) for t in got)
        except (TypeError, ValueError, RuntimeError):
            return "✗ expected a pair (v, c)"
        want = dynamic_routing(u_hat, iterations)
        if c.shape != (2, 7, 3) or v.shape != (2, 3, 4):
            return f"✗ expected v (2, 3, 4) and c (2, 7, 3), got {tuple(v.shape)} and {tuple(c.shape)}"
        if torch.allclose(c.sum(1), torch.ones(2, 3), atol=1e-5):
            return "✗ your coefficients sum to 1 over the INPUT capsules: the softmax must run over the outputs"
        if not torch.allclose(c, want.coefficients[-1], atol=1e-5):
            return (f"✗ iterations={iterations}: wrong coupling coefficients (start from b = 0, one b_ij per "
                    "(input, output) pair, and update b only between iterations)")
        if not torch.allclose(v, want.v, atol=1e-5):
            return f"✗ iterations={iterations}: c is right but v is not: s_j = Σ_i c_ij û_j|i, then squash"
    return PASS


def check_margin_loss(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    """Exercise 3: ``fn(lengths (B, 10), labels (B,))`` = the paper's margin loss, summed over classes, mean over B."""
    lengths = torch.tensor([[0.95, 0.2, 0.05] + [0.0] * 7, [0.5, 0.6, 0.3] + [0.12] * 7])
    labels = torch.tensor([0, 1])
    got, problem = _attempt(fn, lengths.clone(), labels.clone())
    if problem:
        return problem
    try:
        got = float(torch.as_tensor(got).reshape(()))
    except (TypeError, ValueError, RuntimeError):
        return f"✗ expected a scalar, got {got!r}"
    want = float(margin_loss(lengths, labels))
    if abs(got - want) < 1e-6:
        return PASS
    if abs(got - want / 10) < 1e-6:
        return "✗ you averaged over the classes; the paper sums over them (and averages over the batch)"
    return f"✗ expected {want:.5f}, got {got:.5f}; check m+ = 0.9, m− = 0.1, λ = 0.5 and the squares"


def check_merge(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    """Exercise 4: ``fn(interests (B, K, d), items (N, d))`` → (B, N) merged serving scores."""
    generator = torch.Generator().manual_seed(2)
    interests, items = torch.randn(3, 4, 5, generator=generator), torch.randn(9, 5, generator=generator)
    got, problem = _attempt(fn, interests.clone(), items.clone())
    if problem:
        return problem
    got, problem = _as_tensor(got, "scores")
    if problem:
        return problem
    want = (interests @ items.T).amax(1)
    if got.shape != want.shape:
        return f"✗ expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
    if torch.allclose(got, (interests @ items.T).mean(1), atol=1e-5):
        return "✗ averaging the interests blurs them back into one vector; keep each item's best interest"
    if not torch.allclose(got, want, atol=1e-5):
        return "✗ wrong scores: each item's score is its best inner product over the K interests"
    return PASS


__all__ = ["PASS", "assert_correct", "check_margin_loss", "check_merge", "check_routing", "check_squash"]

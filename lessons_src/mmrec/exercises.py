"""Checkers for chapter 4's exercises (see :mod:`lessons_src.course.checkers` for the conventions)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..course.checkers import PASS, assert_correct
from ..course.checkers import attempt as _attempt
from ..evaluation.impressions import impression_metrics
from .model import candidate_aware_attention

__all__ = ["PASS", "assert_correct", "check_auc", "check_candidate_user", "check_masked_pooling"]


def _tensor(value, name: str):
    try:
        return torch.as_tensor(value, dtype=torch.float32), None
    except (TypeError, ValueError, RuntimeError):
        return None, f"✗ expected a tensor for {name}, got {type(value).__name__}"


def _masked_pooling(logits, vectors, mask):
    weights = logits.masked_fill(~mask, float("-inf")).softmax(-1)
    return (weights.unsqueeze(-1) * vectors).sum(1)


def check_masked_pooling(fn: Callable) -> str:
    """Exercise 1: ``fn(logits (B, H), vectors (B, H, d), mask (B, H))`` → (B, d): softmax over the
    real positions only, then the weighted sum of the vectors."""
    g = torch.Generator().manual_seed(0)
    logits, vectors = torch.randn(3, 5, generator=g), torch.randn(3, 5, 4, generator=g)
    mask = torch.tensor([[True] * 5, [False, False, True, True, True], [False, False, False, False, True]])
    got, problem = _attempt(fn, logits.clone(), vectors.clone(), mask.clone())
    if problem:
        return problem
    got, problem = _tensor(got, "the pooled vectors")
    if problem:
        return problem
    if got.shape != (3, 4):
        return f"✗ expected shape (3, 4), got {tuple(got.shape)}"
    want = _masked_pooling(logits, vectors, mask)
    if torch.allclose(got, want, atol=1e-5):
        return PASS
    if torch.allclose(got, _masked_pooling(logits, vectors, torch.ones_like(mask)), atol=1e-5):
        return "✗ the padded positions got weight: set their logits to −∞ before the softmax"
    unmasked_axis = (logits.masked_fill(~mask, float("-inf")).softmax(0).unsqueeze(-1) * vectors).sum(1)
    if torch.allclose(got, unmasked_axis, atol=1e-5):
        return "✗ the softmax ran over the batch axis; it must run over the H positions of each row"
    return "✗ wrong values: α = softmax over real positions of the logits, output Σ_i α_i · vectors_i"


def check_auc(fn: Callable) -> str:
    """Exercise 2: ``fn(scores, labels)`` → the AUC of one impression (lists; labels 1 / 0), ties ½."""
    cases = [([0.9, 0.1, 0.5], [1, 0, 1]), ([0.1, 0.9, 0.5], [1, 0, 0]), ([0.3, 0.3, 0.2, 0.8], [1, 0, 0, 0]),
             ([2.0, 2.0, 2.0], [0, 1, 0])]
    for scores, labels in cases:
        got, problem = _attempt(fn, list(scores), list(labels))
        if problem:
            return problem
        want = impression_metrics(torch.tensor([scores]), torch.tensor([labels], dtype=torch.float32))["AUC"]
        try:
            got = float(got)
        except (TypeError, ValueError):
            return f"✗ expected a number, got {type(got).__name__}"
        if abs(got - want) > 1e-9:
            tie = any(scores.count(s) > 1 for s in scores)
            hint = " — a tie between a click and a non-click counts ½" if tie else ""
            return f"✗ scores {scores}, labels {labels}: expected AUC {want:.4f}, got {got:.4f}{hint}"
    return PASS


def check_candidate_user(fn: Callable) -> str:
    """Exercise 3: ``fn(t_c, v_c, T, V)`` → the user vector Σ_{x,y} u^{x→y} (d,) for one candidate
    (t_c, v_c: (d,)) and H clicked news (T, V: (H, d)), with α^{x→y} = softmax_i(x_c · y_i / √d)."""
    g = torch.Generator().manual_seed(3)
    t_c, v_c, T, V = torch.randn(4, generator=g), torch.randn(4, generator=g), torch.randn(6, 4, generator=g), \
        torch.randn(6, 4, generator=g)
    got, problem = _attempt(fn, t_c.clone(), v_c.clone(), T.clone(), V.clone())
    if problem:
        return problem
    got, problem = _tensor(got, "the user vector")
    if problem:
        return problem
    if got.shape != (4,):
        return f"✗ expected shape (4,), got {tuple(got.shape)}"
    mask = torch.ones(1, 6, dtype=torch.bool)
    want, _ = candidate_aware_attention({"t": t_c[None, None], "v": v_c[None, None]}, {"t": T[None], "v": V[None]}, mask)
    if torch.allclose(got, want[0, 0], atol=1e-5):
        return PASS
    same, _ = candidate_aware_attention({"t": t_c[None, None]}, {"t": T[None]}, mask)
    same_v, _ = candidate_aware_attention({"v": v_c[None, None]}, {"v": V[None]}, mask)
    if torch.allclose(got, (same + same_v)[0, 0], atol=1e-5):
        return "✗ only t→t and v→v: the cross pairings t→v (candidate title, clicked images) and v→t are missing"
    return "✗ wrong values: sum the four u^{x→y} = Σ_i softmax_i(x_c · y_i / √d) y_i over x, y ∈ {t, v}"

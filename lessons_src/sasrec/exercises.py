"""Checkers for chapter 1's exercises (see :mod:`lessons_src.course.checkers` for the conventions)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from ..course.checkers import PASS, assert_correct
from ..course.checkers import attempt as _attempt
from ..evaluation.metrics import hit_rate, ndcg
from .model import causal_mask
from .model import sasrec_loss


def check_blocked_mask(fn: Callable[[int], torch.Tensor]) -> str:
    """Exercise 1: ``fn(L)`` returns the (L, L) bool mask in nn.MultiheadAttention's convention."""
    for length in (1, 2, 5, 9):
        mask, problem = _attempt(fn, length)
        if problem:
            return problem
        mask = torch.as_tensor(mask)
        if mask.shape != (length, length) or mask.dtype != torch.bool:
            return f"✗ for L={length} expected a ({length}, {length}) bool tensor, got {mask.dtype} {tuple(mask.shape)}"
        expected = ~causal_mask(length)
        if not torch.equal(mask, expected):
            i, j = map(int, (mask != expected).nonzero()[0])
            verdict = "blocked" if mask[i, j] else "allowed"
            return f"✗ for L={length}, query {i} → key {j} is {verdict}; remember True means 'may NOT attend'"
    return PASS


def check_metrics(fn: Callable[[np.ndarray, int], tuple[float, float]]) -> str:
    """Exercise 2: ``fn(ranks, k)`` returns mean (HR@k, NDCG@k) for 0-based ranks."""
    cases = [np.array([0, 1, 9, 10, 57]), np.array([3]), np.array([12, 40])]
    for ranks in cases:
        for k in (1, 10):
            got, problem = _attempt(fn, ranks.copy(), k)
            if problem:
                return problem
            try:
                got = (float(got[0]), float(got[1]))
            except (TypeError, IndexError, ValueError):
                return f"✗ expected a tuple (hr, ndcg) of two numbers, got {got!r}"
            tensor = torch.as_tensor(ranks, dtype=torch.float64)
            want = (float(hit_rate(tensor, k).mean()), float(ndcg(tensor, k).mean()))
            if not (math.isclose(got[0], want[0], abs_tol=1e-9) and math.isclose(got[1], want[1], abs_tol=1e-9)):
                return f"✗ ranks={ranks.tolist()}, k={k}: expected HR, NDCG = {want[0]:.4f}, {want[1]:.4f}, got {got[0]:.4f}, {got[1]:.4f}"
    return PASS


def check_negative_sampler(fn: Callable[[set, int, np.random.Generator], int]) -> str:
    """Exercise 3: ``fn(history, n_items, rng)`` returns one item in 1..n_items outside history."""
    rng = np.random.default_rng(0)
    history, n_items = {1, 2, 3, 5, 8}, 10
    allowed = sorted(set(range(1, n_items + 1)) - history)
    draws = []
    for _ in range(5000):
        item, problem = _attempt(fn, set(history), n_items, rng)
        if problem:
            return problem
        try:
            item = int(item)
        except (TypeError, ValueError):
            return f"✗ expected an integer item id, got {item!r}"
        if item in history or not 1 <= item <= n_items:
            return f"✗ drew {item}, which is in the history {sorted(history)} or outside 1..{n_items}"
        draws.append(item)
    counts = np.array([draws.count(i) for i in allowed])
    mean = len(draws) / len(allowed)
    if np.abs(counts - mean).max() > 0.15 * mean:  # ≈ 6 standard deviations for 1000 expected draws
        return f"✗ not uniform over {allowed}: counts {counts.tolist()} (expected ≈ {mean:.0f} each)"
    return PASS


def check_masked_loss(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    """Exercise 4: ``fn(pos_logits, neg_logits, pos)`` = SASRec's BCE over non-padding targets."""
    generator = torch.Generator().manual_seed(0)
    pos = torch.tensor([[0, 0, 3, 4], [0, 5, 6, 7]])
    pos_logits = torch.randn(2, 4, generator=generator)
    neg_logits = torch.randn(2, 4, generator=generator)
    got, problem = _attempt(fn, pos_logits, neg_logits, pos)
    if problem:
        return problem
    want = sasrec_loss(pos_logits, neg_logits, pos)
    try:
        got = torch.as_tensor(got, dtype=want.dtype).reshape(())
    except (TypeError, ValueError, RuntimeError):
        return f"✗ expected a scalar loss, got {got!r}"
    if not torch.allclose(got, want, atol=1e-6):
        return f"✗ expected {want.item():.5f}, got {float(got):.5f}; are padding positions left out of the mean?"
    return PASS


__all__ = ["PASS", "assert_correct", "check_blocked_mask", "check_masked_loss", "check_metrics",
           "check_negative_sampler"]

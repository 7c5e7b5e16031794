"""Checkers for chapter 5's exercises (see :mod:`lessons_src.course.checkers` for the conventions)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..course.checkers import PASS, assert_correct
from ..course.checkers import attempt as _attempt
from .graph import edge_weights, normalise

__all__ = ["PASS", "assert_correct", "check_edge_weights", "check_gauc", "check_normalise"]


def _matrix(value, shape: tuple[int, ...], name: str):
    try:
        got = torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return None, f"✗ expected a tensor for {name}, got {type(value).__name__}"
    if tuple(got.shape) != shape:
        return None, f"✗ expected {name} of shape {shape}, got {tuple(got.shape)}"
    return got, None


def check_edge_weights(fn: Callable) -> str:
    """Exercise 1: ``fn(items (L, d), user (d,))`` → the user-aware graph A (L, L), A_ij = σ(Σ_k e_ik e_jk p_uk)."""
    g = torch.Generator().manual_seed(0)
    items, user = torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64)
    got, problem = _attempt(fn, items.clone(), user.clone())
    if problem:
        return problem
    got, problem = _matrix(got, (5, 5), "A")
    if problem:
        return problem
    real = torch.ones(1, 5, dtype=torch.bool)
    want = edge_weights(items[None], real, user[None])[0]
    if torch.allclose(got, want, atol=1e-6):
        return PASS
    if torch.allclose(got, edge_weights(items[None], real, None, "plain")[0], atol=1e-6):
        return "✗ that is the plain graph σ(e_i · e_j) the public code runs: weight each dimension k by p_uk"
    if torch.allclose(got, torch.einsum("ik,jk,k->ij", items, items, user), atol=1e-6):
        return "✗ the agreement is right but the weights must lie in (0, 1): apply the sigmoid"
    if not torch.allclose(got, got.T, atol=1e-6):
        return "✗ A must be symmetric: A_ij and A_ji use the same two items and the same user"
    return "✗ wrong values: A_ij = σ(Σ_k e_ik · e_jk · p_uk)"


def check_normalise(fn: Callable) -> str:
    """Exercise 2: ``fn(A (L, L))`` → Â = D^{-1/2} (A + I) D^{-1/2}, D_ii = Σ_j (A + I)_ij."""
    g = torch.Generator().manual_seed(1)
    a = torch.rand(4, 4, generator=g, dtype=torch.float64)
    a = (a + a.T) / 2
    got, problem = _attempt(fn, a.clone())
    if problem:
        return problem
    got, problem = _matrix(got, (4, 4), "Â")
    if problem:
        return problem
    want = normalise(a[None], torch.ones(1, 4, dtype=torch.bool))[0]
    if torch.allclose(got, want, atol=1e-6):
        return PASS
    root = a.sum(1).rsqrt()
    if torch.allclose(got, root[:, None] * a * root[None], atol=1e-6):
        return "✗ add the self-loops first (A + I): without them an item's own features drop out of its update"
    with_loops = a + torch.eye(4, dtype=a.dtype)
    if torch.allclose(got, with_loops / with_loops.sum(1, keepdim=True), atol=1e-6):
        return "✗ that is D⁻¹(A + I), a row normalisation; the symmetric form divides by √(D_ii D_jj)"
    return "✗ wrong values: Â_ij = (A + I)_ij / √(D_ii · D_jj)"


def _gauc(users, scores, labels) -> float:
    total = weight = 0.0
    for user in sorted(set(users)):
        rows = [(s, y) for u, s, y in zip(users, scores, labels) if u == user]
        pos = [s for s, y in rows if y == 1]
        neg = [s for s, y in rows if y == 0]
        if not pos or not neg:
            continue
        auc = np.mean([1.0 if p > q else 0.5 if p == q else 0.0 for p in pos for q in neg])
        total += len(rows) * auc
        weight += len(rows)
    return total / weight


def check_gauc(fn: Callable) -> str:
    """Exercise 3: ``fn(users, scores, labels)`` (three lists, one entry per scored row) → GAUC:
    per user the AUC of their rows (ties count ½; users with only one label are skipped), averaged
    with each user weighted by their number of rows."""
    cases = [
        ([1, 1, 1, 2, 2, 2, 2], [0.9, 0.2, 0.4, 0.1, 0.8, 0.3, 0.7], [1, 0, 0, 1, 0, 1, 0]),
        ([1, 1, 2, 2, 3], [0.5, 0.5, 0.3, 0.6, 0.9], [1, 0, 1, 0, 1]),  # a tie; user 3 has no negative
    ]
    for users, scores, labels in cases:
        got, problem = _attempt(fn, list(users), list(scores), list(labels))
        if problem:
            return problem
        try:
            got = float(got)
        except (TypeError, ValueError):
            return f"✗ expected a number, got {type(got).__name__}"
        want = _gauc(users, scores, labels)
        if abs(got - want) < 1e-9:
            continue
        pooled = _gauc([0] * len(users), scores, labels)
        if abs(got - pooled) < 1e-9:
            return "✗ that is one AUC over all rows; GAUC computes one AUC per user and averages them"
        per_user = [u for u in sorted(set(users)) if {0, 1} <= {y for v, y in zip(users, labels) if v == u}]
        unweighted = np.mean([_gauc([u for u in users if u == v], [s for s, w in zip(scores, users) if w == v],
                                    [y for y, w in zip(labels, users) if w == v]) for v in per_user])
        if abs(got - unweighted) < 1e-9:
            return "✗ weight each user's AUC by their number of rows (the public code's GAUC), not equally"
        return f"✗ wrong value for users={users}, scores={scores}, labels={labels}: expected {want:.4f}, got {got:.4f}"
    return PASS

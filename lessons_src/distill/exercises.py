"""Checkers for chapter 2's exercises (see :mod:`lessons_src.course.checkers` for the conventions)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..course.checkers import PASS, assert_correct
from ..course.checkers import attempt as _attempt
from .losses import distillation_loss, soften, study_notes_loss
from .ranking import position_weights


def _cases():
    generator = torch.Generator().manual_seed(0)
    for batch, classes, scale in ((4, 10, 3.0), (1, 3, 1.0), (7, 5, 8.0)):
        z = scale * torch.randn(batch, classes, generator=generator)
        v = scale * torch.randn(batch, classes, generator=generator)
        y = torch.randint(0, classes, (batch,), generator=generator)
        yield z, v, y


def check_soften(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> str:
    """Exercise 1: ``fn(logits (B, C), T)`` returns softmax(logits / T) over the classes."""
    for z, _, _ in _cases():
        for t in (1.0, 4.0, 20.0):
            got, problem = _attempt(fn, z.clone(), t)
            if problem:
                return problem
            got = torch.as_tensor(got, dtype=torch.float32)
            want = soften(z, t)
            if got.shape != want.shape:
                return f"✗ expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
            if torch.allclose(got, torch.softmax(z / t, dim=0), atol=1e-6) and not torch.allclose(got, want, atol=1e-6):
                return "✗ the softmax runs over the batch axis (dim=0); the classes are the last axis"
            if not torch.allclose(got, want, atol=1e-6):
                return f"✗ T={t:g}: rows should equal softmax(z / T); check where the division by T happens"
    return PASS


def check_distillation_loss(fn: Callable[..., torch.Tensor]) -> str:
    """Exercise 2: ``fn(z, v, y, T, alpha)`` = α·T²·KL(p_T ‖ q_T) (batchmean) + (1 − α)·CE(z, y)."""
    for z, v, y in _cases():
        for t, alpha in ((1.0, 0.5), (4.0, 0.9), (20.0, 0.7)):
            got, problem = _attempt(fn, z.clone(), v.clone(), y.clone(), t, alpha)
            if problem:
                return problem
            try:
                got = float(torch.as_tensor(got).reshape(()))
            except (TypeError, ValueError, RuntimeError):
                return f"✗ expected a scalar loss, got {got!r}"
            want = float(distillation_loss(z, v, y, t, alpha))
            if math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-6):
                continue
            _, soft, hard = distillation_loss(z, v, y, t, alpha, return_parts=True)
            classes = z.shape[1]
            diagnoses = {
                "the T² factor is missing": alpha * float(soft) / t**2 + (1 - alpha) * float(hard),
                "the KL is averaged over classes too (reduction='mean' instead of 'batchmean')":
                    alpha * float(soft) / classes + (1 - alpha) * float(hard),
                "this is the study notes' loss (mean reduction and a factor 2)":
                    float(study_notes_loss(z, v, y, t, alpha)),
                "α and 1 − α are swapped": (1 - alpha) * float(soft) + alpha * float(hard),
            }
            for diagnosis, value in diagnoses.items():
                if math.isclose(got, value, rel_tol=1e-4, abs_tol=1e-6):
                    return f"✗ T={t:g}, α={alpha:g}: {diagnosis}"
            return f"✗ T={t:g}, α={alpha:g}: expected {want:.5f}, got {got:.5f}"
    return PASS


def check_effective_weight(fn: Callable[[int], float]) -> str:
    """Exercise 3: ``fn(C)`` = the notes' soft term divided by the batchmean soft term, for C classes."""
    for classes in (2, 10, 100):
        got, problem = _attempt(fn, classes)
        if problem:
            return problem
        try:
            got = float(got)
        except (TypeError, ValueError):
            return f"✗ expected a number, got {got!r}"
        generator = torch.Generator().manual_seed(classes)
        z, v = torch.randn(6, classes, generator=generator), torch.randn(6, classes, generator=generator)
        y = torch.zeros(6, dtype=torch.int64)
        _, notes, _ = study_notes_loss(z, v, y, 4.0, 0.5, return_parts=True)
        _, ours, _ = distillation_loss(z, v, y, 4.0, 0.5, return_parts=True)
        want = float(notes / ours)
        if not math.isclose(got, want, rel_tol=1e-3):
            return f"✗ C={classes}: expected {want:.4f}, got {got:.4f}"
    return PASS


def check_position_weights(fn: Callable[[int, float], torch.Tensor]) -> str:
    """Exercise 4: ``fn(K, lam)`` = Tang & Wang's w_r ∝ exp(−r/λ), r = 1 … K, normalised to sum to one."""
    for k, lam in ((1, 1.0), (5, 2.0), (10, 5.0)):
        got, problem = _attempt(fn, k, lam)
        if problem:
            return problem
        got = torch.as_tensor(got, dtype=torch.float32).reshape(-1)
        want = position_weights(k, lam)
        if got.shape != want.shape:
            return f"✗ K={k}: expected {k} weights, got {got.numel()}"
        if not math.isclose(float(got.sum()), 1.0, rel_tol=1e-5):
            return f"✗ K={k}, λ={lam:g}: the weights sum to {float(got.sum()):.4f}, not 1"
        if not torch.allclose(got, want, atol=1e-6):
            return f"✗ K={k}, λ={lam:g}: expected {[round(w, 4) for w in want.tolist()]}; do ranks start at 1?"
    return PASS


__all__ = ["PASS", "assert_correct", "check_distillation_loss", "check_effective_weight", "check_position_weights",
           "check_soften"]

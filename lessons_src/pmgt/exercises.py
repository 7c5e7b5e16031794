"""Checkers for chapter 6's exercises (see :mod:`lessons_src.course.checkers` for the conventions)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch

from ..course.checkers import PASS, assert_correct
from ..course.checkers import attempt as _attempt
from .graph import ItemGraph, build_item_graph, edge_weight
from .model import DiversityAttention, PMGTConfig
from .sampling import ContextSampler

__all__ = ["PASS", "assert_correct", "check_context", "check_diversity_attention", "check_edge_weight"]


# ---- exercise 1: the edge weight of the item graph -------------------------------------------------

def _weight_variants(counts, deg_u, deg_v) -> dict[str, np.ndarray]:
    """The right weight (graph.py's) and the usual mistakes, all (E,)."""
    log_w, log_root = np.log(counts), np.log(np.sqrt(deg_u * deg_v))
    with np.errstate(divide="ignore", invalid="ignore"):  # log √1 = 0 in the denominator of a mistake
        return {
            "right": edge_weight(counts, deg_u, deg_v),
            "✗ the numerator is log w_uv + 1: without the +1 a pair seen by one user (log 1 = 0) gets weight 0":
                log_w / (log_root + 1.0),
            "✗ the denominator is log √(deg_u · deg_v) + 1: without the +1 two items of degree 1 divide by 0":
                (log_w + 1.0) / log_root,
            "✗ take the square root of deg_u · deg_v (their geometric mean) before the log":
                (log_w + 1.0) / (np.log(deg_u * deg_v) + 1.0),
            "✗ use the natural logarithm (np.log), as the paper and graph.py do":
                (np.log10(counts) + 1.0) / (np.log10(np.sqrt(deg_u * deg_v)) + 1.0),
            "✗ those are the raw counts w_uv: damp them with the log and divide by the degree term": counts,
        }


def _tiny_graph() -> ItemGraph:
    rng = np.random.default_rng(6)
    users, items = rng.integers(0, 40, 100), rng.integers(0, 12, 100)  # 40 users, 12 items
    return build_item_graph(users, items, n_items=12, min_users=2)


def check_edge_weight(fn: Callable) -> str:
    """Exercise 1: ``fn(counts (E,), deg_u (E,), deg_v (E,))`` → the PMGT edge weights (E,),
    (log w_uv + 1) / (log √(deg_u · deg_v) + 1)."""
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 20, 8).astype(np.float64)
    deg_u, deg_v = rng.integers(1, 10, 8).astype(np.float64), rng.integers(2, 10, 8).astype(np.float64)
    graph = _tiny_graph()
    edges = graph.counts.tocoo()  # the same (row, col) order as the stored weights: both sorted CSR
    degree = graph.degrees.astype(np.float64)
    cases = [(counts, deg_u, deg_v, None),
             (edges.data.astype(np.float64), degree[edges.row], degree[edges.col], graph.weights.tocoo().data)]
    for counts, deg_u, deg_v, stored in cases:
        got, problem = _attempt(fn, counts.copy(), deg_u.copy(), deg_v.copy())
        if problem:
            return problem
        try:
            got = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            return f"✗ expected an array of weights, got {type(got).__name__}"
        if got.shape != counts.shape:
            return f"✗ expected one weight per edge, shape {counts.shape}, got {got.shape}"
        variants = _weight_variants(counts, deg_u, deg_v)
        right = variants.pop("right")
        want = right if stored is None else stored  # on the real graph: the weights it stores
        if np.allclose(got, want, atol=1e-9):
            continue
        for message, wrong in variants.items():
            if np.allclose(got, wrong, atol=1e-9):
                return message
        where = "on build_item_graph's edges" if stored is not None else f"for counts={counts.tolist()}"
        return f"✗ wrong weights {where}: weight = (log w_uv + 1) / (log √(deg_u · deg_v) + 1)"
    return PASS


# ---- exercise 2: diversity-promoting attention, one head -------------------------------------------

def _attention(q, k, x, alpha: float, *, scale=True, identity=True, one_minus=True, swap=False):
    """(L, L) = (1 − α) softmax(q kᵀ / √d) + α softmax(1 − cos(x_i, x_j) + I), or one mistake of it."""
    similarity = q @ k.T / (q.shape[-1] ** 0.5 if scale else 1.0)  # (L, L)
    unit = x / x.norm(dim=-1, keepdim=True)
    cos = unit @ unit.T  # (L, L)
    diversity = (1.0 - cos if one_minus else cos) + (torch.eye(len(x), dtype=x.dtype) if identity else 0.0)
    plain, diverse = similarity.softmax(-1), diversity.softmax(-1)
    a = 1.0 - alpha if not swap else alpha
    return a * plain + (1.0 - a) * diverse


def check_diversity_attention(fn: Callable) -> str:
    """Exercise 2: ``fn(q (L, d), k (L, d), x (L, D), alpha)`` → the attention weights (L, L) of one head,
    (1 − α) · softmax(q kᵀ / √d) + α · softmax(1 − cos(x_i, x_j) + I), each softmax over a row.

    As in :class:`~lessons_src.pmgt.model.DiversityAttention`, x is the block's input (all D
    dimensions, shared by the heads) and q, k are this head's projections of it (d = D / heads)."""
    L, D, heads, alpha = 5, 8, 2, 0.3
    g = torch.Generator().manual_seed(2)
    layer = DiversityAttention(PMGTConfig(feature_sizes=[1], hidden=D, heads=heads, alpha=alpha, dropout=0.0))
    layer = layer.double()
    with torch.no_grad():
        layer.qkv.weight.copy_(torch.randn(3 * D, D, generator=g, dtype=torch.float64))
        layer.qkv.bias.copy_(0.1 * torch.randn(3 * D, generator=g, dtype=torch.float64))
        x = torch.randn(L, D, generator=g, dtype=torch.float64)
        q, k, _ = layer.qkv(x).split(D, dim=-1)  # (L, D) each; head 0 owns the first d columns
        d = D // heads
        q, k = q[:, :d].contiguous(), k[:, :d].contiguous()  # (L, d)
        want = layer.weights(x[None], torch.ones(1, L, dtype=torch.bool))[0, 0]  # (L, L), the library's
    got, problem = _attempt(fn, q.clone(), k.clone(), x.clone(), alpha)
    if problem:
        return problem
    try:
        got = torch.as_tensor(got, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return f"✗ expected a tensor of attention weights, got {type(got).__name__}"
    if tuple(got.shape) != (L, L):
        return f"✗ expected attention weights of shape ({L}, {L}) (query × key), got {tuple(got.shape)}"
    if torch.allclose(got, want, atol=1e-6):
        return PASS
    mistakes = {
        "✗ divide q kᵀ by √d before the softmax (d = the size of q and k)": dict(scale=False),
        "✗ add the identity I to 1 − cos before the softmax (the library's '+ I': each node keeps some "
        "weight on itself)": dict(identity=False),
        "✗ the diversity term uses 1 − cos(x_i, x_j): with +cos it favours similar nodes, not diverse ones":
            dict(one_minus=False),
        "✗ α weights the diversity term and 1 − α the dot-product term, not the other way round":
            dict(swap=True),
    }
    for message, mistake in mistakes.items():
        if torch.allclose(got, _attention(q, k, x, alpha, **mistake), atol=1e-6):
            return message
    if torch.allclose(got, _attention(q * (d / D) ** 0.5, k, x, alpha), atol=1e-6):
        return f"✗ scale by √d with d = {d}, the size of q and k, not by √D with D = {D}, the size of x"
    if not torch.allclose(got.sum(-1), torch.ones(L, dtype=torch.float64), atol=1e-6):
        return ("✗ each row must sum to 1: take both softmaxes over the keys (the last axis) and mix them "
                "with weights 1 − α and α")
    return "✗ wrong values: A = (1 − α) · softmax(q kᵀ / √d) + α · softmax(1 − cos(x_i, x_j) + I)"


# ---- exercise 3: an item's context from its hop draws ----------------------------------------------

class _Replay(ContextSampler):
    """The library's sampler, but each hop "draws" the given items: its ranking decides the context."""

    def __init__(self, hop_draws, hop_weights, n_items: int, k: int, exclude_centre: bool = True):
        empty = sp.csr_matrix((n_items, n_items))
        super().__init__(ItemGraph(weights=empty, counts=empty), draws_per_hop=(1,) * len(hop_draws),
                         hop_weights=hop_weights, context_size=k, exclude_centre=exclude_centre)
        self.replay = iter(hop_draws)

    def draw_neighbours(self, nodes, draws, generator=None):
        return torch.as_tensor(next(self.replay), dtype=torch.int64).view(1, -1)  # (1, draws at this hop)


def _library_context(hop_draws, hop_weights, centre: int, k: int, n_items: int, **options) -> list[int]:
    items = _Replay(hop_draws, hop_weights, n_items, k, **options).sample(torch.tensor([centre])).items[0]
    return [int(i) for i in items if i >= 0]


def _scores(hop_draws, hop_weights, n_items: int) -> np.ndarray:
    """(n_items,) Σ_h β_h · #draws of the item at hop h (−1 draws dropped)."""
    score = np.zeros(n_items)
    for drawn, weight in zip(hop_draws, hop_weights):
        np.add.at(score, drawn[drawn >= 0], weight)
    return score


def check_context(fn: Callable) -> str:
    """Exercise 3: ``fn(hop_draws, hop_weights, centre, k)`` → the context (≤ k ints): the reached items
    with the largest Σ_h β_h · #draws at hop h, centre excluded, ties broken by the smaller id."""
    hop_weights = (3.0, 2.0, 1.0)
    cases = [  # (centre, k, [hop 1, hop 2, hop 3] draws), −1 = a draw from an item with no neighbours
        (0, 5, [[3, 1, 3, 5, 1, -1], [0, 2, 0, 4, 6, 2, 0, 7, -1, 4], [1, 0, 8, 9, 2, 6, 0, 8, 9, 3]]),
        (2, 4, [[5, 5, 5], [2, 2, 6, 2, 2, 6], [5, -1, 5, 2, 2, 6]]),  # only items 5 and 6 reached
    ]
    n_items = 10
    for centre, k, draws in cases:
        hop_draws = [np.array(d, dtype=np.int64) for d in draws]
        got, problem = _attempt(fn, [d.copy() for d in hop_draws], hop_weights, centre, k)
        if problem:
            return problem
        try:
            got = np.asarray(got)
        except (TypeError, ValueError):
            return f"✗ expected a list of item ids, got {type(got).__name__}"
        if got.ndim != 1 or got.dtype.kind not in "iuf" or not np.all(got == np.round(got)):
            return f"✗ expected a flat list of integer item ids, got shape {got.shape} and dtype {got.dtype}"
        got = [int(i) for i in got]
        want = _library_context(hop_draws, hop_weights, centre, k, n_items)
        if got == want:
            continue
        score = _scores(hop_draws, hop_weights, n_items)
        if -1 in got:
            return ("✗ −1 means 'no item': drop those draws, and return fewer than k items when fewer were "
                    "reached instead of padding")
        if centre in got:
            return f"✗ the centre ({centre}) is in its own context: exclude it (the official code's pitfall)"
        if any(i < 0 or i >= n_items or score[i] == 0 for i in got):
            return "✗ an item never drawn (score 0) is not context: return only reached items, even if fewer than k"
        if got == _library_context(hop_draws, (1.0,) * len(hop_weights), centre, k, n_items):
            return f"✗ weight each draw by its hop's β_h {hop_weights}: a plain count treats hop 3 like hop 1"
        reached = [i for i in range(n_items) if score[i] > 0 and i != centre]
        larger_id_first = sorted(reached, key=lambda i: (-score[i], -i))[:k]
        if got == larger_id_first:
            return "✗ break ties in score by the smaller item id first"
        if sorted(got) == sorted(want):
            return "✗ the right items in the wrong order: by score, largest first (ties: smaller id)"
        return f"✗ wrong context for centre {centre}, k={k}: expected {want}, got {got}"
    return PASS

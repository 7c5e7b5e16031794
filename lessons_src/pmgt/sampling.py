"""MCNSampling (§3.2): the contextual neighbours of an item.

From the centre item c, walk the graph hop by hop, each step drawing a neighbour with probability
proportional to the edge weight:

    hop 1: k₁ = 10 draws from c;  hop 2: k₂ = 5 draws from each hop-1 draw;  hop 3: k₃ = 2 from each hop-2 draw.

Every draw of node v at hop h adds the hop's weight β_h (3, 2, 1) to v's score; the K = 10 nodes with
the largest score, **the centre excluded**, are c's context, ordered by score (ties: smaller id first).
The official code leaves the centre in, so an item is often its own "neighbour" (a pitfall).

All draws of a batch of centres happen at once: the CSR rows become one cumulative-weight array and a
weighted draw from row r is a ``searchsorted`` of a uniform number inside r's slice of it.

The structure loss (``losses.py``) needs, for each centre, one **positive** — a graph neighbour drawn
∝ edge weight (``draw_neighbours``) — and one **negative** — an item of the graph that is neither the
centre nor one of its neighbours, drawn uniformly (``draw_non_neighbours``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .graph import ItemGraph

NO_ITEM = -1  # a draw from an item without neighbours, or an empty context slot


@dataclass
class Contexts:
    items: Tensor  # (B, K) int64 context ids ordered by score, NO_ITEM where fewer than K were reached
    scores: Tensor  # (B, K) float: the hop-weighted draw counts of those ids (0 for empty slots)
    hops: Tensor  # (B, K) int64: the first hop (1, 2, 3 …) at which the id was drawn (0 for empty slots)


class ContextSampler:
    """MCNSampling over one :class:`ItemGraph`, vectorised over a batch of centres."""

    def __init__(self, graph: ItemGraph, draws_per_hop=(10, 5, 2), hop_weights=(3.0, 2.0, 1.0),
                 context_size: int = 10, exclude_centre: bool = True):
        if len(draws_per_hop) != len(hop_weights) or not draws_per_hop:
            raise ValueError(f"draws_per_hop {draws_per_hop} and hop_weights {hop_weights} must be "
                             "non-empty and of the same length")
        if min(draws_per_hop) < 1 or context_size < 1:
            raise ValueError("draws per hop and context_size must be ≥ 1")
        self.n_items = graph.n_items
        self.draws_per_hop, self.hop_weights = tuple(draws_per_hop), tuple(float(w) for w in hop_weights)
        self.context_size, self.exclude_centre = context_size, exclude_centre
        weights = graph.weights
        self.indptr = torch.from_numpy(weights.indptr.astype(np.int64))  # (n + 1,)
        self.indices = torch.from_numpy(weights.indices.astype(np.int64))  # (E,)
        self.cumulative = torch.from_numpy(np.cumsum(weights.data, dtype=np.float64))  # (E,)
        self.cumulative0 = torch.cat([torch.zeros(1, dtype=torch.float64), self.cumulative])  # (E + 1,)
        self.graph_items = torch.from_numpy(np.flatnonzero(np.diff(weights.indptr) > 0))  # (G,) sorted

    def draw_neighbours(self, nodes: Tensor, draws: int, generator: torch.Generator | None = None) -> Tensor:
        """nodes (B, F) int64 (NO_ITEM allowed) → (B, F·draws) neighbours drawn ∝ edge weight."""
        valid = nodes >= 0
        safe = nodes.clamp_min(0)
        start, end = self.indptr[safe], self.indptr[safe + 1]  # (B, F) the CSR slice of each row
        has_neighbours = valid & (end > start)
        low, high = self.cumulative0[start], self.cumulative0[end]  # (B, F) the slice's weight range
        uniform = torch.rand(*nodes.shape, draws, generator=generator, dtype=torch.float64)  # (B, F, draws)
        target = low.unsqueeze(-1) + uniform * (high - low).unsqueeze(-1)
        # the first edge whose cumulative weight exceeds the target, kept inside the row's slice
        edge = torch.searchsorted(self.cumulative, target, right=True)
        edge = torch.minimum(torch.maximum(edge, start.unsqueeze(-1)), (end - 1).clamp_min(0).unsqueeze(-1))
        drawn = self.indices[edge.clamp(max=max(len(self.indices) - 1, 0))] if len(self.indices) \
            else torch.full_like(edge, NO_ITEM)
        drawn = torch.where(has_neighbours.unsqueeze(-1), drawn, torch.full_like(drawn, NO_ITEM))
        return drawn.flatten(1)  # (B, F·draws)

    def draw_non_neighbours(self, centres: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """centres (B,) → (B,) one graph item per centre, uniform over those that are neither the centre
        nor its neighbours; NO_ITEM where every graph item is excluded.

        Exact, without rejection: with the excluded items' ranks e_0 < e_1 < … among the graph items,
        the k-th allowed rank is k + #{j : e_j − j ≤ k} (e_j − j counts the allowed ranks below e_j)."""
        centres = torch.as_tensor(centres, dtype=torch.int64)
        n_graph, batch = len(self.graph_items), len(centres)
        start, end = self.indptr[centres], self.indptr[centres + 1]  # (B,) neighbour slices
        lengths = end - start
        row = torch.repeat_interleave(torch.arange(batch), lengths)  # (N,) the batch row of each neighbour
        offset = torch.arange(len(row)) - torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)
        neighbours = self.indices[start[row] + offset]  # (N,)
        centre_in_graph = lengths > 0  # an isolated centre is not a graph item: nothing more to exclude
        row = torch.cat([row, torch.arange(batch)[centre_in_graph]])
        excluded = torch.searchsorted(self.graph_items, torch.cat([neighbours, centres[centre_in_graph]]))
        order = torch.argsort(row * (n_graph + 1) + excluded)  # by row, then by rank
        row, excluded = row[order], excluded[order]
        counts = torch.bincount(row, minlength=batch)  # (B,) excluded items per row
        first = torch.cumsum(counts, 0) - counts
        below = excluded - (torch.arange(len(row)) - first[row])  # e_j − j, non-decreasing in each row
        allowed = n_graph - counts  # (B,)
        k = (torch.rand(batch, generator=generator, dtype=torch.float64) * allowed).long()  # (B,) uniform
        key = row * (n_graph + 1) + below  # sorted over the whole batch
        at_or_below = torch.searchsorted(key, torch.arange(batch) * (n_graph + 1) + k, right=True) - first
        drawn = self.graph_items[(k + at_or_below).clamp(max=max(n_graph - 1, 0))] if n_graph \
            else torch.full_like(centres, NO_ITEM)
        return torch.where(allowed > 0, drawn, torch.full_like(drawn, NO_ITEM))

    def hop_scores(self, centres: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """centres (B,) → score (B, n) = Σ_h β_h · #draws of v at hop h, and first hop (B, n) (0: never)."""
        batch = centres.shape[0]
        score = torch.zeros(batch, self.n_items + 1, dtype=torch.float64)  # last column collects NO_ITEM
        first_hop = torch.full((batch, self.n_items + 1), len(self.draws_per_hop) + 1, dtype=torch.int64)
        frontier = centres.view(batch, 1)
        for hop, (draws, weight) in enumerate(zip(self.draws_per_hop, self.hop_weights), start=1):
            frontier = self.draw_neighbours(frontier, draws, generator)  # (B, F·draws)
            column = torch.where(frontier >= 0, frontier, torch.full_like(frontier, self.n_items))
            score.scatter_add_(1, column, torch.full(column.shape, weight, dtype=torch.float64))
            first_hop.scatter_reduce_(1, column, torch.full_like(column, hop), reduce="amin")
        score, first_hop = score[:, :-1], first_hop[:, :-1]
        first_hop = torch.where(score > 0, first_hop, torch.zeros_like(first_hop))
        return score, first_hop

    def sample(self, centres: Tensor, generator: torch.Generator | None = None) -> Contexts:
        """centres (B,) int64 → the K highest-scoring reached items of each centre."""
        centres = torch.as_tensor(centres, dtype=torch.int64)
        score, first_hop = self.hop_scores(centres, generator)
        if self.exclude_centre:
            score.scatter_(1, centres.view(-1, 1), 0.0)
        n = self.n_items
        # an exact integer key: larger score first, then smaller id (deterministic on every machine)
        ids = torch.arange(n, dtype=torch.int64)
        key = torch.round(score * 2).to(torch.int64) * (n + 1) + (n - ids)  # β_h are multiples of ½
        top = key.topk(min(self.context_size, n), dim=1).indices  # (B, K)
        top_score = score.gather(1, top)
        reached = top_score > 0
        items = torch.where(reached, top, torch.full_like(top, NO_ITEM))
        hops = torch.where(reached, first_hop.gather(1, top), torch.zeros_like(top))
        if items.shape[1] < self.context_size:  # fewer items than slots
            pad = self.context_size - items.shape[1]
            items = torch.cat([items, torch.full((len(items), pad), NO_ITEM)], 1)
            top_score = torch.cat([top_score, torch.zeros(len(items), pad, dtype=top_score.dtype)], 1)
            hops = torch.cat([hops, torch.zeros(len(items), pad, dtype=torch.int64)], 1)
        return Contexts(items=items, scores=top_score.float(), hops=hops)

"""The item graph PMGT pre-trains on (§3.1 of the paper).

Two items are joined when at least ``min_users`` users interacted with both (in the period the graph
is built from); the edge weight turns the co-interaction count w_uv into

    weight(u, v) = (log w_uv + 1) / (log √(deg_u · deg_v) + 1)

so that a pair of very popular items (large degrees) does not dominate just by being popular.
deg_u is the number of neighbours of u in the thresholded graph. The graph is symmetric, has no
self-loops, and is stored as a scipy CSR matrix (n_items × n_items) whose row u lists u's neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class ItemGraph:
    weights: sp.csr_matrix  # (n_items, n_items) symmetric, zero diagonal
    counts: sp.csr_matrix  # (n_items, n_items) co-interaction counts w_uv of the kept edges

    @property
    def n_items(self) -> int:
        return self.weights.shape[0]

    @property
    def degrees(self) -> np.ndarray:
        return np.diff(self.weights.indptr)

    def neighbours(self, item: int) -> np.ndarray:
        row = self.weights.indptr
        return self.weights.indices[row[item]:row[item + 1]]


def co_interaction_counts(users: np.ndarray, items: np.ndarray, n_items: int) -> sp.csr_matrix:
    """users, items (N,) int → C (n_items, n_items), C_uv = number of distinct users of both u and v."""
    if users.shape != items.shape:
        raise ValueError(f"users and items must have the same shape, got {users.shape} and {items.shape}")
    if len(items) and (items.min() < 0 or items.max() >= n_items):
        raise ValueError(f"item ids must lie in [0, {n_items}), got [{items.min()}, {items.max()}]")
    n_users = int(users.max()) + 1 if len(users) else 0
    incidence = sp.csr_matrix((np.ones(len(users), dtype=np.float64), (users, items)), shape=(n_users, n_items))
    incidence.data[:] = 1.0  # a user who saw an item twice counts once
    counts = (incidence.T @ incidence).tocsr()  # (n_items, n_items): Σ_users 1[u saw i] 1[u saw j]
    counts.setdiag(0)
    counts.eliminate_zeros()
    return counts


def edge_weight(counts: np.ndarray, deg_u: np.ndarray, deg_v: np.ndarray) -> np.ndarray:
    """w'_uv = (log w_uv + 1) / (log √(deg_u · deg_v) + 1), elementwise."""
    return (np.log(counts) + 1.0) / (np.log(np.sqrt(deg_u * deg_v)) + 1.0)


def build_item_graph(users: np.ndarray, items: np.ndarray, n_items: int, min_users: int = 3) -> ItemGraph:
    """The thresholded, weighted item graph of the given interactions."""
    if min_users < 1:
        raise ValueError(f"min_users must be ≥ 1, got {min_users}")
    counts = co_interaction_counts(users, items, n_items)
    counts.data[counts.data < min_users] = 0
    counts.eliminate_zeros()
    counts.sort_indices()
    degree = np.diff(counts.indptr).astype(np.float64)  # (n_items,) neighbours kept
    coo = counts.tocoo()
    weight = edge_weight(coo.data, degree[coo.row], degree[coo.col])
    weights = sp.csr_matrix((weight, (coo.row, coo.col)), shape=counts.shape)
    weights.sort_indices()
    return ItemGraph(weights=weights, counts=counts)

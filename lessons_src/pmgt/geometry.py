"""What a table of item vectors looks like, in three numbers (chapter 6, §6.8).

* **mean cosine** of two different items — near 1 when every vector points the same way (a
  collapse, or one large shared offset);
* **effective dimension** — the participation ratio (Σλ)² / Σλ² of the eigenvalues λ of the centred
  vectors' covariance: 1 when all the variation lies along one direction, d when it is spread evenly
  over d directions;
* **graph precision@k** — the share of an item's k nearest items (by cosine) that are its
  neighbours in the item graph, to be read against the graph's density (the share a random choice
  would get).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor


def mean_cosine(vectors: Tensor) -> float:
    """vectors (n, d) → the mean cosine over the n(n − 1) ordered pairs of different rows."""
    unit = F.normalize(vectors.double(), dim=-1)
    n = len(unit)
    total = unit.sum(0)  # Σ_ij u_i·u_j = ‖Σ_i u_i‖²
    return float((total @ total - (unit * unit).sum()) / (n * (n - 1)))


def effective_dimension(vectors: Tensor) -> float:
    """vectors (n, d) → (Σλ)² / Σλ² over the eigenvalues λ of the centred covariance."""
    centred = vectors.double() - vectors.double().mean(0)
    eigenvalues = torch.linalg.svdvals(centred) ** 2  # ∝ the covariance's eigenvalues
    return float(eigenvalues.sum() ** 2 / (eigenvalues ** 2).sum())


def graph_precision(vectors: Tensor, items: np.ndarray, adjacency: sp.csr_matrix, k: int = 10) -> float:
    """The mean share of graph neighbours among each item's k nearest items (cosine), searched among
    ``items`` only. vectors (n_items, d), rows indexed by item id."""
    items = np.asarray(items)
    unit = F.normalize(vectors[torch.from_numpy(items)].double(), dim=-1)
    cosine = unit @ unit.T  # (m, m)
    cosine.fill_diagonal_(-float("inf"))
    nearest = items[cosine.topk(k, dim=1).indices.numpy()]  # (m, k) item ids
    joined = np.asarray(adjacency[np.repeat(items, k), nearest.ravel()]).reshape(len(items), k) != 0
    return float(joined.mean())


def density(adjacency: sp.csr_matrix, items: np.ndarray) -> float:
    """The share of pairs of different ``items`` that are joined: a random guess's graph precision."""
    sub = adjacency[items][:, items]
    return float((sub != 0).sum() / (len(items) * (len(items) - 1)))


def describe(vectors: Tensor, items: np.ndarray, adjacency: sp.csr_matrix, k: int = 10) -> dict:
    """The three numbers of the module docstring for the rows ``items`` of ``vectors``."""
    rows = vectors[torch.from_numpy(np.asarray(items))]
    return {"mean cosine": mean_cosine(rows), "effective dimension": effective_dimension(rows),
            f"graph precision@{k}": graph_precision(vectors, items, adjacency, k)}

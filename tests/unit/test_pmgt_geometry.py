"""The three numbers that describe a table of item vectors, each against a plain computation."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from lessons_src.pmgt.geometry import density, describe, effective_dimension, graph_precision, mean_cosine


def test_mean_cosine_is_the_mean_over_pairs_of_different_rows():
    torch.manual_seed(0)
    vectors = torch.randn(7, 4) + torch.tensor([1.0, 0.0, 0.0, 0.0])
    pairs = [torch.nn.functional.cosine_similarity(vectors[i], vectors[j], dim=0).item()
             for i in range(7) for j in range(7) if i != j]
    assert mean_cosine(vectors) == pytest.approx(np.mean(pairs), abs=1e-6)
    offset = vectors * 0.01 + torch.tensor([5.0, 5.0, 0.0, 0.0])  # one large shared offset
    assert mean_cosine(offset) > 0.999


def test_effective_dimension_counts_the_directions_that_vary():
    torch.manual_seed(0)
    basis = torch.linalg.qr(torch.randn(6, 6))[0]
    along_one = torch.randn(500, 1) * basis[:1] + 3.0  # a line, shifted
    even = torch.randn(4000, 3) @ basis[:3]  # three directions, equal variance
    assert effective_dimension(along_one) == pytest.approx(1.0, abs=1e-6)
    assert effective_dimension(even) == pytest.approx(3.0, abs=0.1)
    # (Σλ)²/Σλ² from the covariance matrix's eigenvalues
    x = torch.randn(50, 5) * torch.tensor([3.0, 2.0, 1.0, 0.5, 0.1])
    eig = torch.linalg.eigvalsh(torch.cov(x.T.double()))
    assert effective_dimension(x) == pytest.approx(float(eig.sum() ** 2 / (eig ** 2).sum()), rel=1e-6)


def test_graph_precision_by_a_loop():
    rng = np.random.default_rng(1)
    n = 12
    upper = np.triu(rng.random((n, n)) < 0.3, 1)
    adjacency = sp.csr_matrix((upper | upper.T).astype(float))
    vectors = torch.from_numpy(rng.normal(size=(n, 3)))
    items = np.arange(1, n)  # row 0 is padding, left out of the search
    shares = []
    for i in items:
        cosine = {j: float(vectors[i] @ vectors[j] / (vectors[i].norm() * vectors[j].norm())) for j in items if j != i}
        top = sorted(cosine, key=cosine.get, reverse=True)[:3]
        shares.append(np.mean([adjacency[i, j] != 0 for j in top]))
    assert graph_precision(vectors, items, adjacency, k=3) == pytest.approx(np.mean(shares))
    pairs = [(i, j) for i in items for j in items if i != j]
    assert density(adjacency, items) == pytest.approx(np.mean([adjacency[i, j] != 0 for i, j in pairs]))
    numbers = describe(vectors, items, adjacency, k=3)
    assert set(numbers) == {"mean cosine", "effective dimension", "graph precision@3"}
    assert math.isclose(numbers["graph precision@3"], np.mean(shares))

"""Chapter 4's checkers accept a right answer and name the usual mistakes."""

import torch

from lessons_src.course.checkers import PASS
from lessons_src.mmrec.exercises import check_auc, check_candidate_user, check_masked_pooling


def pooling(logits, vectors, mask):
    weights = torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=1)
    return (weights[..., None] * vectors).sum(1)


def test_masked_pooling_checker():
    assert check_masked_pooling(pooling) == PASS
    unmasked = check_masked_pooling(lambda l, v, m: (torch.softmax(l, 1)[..., None] * v).sum(1))
    assert "padded positions got weight" in unmasked
    assert "not attempted" in check_masked_pooling(lambda *a: (_ for _ in ()).throw(NotImplementedError))


def auc(scores, labels):
    clicks = [s for s, y in zip(scores, labels) if y == 1]
    others = [s for s, y in zip(scores, labels) if y == 0]
    return sum((c > o) + 0.5 * (c == o) for c in clicks for o in others) / (len(clicks) * len(others))


def test_auc_checker():
    assert check_auc(auc) == PASS
    no_ties = lambda s, y: sum(c > o for c in [a for a, b in zip(s, y) if b] for o in [a for a, b in zip(s, y) if not b]) \
        / (sum(y) * (len(y) - sum(y)))
    assert "counts ½" in check_auc(no_ties)


def user(t_c, v_c, T, V):
    out = torch.zeros_like(t_c)
    for x in (t_c, v_c):
        for Y in (T, V):
            out += torch.softmax(Y @ x / len(x) ** 0.5, 0) @ Y
    return out


def test_candidate_user_checker():
    assert check_candidate_user(user) == PASS
    same_only = lambda t_c, v_c, T, V: torch.softmax(T @ t_c / 2, 0) @ T + torch.softmax(V @ v_c / 2, 0) @ V
    assert "cross pairings" in check_candidate_user(same_only)
    assert check_candidate_user(lambda *a: torch.zeros(3)).startswith("✗ expected shape")

"""Chapter 5's checkers accept a right answer, written independently here, and name the usual mistakes."""

import torch
from sklearn.metrics import roc_auc_score

from lessons_src.course.checkers import PASS
from lessons_src.mgnm.exercises import check_edge_weights, check_gauc, check_normalise


def not_attempted(*args):
    raise NotImplementedError


def test_edge_weights_checker():
    assert check_edge_weights(lambda e, p: torch.sigmoid((e * p) @ e.T)) == PASS
    assert "plain graph" in check_edge_weights(lambda e, p: torch.sigmoid(e @ e.T))
    assert "sigmoid" in check_edge_weights(lambda e, p: (e * p) @ e.T)
    assert "shape" in check_edge_weights(lambda e, p: torch.sigmoid((e * p) @ e.T)[:2])
    assert "not attempted" in check_edge_weights(not_attempted)


def test_normalise_checker():
    def symmetric(a):
        with_loops = a + torch.eye(len(a), dtype=a.dtype)
        d = with_loops.sum(1)
        return with_loops / torch.sqrt(d[:, None] * d[None, :])

    assert check_normalise(symmetric) == PASS
    assert "self-loops" in check_normalise(lambda a: a / torch.sqrt(a.sum(1)[:, None] * a.sum(1)[None, :]))
    rows = lambda a: (a + torch.eye(len(a), dtype=a.dtype)) / (a + torch.eye(len(a), dtype=a.dtype)).sum(1, keepdim=True)
    assert "row normalisation" in check_normalise(rows)


def test_gauc_checker():
    def gauc(users, scores, labels):
        total = weight = 0.0
        for user in set(users):
            rows = [i for i, u in enumerate(users) if u == user]
            ys = [labels[i] for i in rows]
            if len(set(ys)) < 2:
                continue
            total += len(rows) * roc_auc_score(ys, [scores[i] for i in rows])
            weight += len(rows)
        return total / weight

    assert check_gauc(gauc) == PASS
    assert "one AUC over all rows" in check_gauc(lambda u, s, y: roc_auc_score(y, s))

    def unweighted(users, scores, labels):
        aucs = []
        for user in set(users):
            rows = [i for i, u in enumerate(users) if u == user]
            ys = [labels[i] for i in rows]
            if len(set(ys)) == 2:
                aucs.append(roc_auc_score(ys, [scores[i] for i in rows]))
        return sum(aucs) / len(aucs)

    assert "weight each user" in check_gauc(unweighted)
    assert "expected a number" in check_gauc(lambda u, s, y: None)

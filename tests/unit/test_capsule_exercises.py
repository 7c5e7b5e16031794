"""Chapter 3's checkers accept right answers and name the classic mistakes."""

from __future__ import annotations

import torch

from lessons_src.capsules import exercises as ex


def right_squash(s):
    n2 = (s * s).sum(-1, keepdim=True)
    return n2 / (1 + n2) * s / torch.sqrt(n2 + 1e-8)


def routing(u_hat, iterations, axis=2):
    b = torch.zeros(u_hat.shape[:3])
    for r in range(iterations):
        c = torch.softmax(b, dim=axis)
        v = right_squash(torch.einsum("bij,bijd->bjd", c, u_hat))
        if r < iterations - 1:
            b = b + torch.einsum("bijd,bjd->bij", u_hat, v)
    return v, c


def test_squash_checker():
    assert ex.check_squash(right_squash) == ex.PASS
    assert "NaN" in ex.check_squash(lambda s: (s * s).sum(-1, keepdim=True) / (1 + (s * s).sum(-1, keepdim=True))
                                    * s / s.norm(dim=-1, keepdim=True))
    assert ex.check_squash(lambda s: s).startswith("✗")


def test_routing_checker():
    assert ex.check_routing(routing) == ex.PASS
    assert "INPUT" in ex.check_routing(lambda u, r: routing(u, r, axis=1))
    assert ex.check_routing(lambda u, r: routing(u, r + 1)).startswith("✗")


def test_margin_loss_checker():
    def margin(lengths, labels, reduce_classes="sum"):
        t = torch.nn.functional.one_hot(labels, 10).float()
        per = t * (0.9 - lengths).clamp_min(0) ** 2 + 0.5 * (1 - t) * (lengths - 0.1).clamp_min(0) ** 2
        return per.sum(1).mean() if reduce_classes == "sum" else per.mean()

    assert ex.check_margin_loss(margin) == ex.PASS
    assert "averaged over the classes" in ex.check_margin_loss(lambda l, y: margin(l, y, "mean"))


def test_merge_checker():
    assert ex.check_merge(lambda v, items: (v @ items.T).amax(1)) == ex.PASS
    assert "averaging" in ex.check_merge(lambda v, items: (v @ items.T).mean(1))
    assert "not attempted" in ex.check_merge(lambda v, items: (_ for _ in ()).throw(NotImplementedError))

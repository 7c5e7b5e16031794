"""The exercise checkers accept correct answers and reject wrong or malformed ones without crashing."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lessons_src.sasrec import exercises


def not_done(*_):
    raise NotImplementedError


def test_blocked_mask_checker():
    assert exercises.check_blocked_mask(lambda n: ~torch.ones(n, n, dtype=torch.bool).tril()) == exercises.PASS
    assert "may NOT attend" in exercises.check_blocked_mask(lambda n: torch.ones(n, n, dtype=torch.bool).tril())
    assert "not attempted" in exercises.check_blocked_mask(not_done)


def test_metrics_checker():
    def right(ranks, k):
        hits = ranks < k
        return hits.mean(), np.where(hits, 1 / np.log2(ranks + 2), 0.0).mean()

    assert exercises.check_metrics(right) == exercises.PASS
    assert exercises.check_metrics(lambda r, k: ((r < k).mean(), (r < k).mean())).startswith("✗")
    assert "tuple" in exercises.check_metrics(lambda r, k: None)


def test_negative_sampler_checker():
    def right(history, n_items, rng):
        item = int(rng.integers(1, n_items + 1))
        while item in history:
            item = int(rng.integers(1, n_items + 1))
        return item

    def biased(history, n_items, rng):  # item 4 twice as often as the others
        return int(rng.choice([4, 4, 6, 7, 9, 10]))

    assert exercises.check_negative_sampler(right) == exercises.PASS
    assert "not uniform" in exercises.check_negative_sampler(biased)
    assert "in the history" in exercises.check_negative_sampler(lambda h, n, rng: 1)
    assert "integer" in exercises.check_negative_sampler(lambda h, n, rng: None)


def test_masked_loss_checker():
    def right(pos_logits, neg_logits, pos):
        real = pos != 0
        return -(F.logsigmoid(pos_logits[real]).mean() + F.logsigmoid(-neg_logits[real]).mean())

    def unmasked(pos_logits, neg_logits, pos):
        return -(F.logsigmoid(pos_logits).mean() + F.logsigmoid(-neg_logits).mean())

    assert exercises.check_masked_loss(right) == exercises.PASS
    assert "padding" in exercises.check_masked_loss(unmasked)
    assert "scalar" in exercises.check_masked_loss(lambda *a: [1.0, 2.0])

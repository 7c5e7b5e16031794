"""SASRec training examples: the vectorised BatchSampler against the reference sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lessons_src.sasrec.sampler import BatchSampler, reference_sample


def test_reference_sample_by_hand():
    train = [np.array([], dtype=np.int64), np.array([3, 1, 4, 6, 5])]
    seq, pos, neg = reference_sample(train, 1, 6, 9, np.random.default_rng(0))
    assert seq.tolist() == [0, 0, 3, 1, 4, 6]
    assert pos.tolist() == [0, 0, 1, 4, 6, 5]
    assert (neg[:2] == 0).all() and (neg[2:] > 0).all()
    assert not set(neg.tolist()) & {3, 1, 4, 6, 5}


def test_reference_sample_keeps_the_most_recent_items():
    train = [np.array([], dtype=np.int64), np.arange(1, 11)]
    seq, pos, neg = reference_sample(train, 1, 3, 20, np.random.default_rng(0))
    assert seq.tolist() == [7, 8, 9]
    assert pos.tolist() == [8, 9, 10]
    assert (neg > 10).all()


def check_rows(train, users, seq, pos, neg, maxlen, n_items):
    """Every row agrees with reference_sample's seq/pos for its user, and negatives are valid."""
    for row, user in enumerate(users.tolist()):
        ref_seq, ref_pos, _ = reference_sample(train, user, maxlen, n_items, np.random.default_rng(0))
        assert seq[row].tolist() == ref_seq.tolist()
        assert pos[row].tolist() == ref_pos.tolist()
        s, p, n = seq[row], pos[row], neg[row]
        real = s != 0
        assert torch.equal(real, p != 0) and torch.equal(real, n != 0)
        assert torch.equal(p[:-1][real[1:] & real[:-1]], s[1:][real[1:] & real[:-1]])  # pos[t] == seq[t+1]
        assert int(p[-1]) == int(train[user][-1])  # the last target is the last training item
        history = set(train[user].tolist())
        assert not set(n[real].tolist()) & history
        assert int(n.max()) <= n_items


@pytest.mark.parametrize("maxlen", [4, 9, 20])
def test_batch_sampler_matches_reference(tiny_split, maxlen):
    train, n_items = tiny_split.train, tiny_split.n_items
    sampler = BatchSampler(train, n_items, maxlen, batch_size=64, seed=1)
    for _ in range(3):
        users, seq, pos, neg = sampler.sample()
        assert seq.shape == pos.shape == neg.shape == (64, maxlen)
        assert all(len(train[u]) >= 2 for u in users.tolist())
        check_rows(train, users, seq, pos, neg, maxlen, n_items)


def test_batch_sampler_draws_every_eligible_user(tiny_split):
    train = tiny_split.train
    sampler = BatchSampler(train, tiny_split.n_items, 5, batch_size=500, seed=0)
    users, *_ = sampler.sample()
    eligible = {u for u in range(len(train)) if len(train[u]) >= 2}
    assert set(users.tolist()) == eligible
    assert len(sampler) == max(1, len(eligible) // 500)


def test_batch_sampler_seed_determines_batches(tiny_split):
    def batches(seed):
        sampler = BatchSampler(tiny_split.train, tiny_split.n_items, 6, 16, seed=seed)
        return [torch.cat(sampler.sample()[1:]) for _ in range(3)]

    assert all(torch.equal(a, b) for a, b in zip(batches(3), batches(3)))
    assert not all(torch.equal(a, b) for a, b in zip(batches(3), batches(4)))


def test_negative_distribution_matches_reference():
    """Both samplers draw negatives uniformly from the items outside the training history."""
    n_items, maxlen = 15, 4
    train = [np.array([], dtype=np.int64), np.array([2, 7, 9, 11, 14])]
    complement = np.setdiff1d(np.arange(1, n_items + 1), train[1])
    draws = 6000

    rng = np.random.default_rng(0)
    reference = np.concatenate([reference_sample(train, 1, maxlen, n_items, rng)[2] for _ in range(draws)])
    sampler = BatchSampler(train, n_items, maxlen, batch_size=draws, seed=0)
    _, _, _, neg = sampler.sample()
    vectorised = neg.numpy().ravel()

    for sample in (reference, vectorised):
        sample = sample[sample != 0]
        counts = np.bincount(sample, minlength=n_items + 1)
        assert counts[train[1]].sum() == 0
        expected = len(sample) / len(complement)
        chi2 = (((counts[complement] - expected) ** 2) / expected).sum()
        assert chi2 < 35  # 9 degrees of freedom: P(χ² > 35) ≈ 6e-5
    ref_freq = np.bincount(reference[reference != 0], minlength=n_items + 1) / (reference != 0).sum()
    vec_freq = np.bincount(vectorised[vectorised != 0], minlength=n_items + 1) / (vectorised != 0).sum()
    assert 0.5 * np.abs(ref_freq - vec_freq).sum() < 0.03  # total variation distance


def test_batch_sampler_needs_a_user_with_two_items():
    train = [np.array([], dtype=np.int64), np.array([1]), np.array([2])]
    with pytest.raises(ValueError, match="two or more"):
        BatchSampler(train, 5, 4, 2)
    with pytest.raises(ValueError):
        BatchSampler([np.array([], dtype=np.int64), np.array([1, 2])], 5, 0, 2)


def test_several_batches_at_once(tiny_split):
    train, n_items = tiny_split.train, tiny_split.n_items
    sampler = BatchSampler(train, n_items, 6, batch_size=8, seed=2)
    users, seq, pos, neg = sampler.sample(n_batches=5)
    assert users.shape == (5, 8) and seq.shape == pos.shape == neg.shape == (5, 8, 6)
    check_rows(train, users.flatten(), seq.flatten(0, 1), pos.flatten(0, 1), neg.flatten(0, 1), 6, n_items)
    assert len({tuple(u.tolist()) for u in users}) > 1  # independent batches, not one repeated

"""Impression metrics against hand-computed impressions and a plain-loop reference of MIND's definitions."""

import math

import pytest
import torch

from lessons_src.evaluation.impressions import impression_metrics


def reference(scores, labels):
    """MIND's evaluation written as loops: per impression, skip all-click / no-click, then average."""
    totals = {"AUC": [], "MRR": [], "nDCG@5": [], "nDCG@10": []}
    for s_row, y_row in zip(scores.tolist(), labels.tolist()):
        pairs = [(s, y) for s, y in zip(s_row, y_row) if y >= 0]
        clicks = [s for s, y in pairs if y == 1]
        others = [s for s, y in pairs if y == 0]
        if not clicks or not others:
            continue
        wins = sum(1.0 if c > o else 0.5 if c == o else 0.0 for c in clicks for o in others)
        totals["AUC"].append(wins / (len(clicks) * len(others)))
        order = sorted(range(len(pairs)), key=lambda i: -pairs[i][0])  # Python's sort is stable
        ranked = [pairs[i][1] for i in order]
        totals["MRR"].append(sum(y / (r + 1) for r, y in enumerate(ranked)) / len(clicks))
        for k in (5, 10):
            dcg = sum(y / math.log2(r + 2) for r, y in enumerate(ranked[:k]))
            idcg = sum(1 / math.log2(r + 2) for r in range(min(len(clicks), k)))
            totals[f"nDCG@{k}"].append(dcg / idcg)
    return {name: sum(v) / len(v) for name, v in totals.items()}, len(totals["AUC"])


def test_hand_computed_impressions():
    scores = torch.tensor([[0.9, 0.1, 0.5], [0.1, 0.9, 0.5]])
    labels = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    m = impression_metrics(scores, labels)
    # impression 1: both clicks above the non-click; positions 1 and 2 → MRR (1 + 1/2)/2, nDCG 1
    # impression 2: the click is last of 3 → AUC 0, MRR 1/3, nDCG 1/log2(4) = 1/2
    assert m["AUC"] == pytest.approx((1.0 + 0.0) / 2)
    assert m["MRR"] == pytest.approx((0.75 + 1 / 3) / 2)
    assert m["nDCG@5"] == pytest.approx((1.0 + 0.5) / 2)
    assert m["impressions"] == 2


def test_ties_count_half_and_padding_is_ignored():
    scores = torch.tensor([[0.3, 0.3, 7.0]])
    labels = torch.tensor([[1.0, 0.0, -1.0]])  # the padding slot's huge score must not matter
    m = impression_metrics(scores, labels)
    assert m["AUC"] == pytest.approx(0.5)
    assert m["MRR"] == pytest.approx(1.0)  # a tie is broken by the order shown: the click came first


def test_matches_the_loop_reference_on_random_impressions():
    g = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 6, (200, 13), generator=g).float()  # many ties
    labels = (torch.rand(200, 13, generator=g) < 0.25).float()
    lengths = torch.randint(1, 14, (200,), generator=g)
    labels[torch.arange(13)[None, :] >= lengths[:, None]] = -1
    want, informative = reference(scores, labels)
    got = impression_metrics(scores, labels)
    assert got["impressions"] == informative < 200  # some impressions are skipped
    for name, value in want.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="labels must be"):
        impression_metrics(torch.zeros(1, 2), torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="no impression"):
        impression_metrics(torch.zeros(1, 2), torch.tensor([[1.0, 1.0]]))

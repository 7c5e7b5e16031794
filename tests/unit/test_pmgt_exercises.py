"""Chapter 6's checkers accept a right answer, written independently here, and name the usual mistakes."""

import math
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

from lessons_src.course.checkers import PASS
from lessons_src.pmgt.exercises import check_context, check_diversity_attention, check_edge_weight
from lessons_src.pmgt.graph import build_item_graph
from lessons_src.pmgt.model import DiversityAttention, PMGTConfig
from lessons_src.pmgt.sampling import ContextSampler


def not_attempted(*args):
    raise NotImplementedError


def test_edge_weight_checker():
    log = np.log
    assert check_edge_weight(lambda w, du, dv: (log(w) + 1) / (log(np.sqrt(du * dv)) + 1)) == PASS
    assert "numerator" in check_edge_weight(lambda w, du, dv: log(w) / (log(np.sqrt(du * dv)) + 1))
    assert "denominator" in check_edge_weight(lambda w, du, dv: (log(w) + 1) / log(np.sqrt(du * dv)))
    assert "square root" in check_edge_weight(lambda w, du, dv: (log(w) + 1) / (log(du * dv) + 1))
    assert "raw counts" in check_edge_weight(lambda w, du, dv: w)
    assert "natural logarithm" in check_edge_weight(
        lambda w, du, dv: (np.log10(w) + 1) / (np.log10(np.sqrt(du * dv)) + 1))
    assert "shape" in check_edge_weight(lambda w, du, dv: ((log(w) + 1) / (log(np.sqrt(du * dv)) + 1))[:2])
    assert "expected an array" in check_edge_weight(lambda w, du, dv: "weights")
    assert "not attempted" in check_edge_weight(not_attempted)
    assert "raised ZeroDivisionError" in check_edge_weight(lambda w, du, dv: 1 / 0)


def test_edge_weight_checker_also_holds_answers_to_the_stored_graph_weights():
    def right_on_the_first_case_only(w, du, dv):  # the hand-made case has 8 edges, the real graph more
        right = (np.log(w) + 1) / (np.log(np.sqrt(du * dv)) + 1)
        return right if len(w) == 8 else 1.01 * right

    assert "build_item_graph" in check_edge_weight(right_on_the_first_case_only)


def diversity_attention(q, k, x, alpha, *, scale=True, identity=True, one_minus=True, swap=False, axis=-1):
    d = q.shape[-1] if scale else 1
    plain = torch.softmax(q @ k.T / math.sqrt(d), dim=axis)
    unit = F.normalize(x, dim=-1)
    cos = unit @ unit.T
    term = (1 - cos if one_minus else cos) + (torch.eye(len(x), dtype=x.dtype) if identity else 0)
    diverse = torch.softmax(term, dim=axis)
    a = alpha if swap else 1 - alpha
    return a * plain + (1 - a) * diverse


def test_the_exercise_formula_is_the_library_attention_for_each_head():
    torch.manual_seed(0)
    layer = DiversityAttention(PMGTConfig(feature_sizes=[1], hidden=12, heads=3, alpha=0.4, dropout=0.0)).eval()
    x = torch.randn(2, 6, 12)
    with torch.no_grad():
        maps = layer.weights(x, torch.ones(2, 6, dtype=torch.bool))  # (B, H, S, S)
        q, k, _ = layer.qkv(x).split(12, dim=-1)
        for b in range(2):
            for head in range(3):
                columns = slice(4 * head, 4 * head + 4)
                want = diversity_attention(q[b, :, columns], k[b, :, columns], x[b], 0.4)
                torch.testing.assert_close(maps[b, head], want, atol=1e-6, rtol=1e-5)


def test_diversity_attention_checker():
    def mistake(**options):
        return lambda q, k, x, alpha: diversity_attention(q, k, x, alpha, **options)

    assert check_diversity_attention(diversity_attention) == PASS
    assert "divide q kᵀ by √d" in check_diversity_attention(mistake(scale=False))
    assert "identity" in check_diversity_attention(mistake(identity=False))
    assert "1 − cos" in check_diversity_attention(mistake(one_minus=False))
    assert "other way round" in check_diversity_attention(mistake(swap=True))
    assert "sum to 1" in check_diversity_attention(mistake(axis=0))  # softmax over the queries
    unmixed = lambda q, k, x, a: (1 - a) * diversity_attention(q, k, x, 0.0) + diversity_attention(q, k, x, 1.0)
    assert "sum to 1" in check_diversity_attention(unmixed)
    assert "not by √D" in check_diversity_attention(
        lambda q, k, x, a: diversity_attention(q * math.sqrt(q.shape[-1] / x.shape[-1]), k, x, a))
    assert "shape" in check_diversity_attention(lambda q, k, x, a: diversity_attention(q, k, x, a)[0])
    assert "expected a tensor" in check_diversity_attention(lambda q, k, x, a: "attention")
    assert "not attempted" in check_diversity_attention(not_attempted)


def context(hop_draws, hop_weights, centre, k, *, exclude_centre=True, weighted=True, larger_first=False,
            keep_missing=False):
    score = Counter()
    for drawn, weight in zip(hop_draws, hop_weights):
        for item in drawn:
            if item >= 0 or keep_missing:
                score[int(item)] += weight if weighted else 1
    if exclude_centre:
        score.pop(centre, None)
    return sorted(score, key=lambda i: (-score[i], -i if larger_first else i))[:k]


def test_the_exercise_rule_is_the_library_context_ranking():
    class Recording(ContextSampler):  # keeps every hop's draws, (B, draws so far)
        def draw_neighbours(self, nodes, draws, generator=None):
            drawn = super().draw_neighbours(nodes, draws, generator)
            self.record.append(drawn)
            return drawn

    rng = np.random.default_rng(1)
    graph = build_item_graph(rng.integers(0, 60, 400), rng.integers(0, 30, 400), n_items=30, min_users=2)
    sampler = Recording(graph, context_size=6)
    sampler.record = []
    centres = torch.arange(30)
    items = sampler.sample(centres, torch.Generator().manual_seed(0)).items
    for b, centre in enumerate(centres.tolist()):
        hop_draws = [hop[b].numpy() for hop in sampler.record]
        assert context(hop_draws, sampler.hop_weights, centre, 6) == [i for i in items[b].tolist() if i >= 0]


def test_context_checker():
    assert check_context(context) == PASS
    assert check_context(lambda *args: np.array(context(*args))) == PASS
    assert "centre" in check_context(lambda d, w, c, k: context(d, w, c, k, exclude_centre=False))
    assert "β_h" in check_context(lambda d, w, c, k: context(d, w, c, k, weighted=False))
    assert "smaller item id" in check_context(lambda d, w, c, k: context(d, w, c, k, larger_first=True))
    assert "−1" in check_context(lambda d, w, c, k: context(d, w, c, k, keep_missing=True))
    padded = lambda d, w, c, k: (context(d, w, c, k) + [-1] * k)[:k]
    assert "−1" in check_context(padded)

    def every_item(d, w, c, k):  # ranks all ids, reached or not
        score = np.zeros(10)
        for drawn, weight in zip(d, w):
            np.add.at(score, drawn[drawn >= 0], weight)
        score[c] = -1
        return sorted(range(10), key=lambda i: (-score[i], i))[:k]

    assert "never drawn" in check_context(every_item)
    assert "wrong order" in check_context(lambda *args: sorted(context(*args)))
    assert "flat list" in check_context(lambda *args: [context(*args)] * 2)
    assert "flat list" in check_context(lambda *args: ["one", "two"])
    assert "not attempted" in check_context(not_attempted)

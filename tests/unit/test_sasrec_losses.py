"""SASRec's losses (lessons_src/sasrec/losses.py) against plain loops over positions and items:
values and gradients, padding positions left out, the full softmax the same in any chunking."""

from __future__ import annotations

import math

import pytest
import torch

from lessons_src.sasrec.losses import (LossConfig, bce_one_negative, catalogue_chunk, full_softmax, gbce_beta,
                                       generalised_bce, sampled_softmax, sasrec_objective, uniform_negatives)

N_ITEMS, C = 9, 4
# two histories of length 5, left-padded: position (0, 0) and (0, 1) and (1, 0) have no target
POS = torch.tensor([[0, 0, 3, 7, 2], [0, 5, 9, 1, 3]])
NEGATIVES = torch.tensor([4, 3, 8])  # K = 3; item 3 is the positive of two positions (an accidental hit)
# gBCE: K = 2 negatives for each of the 7 positions with a target; row 0 (target 3) holds a hit
PER_POSITION = torch.tensor([[3, 5], [1, 2], [9, 9], [4, 6], [2, 8], [7, 7], [5, 1]])


def inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(2, 5, C, generator=g, requires_grad=True)
    table = torch.randn(N_ITEMS + 1, C, generator=g, requires_grad=True)
    return features, table


def real_positions():
    return [(b, t) for b in range(POS.shape[0]) for t in range(POS.shape[1]) if POS[b, t] != 0]


def r(features, table, b, t, i):
    return sum(features[b, t, c] * table[i, c] for c in range(C))


def loop_full_softmax(features, table):
    total = 0.0
    for b, t in real_positions():
        scores = [r(features, table, b, t, i) for i in range(1, N_ITEMS + 1)]  # items 1..N, not padding
        log_norm = torch.log(sum(torch.exp(s) for s in scores))
        total = total - (r(features, table, b, t, int(POS[b, t])) - log_norm)
    return total / len(real_positions())


def loop_sampled_softmax(features, table):
    total = 0.0
    for b, t in real_positions():
        target = int(POS[b, t])
        positive = r(features, table, b, t, target)
        others = [torch.exp(r(features, table, b, t, int(j))) for j in NEGATIVES if int(j) != target]
        total = total - (positive - torch.log(torch.exp(positive) + sum(others)))
    return total / len(real_positions())


def loop_gbce(features, table, beta):
    sigmoid = torch.sigmoid
    total = 0.0
    for row, (b, t) in enumerate(real_positions()):
        target = int(POS[b, t])
        term = beta * torch.log(sigmoid(r(features, table, b, t, target)))
        for j in PER_POSITION[row]:
            if int(j) != target:
                term = term + torch.log(1 - sigmoid(r(features, table, b, t, int(j))))
        total = total - term
    return total / len(real_positions())


def assert_same_value_and_gradients(ours, reference):
    (features, table), (features2, table2) = inputs(), inputs()
    value, expected = ours(features, table), reference(features2, table2)
    torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-6)
    value.backward()
    expected.backward()
    torch.testing.assert_close(features.grad, features2.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(table.grad, table2.grad, rtol=1e-4, atol=1e-6)
    # a padding position gets no gradient, nor does the padding item's row from the softmax
    assert features.grad[0, 0].abs().sum() == 0 and features.grad[1, 0].abs().sum() == 0


@pytest.mark.parametrize("budget", [4 * (N_ITEMS + 1), 3 * 4 * (N_ITEMS + 1), 2**20],
                         ids=["one-position-chunks", "three-position-chunks", "one-chunk"])
def test_full_softmax_is_cross_entropy_over_items_1_to_n_in_any_chunking(budget):
    assert_same_value_and_gradients(lambda f, m: full_softmax(f, m, POS, budget), loop_full_softmax)


def test_full_softmax_never_gives_the_padding_item_gradient_nor_probability():
    features, table = inputs()
    full_softmax(features, table, POS, 2**20).backward()
    assert table.grad[0].abs().sum() == 0


def test_catalogue_chunk_fits_the_budget():
    assert catalogue_chunk(23_715, 256 * 2**20) == 256 * 2**20 // (4 * 23_716)
    assert catalogue_chunk(10**9, 1) == 1


def test_sampled_softmax_matches_the_loop_and_masks_accidental_hits():
    assert_same_value_and_gradients(lambda f, m: sampled_softmax(f, m, POS, NEGATIVES), loop_sampled_softmax)


@pytest.mark.parametrize("calibration", [0.0, 0.75, 1.0])
def test_generalised_bce_matches_the_loop(calibration):
    beta = gbce_beta(N_ITEMS, PER_POSITION.shape[1], calibration)
    assert_same_value_and_gradients(lambda f, m: generalised_bce(f, m, POS, PER_POSITION, beta),
                                    lambda f, m: loop_gbce(f, m, beta))


def test_gbce_beta_goes_from_bce_to_the_sampling_rate():
    alpha = 3 / (N_ITEMS - 1)
    assert gbce_beta(N_ITEMS, 3, 0.0) == pytest.approx(1.0)
    assert gbce_beta(N_ITEMS, 3, 1.0) == pytest.approx(alpha)
    assert gbce_beta(N_ITEMS, 3, 0.75) == pytest.approx(alpha * (0.75 * (1 - 1 / alpha) + 1 / alpha))


def test_bce_one_negative_is_the_papers_loss():
    g = torch.Generator().manual_seed(1)
    pos_logits, neg_logits = torch.randn(2, 5, generator=g), torch.randn(2, 5, generator=g)
    real = real_positions()
    expected = (-sum(math.log(torch.sigmoid(pos_logits[b, t])) for b, t in real) / len(real)
                - sum(math.log(1 - torch.sigmoid(neg_logits[b, t])) for b, t in real) / len(real))
    assert bce_one_negative(pos_logits, neg_logits, POS).item() == pytest.approx(expected, rel=1e-5)


def test_uniform_negatives_cover_1_to_n_only():
    drawn = uniform_negatives(N_ITEMS, (50, 100), torch.Generator().manual_seed(0), "cpu")
    assert drawn.shape == (50, 100) and set(drawn.flatten().tolist()) == set(range(1, N_ITEMS + 1))


@pytest.mark.parametrize("kind", ["bce", "ce", "sampled", "gbce"])
def test_every_loss_trains_a_real_sasrec_one_step(model_factory, kind):
    model = model_factory()  # n_items 20, maxlen 8
    g = torch.Generator().manual_seed(0)
    seq = torch.randint(0, 21, (4, 8), generator=g)
    pos = torch.randint(1, 21, (4, 8), generator=g) * (seq != 0)
    neg = torch.randint(1, 21, (4, 8), generator=g) * (pos != 0)
    loss = sasrec_objective(model, seq, pos, neg, LossConfig(kind=kind, negatives=7),
                            torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and model.item_embedding.weight.grad.abs().sum() > 0


def test_bad_loss_settings_are_named():
    with pytest.raises(ValueError, match="loss must be one of"):
        LossConfig(kind="bpr")
    with pytest.raises(ValueError, match="negatives must be"):
        LossConfig(kind="sampled", negatives=0)
    with pytest.raises(ValueError, match="calibration must lie"):
        LossConfig(kind="gbce", calibration=2.0)

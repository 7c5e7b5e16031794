"""The maths of capsules: squash (Eq. 1), routing by agreement (Procedure 1), margin loss (Eq. 4)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lessons_src.capsules import (
    capsnet_loss,
    dynamic_routing,
    margin_loss,
    reconstruction_loss,
    squash,
)
from lessons_src.capsules.capsnet import CapsNetOutput


def random_predictions(B=2, n_in=7, n_out=5, D=4, seed=0) -> torch.Tensor:
    return torch.randn(B, n_in, n_out, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def sum_to_one_over_outputs(coefficients: torch.Tensor) -> bool:
    """(iterations, B, n_in, n_out): does every input capsule split exactly one unit of vote over the outputs?"""
    sums = coefficients.sum(dim=-1)
    return bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-6))


# ------------------------------------------------------------------------------------------- squash


def test_squash_matches_the_formula_for_a_hand_computed_vector():
    v = squash(torch.tensor([3.0, 4.0]))
    # |s| = 5: length |s|² / (1 + |s|²) = 25/26, direction s/|s| = (0.6, 0.8)
    torch.testing.assert_close(v, torch.tensor([0.6, 0.8]) * 25 / 26)
    torch.testing.assert_close(v.norm(), torch.tensor(25 / 26))


def test_squash_keeps_direction_and_maps_length_into_0_1():
    s = torch.randn(1000, 8, dtype=torch.float64) * torch.logspace(-3, 2, 1000, dtype=torch.float64)[:, None]
    v = squash(s)
    lengths, s_lengths = v.norm(dim=-1), s.norm(dim=-1)
    assert (lengths >= 0).all() and (lengths < 1).all()
    torch.testing.assert_close(F.cosine_similarity(v, s, dim=-1), torch.ones(1000, dtype=torch.float64))
    torch.testing.assert_close(lengths, s_lengths ** 2 / (1 + s_lengths ** 2))
    assert (lengths[s_lengths.argsort()].diff() > 0).all()  # longer in, longer out
    torch.testing.assert_close(squash(s.T, dim=0), v.T)  # along any axis


def test_squash_is_exactly_zero_with_a_finite_gradient_at_zero():
    s = torch.zeros(3, 4, requires_grad=True)
    v = squash(s)
    assert torch.equal(v, torch.zeros(3, 4))
    v.sum().backward()
    assert torch.isfinite(s.grad).all()
    # |v| ≈ |s|² near 0: the Jacobian vanishes there
    assert torch.equal(s.grad, torch.zeros(3, 4))


# ------------------------------------------------------------------------------------------ routing


def test_coupling_coefficients_sum_to_one_over_the_output_capsules_at_every_iteration():
    u_hat = random_predictions()
    routing = dynamic_routing(u_hat, iterations=3)
    assert routing.v.shape == (2, 5, 4)
    assert routing.coefficients.shape == (3, 2, 7, 5) and routing.logits.shape == (2, 7, 5)
    assert sum_to_one_over_outputs(routing.coefficients)
    assert (routing.coefficients[1:] != routing.coefficients[:1]).any()  # routing did move them
    # the logits returned are the ones the last iteration used (Procedure 1's final update is never read)
    torch.testing.assert_close(F.softmax(routing.logits, dim=-1), routing.coefficients[-1])


def test_the_library_normalises_over_the_output_capsules_not_over_the_inputs():
    """The bug seen in public code is a softmax over i instead of over j (Σ_i c_ij = 1).

    The library's couplings sum to 1 over the outputs j for every input i; over the inputs they do
    not: with 7 inputs and 5 outputs the uniform start gives Σ_i c_ij = 7/5, and after routing the
    outputs that won more agreement gather more of the vote than the others.
    """
    u_hat = random_predictions(n_in=7, n_out=5)
    c = dynamic_routing(u_hat, iterations=3).coefficients  # (iterations, B, n_in, n_out)
    assert sum_to_one_over_outputs(c)
    over_inputs = c.sum(dim=2)  # (iterations, B, n_out)
    torch.testing.assert_close(over_inputs[0], torch.full((2, 5), 7 / 5, dtype=u_hat.dtype))
    assert (over_inputs[-1].amax(dim=-1) - over_inputs[-1].amin(dim=-1)).min() > 0.05


def test_one_iteration_couples_uniformly_and_averages_the_predictions():
    u_hat = random_predictions(n_out=5)
    routing = dynamic_routing(u_hat, iterations=1)
    torch.testing.assert_close(routing.coefficients, torch.full((1, 2, 7, 5), 1 / 5, dtype=u_hat.dtype))
    # s_j = Σ_i û_j|i / n_out
    torch.testing.assert_close(routing.v, squash(u_hat.sum(dim=1) / 5))
    # and the first iteration of any longer routing is the same uniform one
    torch.testing.assert_close(dynamic_routing(u_hat, iterations=3).coefficients[0], routing.coefficients[0])


def test_permuting_the_input_capsules_does_not_change_the_output():
    u_hat = random_predictions(n_in=9)
    permutation = torch.randperm(9, generator=torch.Generator().manual_seed(1))
    routing, permuted = dynamic_routing(u_hat, 3), dynamic_routing(u_hat[:, permutation], 3)
    torch.testing.assert_close(permuted.v, routing.v)
    torch.testing.assert_close(permuted.coefficients, routing.coefficients[:, :, permutation])


def test_agreement_raises_the_coupling_to_the_output_a_capsule_agrees_with():
    # 4 input capsules, 2 outputs, 2-D poses. Everyone predicts (1, 0) for output 0; for output 1,
    # capsules 1–3 predict (0, 1) but capsule 0 predicts the opposite, (0, −1).
    u_hat = torch.zeros(1, 4, 2, 2, dtype=torch.float64)
    u_hat[0, :, 0] = torch.tensor([1.0, 0.0])
    u_hat[0, 1:, 1] = torch.tensor([0.0, 1.0])
    u_hat[0, 0, 1] = torch.tensor([0.0, -1.0])
    c = dynamic_routing(u_hat, iterations=4).coefficients[:, 0]  # (iterations, n_in, n_out)
    capsule0_to_output0 = c[:, 0, 0]
    assert capsule0_to_output0[0] == 0.5
    assert (capsule0_to_output0.diff() > 0).all()  # grows with every iteration
    assert capsule0_to_output0[-1] > 0.75
    # and capsule 0 ends up coupled to output 0 more strongly than the capsules that also agree with output 1
    assert (capsule0_to_output0[-1] > c[-1, 1:, 0]).all()


def test_gradients_flow_through_every_iteration_unless_detached():
    u_hat = random_predictions().requires_grad_()
    full, detached = dynamic_routing(u_hat, 3), dynamic_routing(u_hat, 3, detach_intermediate=True)
    torch.testing.assert_close(full.v, detached.v)  # same forward values
    torch.testing.assert_close(full.coefficients, detached.coefficients)
    weights = torch.randn(full.v.shape, dtype=u_hat.dtype, generator=torch.Generator().manual_seed(2))
    (grad_full,) = torch.autograd.grad((full.v * weights).sum(), u_hat)
    (grad_detached,) = torch.autograd.grad((detached.v * weights).sum(), u_hat)
    assert not torch.allclose(grad_full, grad_detached)  # the couplings' dependence on û is differentiated
    # with one iteration the couplings are constants either way
    (grad_one,) = torch.autograd.grad((dynamic_routing(u_hat, 1).v * weights).sum(), u_hat)
    (grad_one_detached,) = torch.autograd.grad(
        (dynamic_routing(u_hat, 1, detach_intermediate=True).v * weights).sum(), u_hat)
    torch.testing.assert_close(grad_one, grad_one_detached)


@pytest.mark.parametrize("iterations", [0, -1, 1.5, True])
def test_bad_iterations_are_rejected(iterations):
    with pytest.raises(ValueError, match="iterations"):
        dynamic_routing(random_predictions(), iterations)


def test_bad_u_hat_shape_is_rejected():
    with pytest.raises(ValueError, match=r"u_hat must be \(B, n_in, n_out, D\)"):
        dynamic_routing(torch.zeros(2, 7, 5))


# ------------------------------------------------------------------------------------------- losses


def test_margin_loss_matches_a_hand_computation():
    lengths = torch.tensor([[0.95, 0.3, 0.05], [0.2, 0.5, 0.8]])
    labels = torch.tensor([0, 2])
    # image 1: present 0 (0.95 ≥ 0.9: 0); absent 1: 0.5·(0.3 − 0.1)² = 0.02; absent 2 (0.05 ≤ 0.1: 0)
    # image 2: present 2: (0.9 − 0.8)² = 0.01; absent 0: 0.5·0.1² = 0.005; absent 1: 0.5·0.4² = 0.08
    expected = (0.02 + (0.01 + 0.005 + 0.08)) / 2  # summed over classes, averaged over images
    torch.testing.assert_close(margin_loss(lengths, labels), torch.tensor(expected))
    # the margins and the down-weighting are arguments: λ = 1, m⁺ = 1, m⁻ = 0
    expected = ((0.05 ** 2 + 0.3 ** 2 + 0.05 ** 2) + (0.2 ** 2 + 0.5 ** 2 + 0.2 ** 2)) / 2
    torch.testing.assert_close(margin_loss(lengths, labels, m_plus=1.0, m_minus=0.0, lambda_=1.0),
                               torch.tensor(expected))


def test_margin_loss_is_zero_beyond_the_margins_and_has_the_right_gradient_sign():
    lengths = torch.tensor([[0.05, 0.95, 0.0]], requires_grad=True)
    assert margin_loss(lengths, torch.tensor([1])) == 0
    lengths = torch.tensor([[0.5, 0.5, 0.5]], requires_grad=True)
    margin_loss(lengths, torch.tensor([1])).backward()
    assert lengths.grad[0, 1] < 0 < lengths.grad[0, 0]  # the true capsule grows, the others shrink


def test_reconstruction_loss_sums_over_pixels_and_averages_over_images():
    reconstruction = torch.zeros(2, 4)
    images = torch.stack([torch.ones(2, 2), 0.5 * torch.ones(2, 2)])  # (2, 2, 2)
    torch.testing.assert_close(reconstruction_loss(reconstruction, images), torch.tensor((4.0 + 1.0) / 2))


def test_capsnet_loss_adds_the_scaled_reconstruction_error():
    lengths = torch.tensor([[0.95, 0.3, 0.05], [0.2, 0.5, 0.8]])
    labels = torch.tensor([0, 2])
    images = torch.rand(2, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    output = CapsNetOutput(lengths=lengths, digit_capsules=torch.zeros(2, 3, 4), reconstruction=torch.zeros(2, 4),
                           coefficients=torch.zeros(1, 2, 5, 3), masked_classes=labels)
    loss = capsnet_loss(output, images, labels, recon_weight=0.0005)
    torch.testing.assert_close(loss.margin, margin_loss(lengths, labels))
    torch.testing.assert_close(loss.reconstruction, (images ** 2).sum() / 2)
    torch.testing.assert_close(loss.total, loss.margin + 0.0005 * loss.reconstruction)


@pytest.mark.parametrize("labels, message", [
    (torch.tensor([0, 3]), r"labels must lie in 0\.\.2, found 0\.\.3"),
    (torch.tensor([-1, 0]), r"labels must lie in 0\.\.2"),
    (torch.tensor([0, 1, 2]), r"labels must be \(B,\) = \(2,\)"),
    (torch.tensor([0.0, 1.0]), "labels must hold integer"),
])
def test_margin_loss_rejects_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        margin_loss(torch.full((2, 3), 0.5), labels)


@pytest.mark.parametrize("kwargs, name", [
    ({"m_plus": 0.1, "m_minus": 0.9}, "m_minus"),
    ({"lambda_": -0.5}, "lambda_"),
    ({"m_plus": float("nan")}, "m_plus"),
])
def test_margin_loss_rejects_bad_hyperparameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        margin_loss(torch.full((2, 3), 0.5), torch.tensor([0, 1]), **kwargs)


def test_losses_reject_bad_shapes():
    with pytest.raises(ValueError, match="lengths must be"):
        margin_loss(torch.full((3,), 0.5), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="images .* do not match reconstruction"):
        reconstruction_loss(torch.zeros(2, 784), torch.zeros(2, 1, 14, 14))
    output = CapsNetOutput(torch.full((2, 3), 0.5), torch.zeros(2, 3, 4), torch.zeros(2, 4),
                           torch.zeros(1, 2, 5, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="recon_weight"):
        capsnet_loss(output, torch.zeros(2, 2, 2), torch.tensor([0, 1]), recon_weight=-1.0)

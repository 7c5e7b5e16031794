"""Distillation losses, the MLPs and the teacher's input jitter (Hinton, Vinyals & Dean 2015)."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from lessons_src.distill import MLP, distillation_loss, jitter, logit_matching_loss, soften, study_notes_loss

C = 10  # classes


def zero_mean(x: torch.Tensor) -> torch.Tensor:
    return x - x.mean(dim=-1, keepdim=True)


def random_batch(batch: int = 64, scale: float = 3.0, seed: int = 0):
    """Zero-meaned student and teacher logits (B, C) of MNIST-like size, and labels (B,)."""
    g = torch.Generator().manual_seed(seed)
    z = zero_mean(scale * torch.randn(batch, C, generator=g))
    v = zero_mean(scale * torch.randn(batch, C, generator=g))
    y = torch.randint(0, C, (batch,), generator=g)
    return z, v, y


def soft_gradient(z: torch.Tensor, v: torch.Tensor, y: torch.Tensor, temperature: float) -> torch.Tensor:
    """∂(T²·KL)/∂z, the gradient the soft targets send into the student's logits."""
    z = z.clone().requires_grad_(True)
    _, soft, _ = distillation_loss(z, v, y, temperature, alpha=1.0, return_parts=True)
    soft.backward()
    return z.grad


# ---------------------------------------------------------------- the loss is the equation


def test_soften_is_a_tempered_softmax():
    z = torch.tensor([[1.0, 2.0, 4.0]])
    expected = torch.exp(z / 2) / torch.exp(z / 2).sum()
    torch.testing.assert_close(soften(z, 2.0), expected)
    # higher temperature → softer (higher entropy) distribution
    def entropy(p):
        return -(p * p.log()).sum().item()

    assert entropy(soften(z, 1.0)) < entropy(soften(z, 2.0)) < entropy(soften(z, 10.0))


def test_loss_equals_a_hand_computation():
    z = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
    v = torch.tensor([[3.0, 1.0, -2.0], [-1.0, 0.0, 1.0]])
    y = torch.tensor([0, 1])
    T, alpha = 3.0, 0.7
    # by hand, plain tensor ops only
    q = torch.exp(z / T) / torch.exp(z / T).sum(dim=1, keepdim=True)  # student, (B, C)
    p = torch.exp(v / T) / torch.exp(v / T).sum(dim=1, keepdim=True)  # teacher, (B, C)
    kl = (p * (p.log() - q.log())).sum(dim=1).mean()  # Σ over classes, mean over batch
    q1 = torch.exp(z) / torch.exp(z).sum(dim=1, keepdim=True)  # T = 1
    ce = -q1[torch.arange(2), y].log().mean()
    expected = alpha * T * T * kl + (1 - alpha) * ce

    total, soft, hard = distillation_loss(z, v, y, T, alpha, return_parts=True)
    torch.testing.assert_close(total, expected)
    torch.testing.assert_close(soft, T * T * kl)
    torch.testing.assert_close(hard, ce)
    torch.testing.assert_close(distillation_loss(z, v, y, T, alpha), expected)


def test_alpha_zero_is_cross_entropy_and_alpha_one_is_the_soft_term():
    z, v, y = random_batch(batch=8)
    T = 4.0
    ce = nn.functional.cross_entropy(z, y)
    assert torch.equal(distillation_loss(z, v, y, T, alpha=0.0), ce)
    _, soft, _ = distillation_loss(z, v, y, T, alpha=0.5, return_parts=True)
    assert torch.equal(distillation_loss(z, v, y, T, alpha=1.0), soft)


def test_identical_logits_give_zero_soft_loss():
    z, _, y = random_batch(batch=8)
    _, soft, _ = distillation_loss(z, z.clone(), y, 5.0, 0.5, return_parts=True)
    assert abs(soft.item()) < 1e-5


def test_the_teacher_gets_no_gradient():
    z, v, y = random_batch(batch=8)
    z.requires_grad_(True)
    v.requires_grad_(True)
    for loss in (distillation_loss, study_notes_loss):
        loss(z, v, y, 4.0, 0.9).backward()
        assert v.grad is None or not v.grad.any()
    logit_matching_loss(z, v).backward()
    assert v.grad is None or not v.grad.any()
    assert z.grad is not None and z.grad.abs().sum() > 0


# ---------------------------------------------------------------- why T², and the high-temperature limit


def test_t_squared_keeps_the_soft_gradient_the_same_size_across_temperatures():
    z, v, y = random_batch()
    norms = {T: soft_gradient(z, v, y, T).norm().item() for T in (1.0, 4.0, 20.0)}
    for T in (1.0, 20.0):
        assert 1 / 3 < norms[T] / norms[4.0] < 3, norms


def test_without_t_squared_the_soft_gradient_shrinks_like_one_over_t_squared():
    z, v, y = random_batch()
    # ∂KL/∂z = (q − p)/T and q − p ≈ (z − v)/(C·T) for large T: the gradient falls like 1/T²
    raw = {T: soft_gradient(z, v, y, T).norm().item() / T**2 for T in (4.0, 20.0)}
    assert raw[20.0] / raw[4.0] == pytest.approx((4 / 20) ** 2, rel=0.3)


def test_high_temperature_distillation_becomes_logit_matching():
    """Hinton §2.1: for T ≫ logits, T²·∂KL/∂z_i → (z_i − v_i)/C per example, i.e. ∇(logit matching)/C."""
    z, v, y = random_batch()
    distilled = soft_gradient(z, v, y, 100.0)  # (B, C), batchmean → includes the 1/B
    z_ = z.clone().requires_grad_(True)
    logit_matching_loss(z_, v).backward()  # gradient (z − v)/B
    torch.testing.assert_close(z_.grad, (z - v) / len(z))
    expected = z_.grad / C
    relative_error = ((distilled - expected).norm() / expected.norm()).item()
    assert relative_error < 0.05


# ---------------------------------------------------------------- the study notes' variant


def test_study_notes_soft_term_is_two_over_c_of_batchmean():
    z, v, y = random_batch(batch=16)
    T, alpha = 4.0, 0.9
    _, soft, hard = distillation_loss(z, v, y, T, alpha, return_parts=True)
    notes_total, notes_soft, notes_hard = study_notes_loss(z, v, y, T, alpha, return_parts=True)
    torch.testing.assert_close(notes_soft, soft * 2 / C)
    torch.testing.assert_close(notes_hard, hard)
    torch.testing.assert_close(notes_total, alpha * soft * 2 / C + (1 - alpha) * hard)


def test_study_notes_loss_reproduces_the_notes_code():
    z, v, y = random_batch(batch=16)
    T, alpha = 4.0, 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that reduction='mean' is not the KL divergence
        notes = nn.KLDivLoss()(
            nn.functional.log_softmax(z / T, dim=1), nn.functional.softmax(v / T, dim=1)
        ) * (T * T * 2.0 * alpha) + nn.functional.cross_entropy(z, y) * (1.0 - alpha)
    torch.testing.assert_close(study_notes_loss(z, v, y, T, alpha), notes)


def test_study_notes_loss_raises_no_warning():
    z, v, y = random_batch(batch=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        study_notes_loss(z, v, y, 4.0, 0.5)
        distillation_loss(z, v, y, 4.0, 0.5)


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(temperature=0.0), "temperature"),
        (dict(temperature=-1.0), "temperature"),
        (dict(temperature=float("inf")), "temperature"),
        (dict(alpha=-0.1), "alpha"),
        (dict(alpha=1.5), "alpha"),
        (dict(teacher_logits=torch.zeros(4, C + 1)), "teacher_logits"),
        (dict(labels=torch.zeros(5, dtype=torch.long)), "labels"),
        (dict(student_logits=torch.zeros(4, 2, C), teacher_logits=torch.zeros(4, 2, C)), "student_logits"),
    ],
)
@pytest.mark.parametrize("loss", [distillation_loss, study_notes_loss])
def test_bad_arguments_raise_value_error_naming_them(loss, kwargs, name):
    arguments = dict(
        student_logits=torch.zeros(4, C),
        teacher_logits=torch.zeros(4, C),
        labels=torch.zeros(4, dtype=torch.long),
        temperature=2.0,
        alpha=0.5,
    )
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=name):
        loss(**arguments)


def test_soften_and_logit_matching_check_their_arguments():
    with pytest.raises(ValueError, match="temperature"):
        soften(torch.zeros(2, C), 0)
    with pytest.raises(ValueError, match="teacher_logits"):
        logit_matching_loss(torch.zeros(2, C), torch.zeros(2, C + 1))


# ---------------------------------------------------------------- models


def test_mlp_shapes_and_layers():
    torch.manual_seed(0)
    teacher = MLP([784, 1200, 1200, 10], dropout=0.5, input_dropout=0.2)
    student = MLP([784, 800, 800, 10])
    images = torch.rand(3, 28, 28)
    assert teacher(images).shape == (3, 10)
    assert student(images.flatten(1)).shape == (3, 10)
    linear = [m for m in student.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(784, 800), (800, 800), (800, 10)]
    assert sum(p.numel() for p in teacher.parameters()) == 784 * 1200 + 1200 + 1200 * 1200 + 1200 + 1200 * 10 + 10
    # dropout is active in training and off in evaluation
    teacher.eval()
    torch.testing.assert_close(teacher(images), teacher(images))
    teacher.train()
    assert not torch.equal(teacher(images), teacher(images))
    with pytest.raises(ValueError, match="784"):
        student(torch.rand(3, 10, 10))


def test_mlp_layer_order_follows_the_dropout_nets():
    """Input dropout first; each hidden Linear is followed by ReLU, then dropout; the last is bare."""
    teacher = MLP([784, 1200, 1200, 10], dropout=0.5, input_dropout=0.2)
    kinds = [type(m).__name__ for m in teacher.net]
    assert kinds == ["ByteDropout", "Linear", "ReLU", "ByteDropout", "Linear", "ReLU", "ByteDropout", "Linear"]
    assert [m.p for m in teacher.net if type(m).__name__ == "ByteDropout"] == [0.2, 0.5, 0.5]


@pytest.mark.parametrize(
    "kwargs, name",
    [(dict(dropout=-0.1), "dropout"), (dict(input_dropout=1.0), "input_dropout"), (dict(sizes=[784]), "sizes")],
)
def test_mlp_checks_its_arguments(kwargs, name):
    arguments = dict(sizes=[784, 800, 10])
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=name):
        MLP(**arguments)


def test_mlp_is_not_affine():
    """Without its ReLUs an MLP collapses to one affine map f, for which f(x) + f(−x) = 2 f(0)."""
    torch.manual_seed(0)
    model = MLP([4, 16, 16, 3]).eval()
    x = torch.randn(5, 4)
    affine_gap = model(x) + model(-x) - 2 * model(torch.zeros_like(x))
    assert affine_gap.abs().max() > 1e-2


def test_mlp_logits_are_not_bounded():
    """The model returns logits, not probabilities: a ReLU or softmax at the end would be a bug."""
    torch.manual_seed(0)
    out = MLP([4, 8, 3])(10 * torch.randn(50, 4))
    assert (out < 0).any() and (out.sum(dim=1) - 1).abs().max() > 0.1


# ---------------------------------------------------------------- jitter


def test_jitter_keeps_shape_and_dtype_and_zero_shift_is_identity():
    images = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8)
    assert jitter(images).shape == images.shape and jitter(images).dtype == torch.uint8
    assert torch.equal(jitter(images, max_shift=0), images)
    four_d = torch.rand(6, 2, 28, 28)
    assert jitter(four_d).shape == four_d.shape


def test_jitter_translates_each_image_by_at_most_two_pixels():
    n, y0, x0 = 400, 12, 15
    images = torch.zeros(n, 28, 28)
    images[:, y0, x0] = 0.8
    out = jitter(images, max_shift=2, generator=torch.Generator().manual_seed(0))
    bright = out.flatten(1).argmax(dim=1)
    dy, dx = bright // 28 - y0, bright % 28 - x0  # (n,) each
    assert torch.all(out.flatten(1).max(dim=1).values == 0.8)  # the pixel keeps its value
    assert torch.all((out != 0).flatten(1).sum(dim=1) == 1)  # and is the only one lit
    assert dy.abs().max() <= 2 and dx.abs().max() <= 2
    # every shift in {−2 … 2}² occurs, independently per image
    assert len(set(zip(dy.tolist(), dx.tolist()))) == 25


def test_jitter_is_a_translation_of_the_whole_image():
    torch.manual_seed(0)
    images = torch.rand(20, 1, 10, 12)
    out = jitter(images, max_shift=2)
    for image, shifted in zip(images[:, 0], out[:, 0]):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(shifted, _shift(image, dy, dx))
        ]
        assert len(matches) == 1


def _shift(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """out[y, x] = image[y − dy, x − dx], zero outside: a loop-free reference via roll + mask."""
    out = torch.roll(image, shifts=(dy, dx), dims=(0, 1))
    if dy > 0:
        out[:dy] = 0
    elif dy < 0:
        out[dy:] = 0
    if dx > 0:
        out[:, :dx] = 0
    elif dx < 0:
        out[:, dx:] = 0
    return out


def test_jitter_is_reproducible_with_a_generator():
    images = torch.rand(8, 28, 28)
    a = jitter(images, generator=torch.Generator().manual_seed(3))
    b = jitter(images, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)

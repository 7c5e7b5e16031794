"""The MNIST distillation experiment's training loop, on a tiny synthetic stand-in for MNIST."""

from __future__ import annotations

import torch
from synthetic import synthetic_mnist

from lessons_src.distill.mnist_experiment import RunConfig, count_errors, predict_logits, train
from lessons_src.distill.models import MLP


def tiny_data() -> dict[str, torch.Tensor]:
    return synthetic_mnist(512, 200)


def test_training_learns_and_counts_errors():
    data = tiny_data()
    torch.manual_seed(0)
    model = MLP([784, 32, 10])
    before = count_errors(model, data["test_x"], data["test_y"])
    history = train(model, data, RunConfig(epochs=3, batch_size=64, lr=3e-3, progress=False), "student")
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["test_errors"] == count_errors(model, data["test_x"], data["test_y"]) < before
    assert (predict_logits(model, data["test_x"]).argmax(1) != data["test_y"]).sum() == history[-1]["test_errors"]


def in_dataset(rows: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """(B,) True where a row of ``rows`` (B, 784) or (B, 28, 28) is one of ``images`` (N, 28, 28) exactly."""
    known = {image.numpy().tobytes() for image in images.reshape(len(images), -1)}
    return torch.tensor([row.numpy().tobytes() in known for row in rows.reshape(len(rows), -1)])


def training_inputs(model: MLP) -> list[torch.Tensor]:
    """Every batch ``model`` is given in training mode (evaluation batches are not recorded)."""
    seen = []
    model.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()) if module.training else None)
    return seen


def test_distillation_follows_the_teacher_trained_on_jittered_images():
    data = tiny_data()
    torch.manual_seed(0)
    teacher = MLP([784, 64, 10], dropout=0.2)
    teacher_seen = training_inputs(teacher)
    train(teacher, data, RunConfig(epochs=3, batch_size=64, lr=3e-3, progress=False), "teacher", augment=True)
    teacher_logits = predict_logits(teacher, data["train_x"])
    torch.manual_seed(1)
    student = MLP([784, 32, 10])
    student_seen = training_inputs(student)
    config = RunConfig(epochs=10, batch_size=64, lr=3e-3, temperature=4.0, alpha=1.0, progress=False)
    train(student, data, config, "distilled", teacher_logits=teacher_logits)
    # the teacher saw shifted copies (a zero shift, 1 draw in 25, leaves an image as it is) …
    assert len(teacher_seen) == 3 * (512 // 64)
    assert in_dataset(torch.cat(teacher_seen), data["train_x"]).float().mean() < 0.2
    # … the student the training images themselves
    assert len(student_seen) == 10 * (512 // 64)
    assert in_dataset(torch.cat(student_seen), data["train_x"]).all()
    agreement = (predict_logits(student, data["train_x"]).argmax(1) == teacher_logits.argmax(1)).float().mean()
    assert agreement > 0.9  # α = 1: the labels are never seen, only the teacher's soft targets

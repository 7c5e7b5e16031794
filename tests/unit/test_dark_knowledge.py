"""The dark-knowledge experiment's pieces: the transfer set really has no 3s, the bias fix is exact."""

from __future__ import annotations

import pytest
import torch
from synthetic import synthetic_mnist

from lessons_src.distill.dark_knowledge import bias_shift_errors, choose_bias_shift, errors_by_class, without_class
from lessons_src.distill.mnist_experiment import RunConfig, dark_knowledge_run


def test_transfer_set_drops_every_image_of_the_digit_and_keeps_logits_aligned():
    labels = torch.tensor([3, 1, 3, 0, 7, 3])
    data = {"train_x": torch.arange(6.0)[:, None], "train_y": labels}
    logits = torch.arange(60.0).view(6, 10)
    transfer, kept = without_class(data, 3, logits)
    assert 3 not in transfer["train_y"].tolist()
    assert transfer["train_x"].squeeze(1).tolist() == [1.0, 3.0, 4.0]  # the rows of labels 1, 0, 7
    assert torch.equal(kept, logits[[1, 3, 4]])
    with pytest.raises(ValueError, match="digit"):
        without_class(data, 10, logits)
    with pytest.raises(ValueError, match="teacher_logits"):
        without_class(data, 3, logits[:5])


def test_errors_by_class_counts_misclassified_images_per_true_class():
    logits = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    labels = torch.tensor([1, 2, 2, 0])  # right, wrong (2→0), right, wrong (0→1)
    assert errors_by_class(logits, labels, 3).tolist() == [1, 0, 1]


def test_bias_shift_turns_near_misses_into_the_digit_and_is_chosen_by_fewest_errors():
    # two images of class 1 whose class-1 logit trails class 0 by 0.5 and 2.0; one class-0 image leading by 1.0
    logits = torch.tensor([[0.5, 0.0], [2.0, 0.0], [1.0, 0.0]])
    labels = torch.tensor([1, 1, 0])
    shifts = torch.tensor([0.0, 0.75, 1.5, 2.5])
    # shift 0: both 1s wrong; 0.75: one fixed; 1.5: the 0 breaks (1.5 > 1.0), the second 1 still wrong; 2.5: only the 0 wrong
    assert bias_shift_errors(logits, labels, 1, shifts).tolist() == [2, 1, 2, 1]
    assert choose_bias_shift(logits, labels, 1, shifts) == 0.75  # the smallest shift among the best


def test_dark_knowledge_run_reports_the_digit_and_never_trains_on_it(monkeypatch):
    data = synthetic_mnist(512, 200)
    seen_labels = []
    import lessons_src.distill.mnist_experiment as experiment

    original = experiment.train

    def spy(model, data, config, name, augment=False, teacher_logits=None):
        seen_labels.append(data["train_y"].clone())
        return original(model, data, config, name, augment, teacher_logits)

    monkeypatch.setattr(experiment, "train", spy)
    teacher_logits = torch.nn.functional.one_hot(data["train_y"], 10).float() * 5
    config = RunConfig(epochs=1, batch_size=64, progress=False, omit_digit=3)
    report, _ = dark_knowledge_run(data, teacher_logits, config)
    assert 3 not in seen_labels[0].tolist()
    assert report["transfer_images"] == int((data["train_y"] != 3).sum())
    assert report["test_images_of_digit"] == int((data["test_y"] == 3).sum())
    assert report["test_errors_on_digit"] <= report["test_images_of_digit"]
    assert report["test_errors_after_shift"] <= 200 and report["bias_shift"] >= 0


def test_cli_teacher_and_dark_knowledge_only(monkeypatch, tmp_path):
    import json

    import lessons_src.distill.mnist_experiment as experiment
    from lessons_src.training.checkpoint import load_checkpoint

    monkeypatch.setattr(experiment, "mnist_tensors", lambda device: {k: v.to(device) for k, v in synthetic_mnist(512, 200).items()})
    output, logits = tmp_path / "dk.json", tmp_path / "logits.pt"
    experiment.main(["--epochs", "1", "--students", "", "--omit-digit", "3", "--device", "cpu", "--no-progress",
                     "--save-teacher-logits", str(logits), "--output", str(output)])
    report = json.loads(output.read_text())
    assert set(report["test_errors"]) == {"teacher"} and report["gap_closed"] is None
    assert set(report["results"]) == {"teacher", "without_3s"}
    assert report["results"]["without_3s"]["omitted_digit"] == 3
    saved = load_checkpoint(logits)["test_logits"]
    assert saved.shape == (200, 10) and saved.dtype == torch.float16
    with pytest.raises(SystemExit):
        experiment.main(["--students", "teacher", "--output", str(output)])

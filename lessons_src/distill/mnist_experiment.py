"""Hinton, Vinyals & Dean (2015) §3 on MNIST: a teacher, a student from scratch, a distilled student.

    python -m lessons_src.distill.mnist_experiment --epochs 50 --output results/distill/mnist_seed0.json

* teacher  784-1200-1200-10, dropout 0.5 (input 0.2), inputs jittered by up to 2 pixels;
* student  784-800-800-10, no regularisation, trained on the hard labels;
* distilled: the same student, trained on α·T²·KL(teacher_T ‖ student_T) + (1 − α)·CE with T = 20.

All three use Adam with a cosine learning-rate decay and the same number of epochs. Test errors
(out of 10,000) are logged after every epoch for the learning curves; the reported number is the
final epoch's — the test set never selects anything.

``--omit-digit 3`` adds the paper's dark-knowledge run: the distilled student trained on a transfer
set with every 3 removed, with the bias correction chosen on the training images
(:mod:`lessons_src.distill.dark_knowledge`).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..training.checkpoint import save_checkpoint
from ..training.device import evaluating, pick_device, seed_everything
from ..training.distributed import require_single_process
from ..training.loop import LoopConfig, Task, train_loop
from ..training.report import run_report, write_report
from ..data.mnist import mnist_tensors
from .dark_knowledge import choose_bias_shift, errors_by_class, without_class
from .losses import distillation_loss
from .models import MLP, jitter


@dataclass
class RunConfig:
    epochs: int = 50
    batch_size: int = 128
    lr: float = 1e-3
    temperature: float = 20.0
    alpha: float = 0.9
    seed: int = 0
    device: str | None = None
    progress: bool = True
    omit_digit: int | None = None  # also distil on a transfer set without this digit
    students: tuple[str, ...] = ("student", "distilled")  # which students to train after the teacher


def predict_logits(model: MLP, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """Logits (N, 10) in evaluation mode (no dropout)."""
    with evaluating(model):
        return torch.cat([model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])


def count_errors(model: MLP, images: torch.Tensor, labels: torch.Tensor) -> int:
    """Number of misclassified images."""
    return int((predict_logits(model, images).argmax(1) != labels).sum())


def train(
    model: MLP,
    data: dict[str, torch.Tensor],
    config: RunConfig,
    name: str,
    augment: bool = False,
    teacher_logits: torch.Tensor | None = None,
) -> list[dict]:
    """Train ``model``; with ``teacher_logits`` (N, 10) use the distillation loss, else cross-entropy."""
    require_single_process("distill.mnist_experiment")
    images, labels = data["train_x"], data["train_y"]
    device = images.device
    generator = torch.Generator(device=device).manual_seed(config.seed)
    steps_per_epoch = len(images) // config.batch_size  # full batches only
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs * steps_per_epoch)

    def batches(epoch: int):
        order = torch.randperm(len(images), generator=generator, device=device)
        for step in range(steps_per_epoch):
            batch = order[step * config.batch_size:(step + 1) * config.batch_size]
            x = jitter(images[batch], 2, generator) if augment else images[batch]  # (B, 28, 28)
            yield x, batch

    def loss(model: MLP, batch) -> torch.Tensor:
        x, rows = batch
        logits = model(x)  # (B, 10)
        if teacher_logits is None:
            return F.cross_entropy(logits, labels[rows])
        return distillation_loss(logits, teacher_logits[rows], labels[rows], config.temperature, config.alpha)

    def describe(record: dict) -> str:
        return f"{name:9s} epoch {record['epoch']:3d}  loss {record['loss']:.4f}  test errors {record['test_errors']}"

    # test errors after every epoch, for the learning curves; nothing is selected on them
    evaluate = lambda model: {"test_errors": count_errors(model, data["test_x"], data["test_y"])}  # noqa: E731
    task = Task(batches, loss, evaluate=evaluate, describe=describe, generators=[generator])
    loop = LoopConfig(config.epochs, eval_every=1, progress=config.progress, name=name, timing=None)
    return train_loop(model, optimizer, task, loop, scheduler=schedule, scheduler_per="step").history


STUDENT_SIZES = [784, 800, 800, 10]


def run(config: RunConfig) -> dict:
    """Teacher, student from scratch and distilled student; returns errors, histories and models."""
    device = pick_device(config.device)
    data = mnist_tensors(device)
    results, models = {}, {}
    plan = [("teacher", [784, 1200, 1200, 10], 0.5, 0.2), ("student", STUDENT_SIZES, 0.0, 0.0),
            ("distilled", STUDENT_SIZES, 0.0, 0.0)]
    for name, sizes, dropout, input_dropout in plan:
        if name != "teacher" and name not in config.students:
            continue
        torch.manual_seed(config.seed)
        model = MLP(sizes, dropout, input_dropout).to(device)
        teacher_logits = predict_logits(models["teacher"], data["train_x"]) if name == "distilled" else None
        began = time.perf_counter()
        history = train(model, data, config, name, augment=name == "teacher", teacher_logits=teacher_logits)
        results[name] = {"test_errors": history[-1]["test_errors"], "history": history,
                         "seconds": round(time.perf_counter() - began, 1)}
        models[name] = model
    if config.omit_digit is not None:
        teacher_logits = predict_logits(models["teacher"], data["train_x"])
        results[f"without_{config.omit_digit}s"], models["without"] = dark_knowledge_run(
            data, teacher_logits, config
        )
    return {"results": results, "models": models, "device": device, "data": data}


def dark_knowledge_run(data: dict[str, torch.Tensor], teacher_logits: torch.Tensor, config: RunConfig) -> tuple[dict, MLP]:
    """The distilled student on a transfer set without ``config.omit_digit``, before and after the bias fix."""
    digit = config.omit_digit
    transfer, transfer_logits = without_class(data, digit, teacher_logits)
    torch.manual_seed(config.seed)
    model = MLP(STUDENT_SIZES).to(teacher_logits.device)
    began = time.perf_counter()
    history = train(model, transfer, config, f"no {digit}s", teacher_logits=transfer_logits)
    seconds = round(time.perf_counter() - began, 1)
    test_logits = predict_logits(model, data["test_x"])
    shifts = torch.arange(0.0, 10.01, 0.25)
    # chosen on all 60,000 training images (3s included): never on the test set
    shift = choose_bias_shift(predict_logits(model, data["train_x"]), data["train_y"], digit, shifts)
    shifted = test_logits.clone()
    shifted[:, digit] += shift
    before, after = errors_by_class(test_logits, data["test_y"]), errors_by_class(shifted, data["test_y"])
    report = {
        "omitted_digit": digit,
        "transfer_images": len(transfer["train_y"]),
        "test_images_of_digit": int((data["test_y"] == digit).sum()),
        "test_errors": int(before.sum()),
        "test_errors_on_digit": int(before[digit]),
        "bias_shift": shift,
        "test_errors_after_shift": int(after.sum()),
        "test_errors_on_digit_after_shift": int(after[digit]),
        "paper": {"test_errors": 206, "test_errors_on_digit": 133, "bias_shift": 3.5,
                  "test_errors_after_shift": 109, "test_errors_on_digit_after_shift": 14},
        "history": history,
        "seconds": seconds,
    }
    return report, model


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Hinton et al. 2015's MNIST distillation experiment.")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--temperature", type=float, default=20.0)
    parser.add_argument("--alpha", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None)
    parser.add_argument("--omit-digit", type=int, default=None,
                        help="also distil on a transfer set without this digit (the paper's dark-knowledge test)")
    parser.add_argument("--students", default="student,distilled",
                        help="comma-separated students to train after the teacher (student, distilled; may be empty)")
    parser.add_argument("--save-teacher-logits", type=Path, default=None,
                        help="write the teacher's test-set logits (float16) for the chapter's widgets")
    parser.add_argument("--output", type=Path, default=Path("mnist_distillation.json"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.omit_digit is not None and not 0 <= args.omit_digit <= 9:
        parser.error(f"--omit-digit must lie in 0..9, got {args.omit_digit}")
    students = tuple(name for name in args.students.split(",") if name)
    if set(students) - {"student", "distilled"}:
        parser.error(f"--students may list student and distilled only, got {args.students!r}")
    config = RunConfig(args.epochs, args.batch_size, args.lr, args.temperature, args.alpha, args.seed,
                       args.device, not args.no_progress, args.omit_digit, students)
    began = time.perf_counter()
    seed_everything(config.seed)  # run() reseeds torch before each model; Python and NumPy here
    outcome = run(config)
    errors = {name: outcome["results"][name]["test_errors"] for name in ("teacher", *students)}
    if args.save_teacher_logits:
        logits = predict_logits(outcome["models"]["teacher"], outcome["data"]["test_x"]).cpu().half()
        save_checkpoint({"test_logits": logits, "command": "see " + str(args.output)}, args.save_teacher_logits)
    gap = errors["student"] - errors["teacher"] if {"student", "distilled"} <= set(students) else None
    report = run_report("lessons_src.distill.mnist_experiment", argv, config.seed, outcome["device"],
                        config.batch_size)
    report.update({
        "config": asdict(config),
        "test_errors": errors,
        "paper_test_errors": {"teacher": 67, "student": 146, "distilled": 74},
        "gap_closed": (errors["student"] - errors["distilled"]) / gap if gap and gap > 0 else None,
        "train_seconds": round(sum(result["seconds"] for result in outcome["results"].values()), 1),
        "results": outcome["results"],
    })
    report = write_report(report, began, args.output)
    print(f"test errors: {errors}  (paper: teacher 67, student 146, distilled 74); "
          f"gap closed: {report['gap_closed']}")
    return report


if __name__ == "__main__":
    main()

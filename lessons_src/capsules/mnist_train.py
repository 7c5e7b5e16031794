"""Train CapsNet on MNIST (Sabour, Frosst & Hinton 2017, §4) and count its test errors.

    python -m lessons_src.capsules.mnist_train --epochs 50 --seed 0 --output results/capsules/mnist_seed0.json

As in the paper: Adam, margin loss + 0.0005 × reconstruction error, 3 routing iterations, and training images
shifted by up to 2 pixels in each direction with zero padding; no other augmentation, no dropout.
The learning rate is multiplied by ``lr_decay`` = 0.96 after every epoch, as re-implementations
usually do (the authors' code decays by 0.96 every 2,000 steps, ≈ 0.99 per epoch at batch 128).
The test error counts all 10,000 test images after the last epoch (the test set selects nothing;
``--eval-every`` adds learning curves). The paper reports 0.25 % (±0.005) for this network.

From a notebook, a quick run on a subset:

    model, history = train(TrainConfig(epochs=1, train_subset=2000, test_subset=1000))
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..layers.augment import jitter
from ..training.checkpoint import save_checkpoint
from ..training.device import evaluating, make_generator, pick_device, seed_everything
from ..training.distributed import require_single_process
from ..training.loop import LoopConfig, Task, check_int, train_loop
from ..training.report import run_report, write_report
from ..training.results import load_compact_model, save_compact_model
from ..data.mnist import mnist_tensors
from .capsnet import CapsNet, CapsNetConfig
from .losses import capsnet_loss, check_labels
from .snapshot import save_snapshot

# Table 1 of the paper: test error (%) on MNIST, mean of 3 trials
PAPER_TEST_ERROR_PERCENT = {
    "baseline CNN": 0.39,
    "routing 1": 0.34,
    "routing 1 + reconstruction": 0.29,
    "routing 3": 0.35,
    "routing 3 + reconstruction": 0.25,
}


@dataclass
class TrainConfig:
    epochs: int = 50
    batch_size: int = 128
    lr: float = 1e-3
    lr_decay: float = 0.96  # multiplies the learning rate after every epoch
    max_shift: int = 2  # random translation of training images, pixels; 0 turns it off
    seed: int = 0
    train_subset: int | None = None  # a seeded random K of the 60,000 training images
    test_subset: int | None = None  # the first K of the 10,000 test images (quick runs only)
    eval_every: int = 0  # count test errors every this many epochs (0: after the last only, in main)
    eval_batch_size: int = 500
    device: str | None = None
    progress: bool = True

    def __post_init__(self):
        for name in ("epochs", "batch_size", "eval_batch_size"):
            check_int(name, getattr(self, name), 1)
        for name in ("max_shift", "seed", "eval_every"):
            check_int(name, getattr(self, name), 0)
        for name in ("train_subset", "test_subset"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not (isinstance(self.lr_decay, (int, float)) and 0 < self.lr_decay <= 1):
            raise ValueError(f"lr_decay must lie in (0, 1], got {self.lr_decay!r}")


def load_data(config: TrainConfig, device: torch.device) -> dict[str, torch.Tensor]:
    """MNIST on ``device`` (images float (N, 28, 28) in [0, 1], labels (N,)), cut to the subsets."""
    return take_subsets(mnist_tensors(device), config)


def take_subsets(data: dict[str, torch.Tensor], config: TrainConfig) -> dict[str, torch.Tensor]:
    """``config.train_subset`` random training images (seeded) and the first ``config.test_subset`` test images."""
    data = dict(data)
    n_train = len(data["train_x"])
    if config.train_subset is not None and config.train_subset < n_train:
        chosen = torch.randperm(n_train, generator=torch.Generator().manual_seed(config.seed))[:config.train_subset]
        chosen = chosen.to(data["train_x"].device)
        data["train_x"], data["train_y"] = data["train_x"][chosen], data["train_y"][chosen]
    if config.test_subset is not None:
        data["test_x"], data["test_y"] = data["test_x"][:config.test_subset], data["test_y"][:config.test_subset]
    return data


def predict_lengths(model: CapsNet, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Digit-capsule lengths (N, n_classes) in eval mode under no_grad, ``batch_size`` images at a time."""
    with evaluating(model):  # eval mode and torch.no_grad()
        return torch.cat([model(images[i:i + batch_size]).lengths for i in range(0, len(images), batch_size)])


def count_errors(model: CapsNet, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> int:
    """Misclassified images: the longest digit capsule is not the label's."""
    return int((predict_lengths(model, images, batch_size).argmax(dim=1) != labels).sum())


def train(config: TrainConfig, model_config: CapsNetConfig | None = None,
          data: dict[str, torch.Tensor] | None = None, model: CapsNet | None = None) -> tuple[CapsNet, list[dict]]:
    """Train a CapsNet (a new one from ``model_config``, or ``model``); returns it and one dict per epoch.

    ``data`` (keys train_x, train_y, test_x, test_y, as :func:`load_data` returns) is used as given;
    without it, :func:`load_data` reads MNIST and applies the subsets of ``config``. Every dict holds
    the epoch, its learning rate, the mean training losses, training errors (on shifted images, in
    training mode), seconds, and ``test_errors`` where the epoch was evaluated
    (``config.eval_every``), else None.
    """
    if model is not None and model_config is not None:
        raise ValueError("pass model_config (for a new model) or model (to train further), not both")
    require_single_process("capsules.mnist_train")
    seed_everything(config.seed)  # the initialisation below is seeded too
    device = pick_device(config.device)
    model = (model or CapsNet(model_config or CapsNetConfig())).to(device)
    data = data if data is not None else load_data(config, device)
    images, labels = data["train_x"].to(device), data["train_y"].to(device)
    check_labels(labels, len(labels), model.config.n_classes)
    generator = make_generator(config.seed, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.lr_decay)
    recon_weight = model.config.recon_weight

    def batches(epoch: int):
        order = torch.randperm(len(images), generator=generator, device=device)
        for start in range(0, len(images), config.batch_size):  # the last batch may be smaller
            batch = order[start:start + config.batch_size]
            x = jitter(images[batch], config.max_shift, generator) if config.max_shift else images[batch]
            yield x, labels[batch]  # (B, 28, 28), (B,)

    def loss(model: CapsNet, batch):
        x, y = batch
        output = model(x, y)
        loss = capsnet_loss(output, x, y, recon_weight)  # the decoder reconstructs the shifted image
        with torch.no_grad():
            errors = (output.lengths.argmax(dim=1) != y).sum()
            parts = torch.stack([loss.total, loss.margin, loss.reconstruction]).detach() * len(y)
        # Σ over images of the total, margin, reconstruction losses; errors
        return loss.total, torch.cat([parts, errors[None].to(parts.dtype)])

    def summarise(sums: torch.Tensor, steps: int) -> dict:
        *loss_sums, train_errors = sums.tolist()
        total, margin, reconstruction = (value / len(images) for value in loss_sums)
        return {"lr": optimizer.param_groups[0]["lr"], "loss": total, "margin_loss": margin,
                "reconstruction_loss": reconstruction, "train_errors": round(train_errors), "test_errors": None}

    def describe(entry: dict) -> str:
        tested = "" if entry["test_errors"] is None else f"  test errors {entry['test_errors']}"
        return f"epoch {entry['epoch']:3d}  loss {entry['loss']:.4f}  train errors {entry['train_errors']}{tested}"

    def evaluate(model: CapsNet) -> dict:  # learning curves only: the test set selects nothing
        return {"test_errors": count_errors(model, data["test_x"].to(device), data["test_y"].to(device),
                                            config.eval_batch_size)}

    task = Task(batches, loss, evaluate=evaluate, summarise=summarise, describe=describe, generators=[generator])
    loop = LoopConfig(config.epochs, config.eval_every, progress=config.progress, log=config.progress, timing="per_epoch")
    return model, train_loop(model, optimizer, task, loop, scheduler=schedule).history


def save_model(model: CapsNet, path: str | Path, compact: bool = True) -> Path:
    """Weights and config in one atomic checkpoint; ``compact`` stores the weights in float16 (half the size)."""
    config = asdict(model.config)
    if compact:
        return save_compact_model(model, config, path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return save_checkpoint({"config": config, "state": state}, path)


def load_model(path: str | Path, device: str | torch.device | None = None) -> CapsNet:
    """The CapsNet saved by :func:`save_model` (loaded with ``weights_only=True``), in eval mode."""
    config, state = load_compact_model(path)
    model = CapsNet(CapsNetConfig(**config))
    model.load_state_dict(state)
    return model.to(pick_device(device)).eval()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Sabour et al. 2017's CapsNet on MNIST.")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-decay", type=float, default=0.96)
    parser.add_argument("--max-shift", type=int, default=2)
    parser.add_argument("--train-subset", type=int, default=None)
    parser.add_argument("--test-subset", type=int, default=None, help="quick runs only: the first K test images")
    parser.add_argument("--eval-every", type=int, default=0)
    parser.add_argument("--eval-batch-size", type=int, default=500)
    parser.add_argument("--routing-iterations", type=int, default=3)
    parser.add_argument("--recon-weight", type=float, default=0.0005)
    parser.add_argument("--conv-channels", type=int, default=256, help="Conv1 channels (paper: 256)")
    parser.add_argument("--primary-types", type=int, default=32, help="PrimaryCaps capsule types (paper: 32)")
    parser.add_argument("--decoder-hidden", type=int, nargs=2, default=[512, 1024])
    parser.add_argument("--device", default=None)
    parser.add_argument("--output", type=Path, default=Path("results/capsules/mnist_seed0.json"))
    parser.add_argument("--save-model", type=Path, default=None)
    parser.add_argument("--save-float32", action="store_true", help="full-precision weights (default float16)")
    parser.add_argument("--save-snapshot", type=Path, default=None,
                        help="routing of the first --snapshot-images test images + the decoder, for the widgets")
    parser.add_argument("--snapshot-images", type=int, default=12)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    model_config = CapsNetConfig(conv_channels=args.conv_channels, primary_types=args.primary_types,
                                 routing_iterations=args.routing_iterations, recon_weight=args.recon_weight,
                                 decoder_hidden=tuple(args.decoder_hidden))
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, lr_decay=args.lr_decay,
                         max_shift=args.max_shift, seed=args.seed, train_subset=args.train_subset,
                         test_subset=args.test_subset, eval_every=args.eval_every,
                         eval_batch_size=args.eval_batch_size, device=args.device, progress=not args.no_progress)
    began = time.perf_counter()
    device = pick_device(config.device)
    data = load_data(config, device)
    model, history = train(config, model_config, data)
    if history[-1]["test_errors"] is None:
        evaluated = time.perf_counter()
        history[-1]["test_errors"] = count_errors(model, data["test_x"], data["test_y"], config.eval_batch_size)
        history[-1]["eval_seconds"] = round(time.perf_counter() - evaluated, 2)
    errors, n_test = history[-1]["test_errors"], len(data["test_y"])
    report = run_report("lessons_src.capsules.mnist_train", argv, config.seed, device, config.batch_size)
    report.update({
        "config": {"model": asdict(model_config), "train": asdict(config)},
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "n_train": len(data["train_y"]),
        "n_test": n_test,
        "train_seconds": round(sum(h["train_seconds"] for h in history), 1),
        "history": history,
        "test_errors": errors,
        "test_error_percent": 100.0 * errors / n_test,
        "paper_test_error_percent": PAPER_TEST_ERROR_PERCENT,
    })
    if args.save_model is not None:
        save_model(model, args.save_model, compact=not args.save_float32)
        report["model_path"] = str(args.save_model)
        if not args.save_float32:  # the number a reader gets from the committed float16 weights
            saved = load_model(args.save_model, device)
            report["saved_model_test_errors"] = count_errors(saved, data["test_x"], data["test_y"],
                                                             config.eval_batch_size)
    if args.save_snapshot is not None:
        n = min(args.snapshot_images, n_test)
        save_snapshot(model, data["test_x"][:n], data["test_y"][:n], args.save_snapshot)
        report["snapshot_path"] = str(args.save_snapshot)
    report = write_report(report, began, args.output)
    print(f"test errors: {errors} / {n_test} ({report['test_error_percent']:.2f} %); "
          f"paper: {PAPER_TEST_ERROR_PERCENT['routing 3 + reconstruction']} %")
    return report  # what the file holds (tuples become lists)


if __name__ == "__main__":
    main()

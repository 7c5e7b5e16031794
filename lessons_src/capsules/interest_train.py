"""Training a multi-interest model (MIND / ComiRec-DR), with model selection on validation data only.

    python -m lessons_src.capsules.interest_train --dataset games --epochs 25 --interests 4 \\
        --hidden 64 --bilinear per_position --logits-init zero --seed 0 \\
        --output results/capsules/games_comirec_seed0.json

Every ``--eval-every`` epochs the model ranks *all* items for (a fixed sample of 10,000)
validation users: the full protocol, ks 20 and 50, as ComiRec reports. The best state by
validation Recall@50 is kept and only that state is scored on the test targets, for every user.
With one held-out item per user, Recall@k = HR@k: the report lists both names.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..training.device import evaluating, make_generator, pick_device, seed_everything
from ..training.distributed import require_single_process
from ..training.loop import LoopConfig, LoopResult, Task, check_int, train_loop
from ..training.report import add_run_arguments, run_report, training_fields, write_report
from ..evaluation.ranking import RankingEvaluator, left_pad
from ..training.results import save_compact_model
from ..data import load_interactions, sequential_split
from ..data.split import SequentialSplit
from .interests import InterestConfig, MultiInterestModel

SELECTABLE = tuple(f"{name}@{k}" for name in ("Recall", "HR", "NDCG") for k in (20, 50))


class PrefixExamples:
    """Training pairs (history, next item): one per user per epoch, cut at a random position.

    For a user with training items s_1 … s_T, an epoch draws t uniformly from 1 … T−1 and asks
    for s_{t+1} after the last ``maxlen`` items of s_1 … s_t (left-padded), as ComiRec's data
    iterator does (it also insists on t ≥ 4; here one item of history is enough). Why not every
    t at once, as SASRec trains? Causal attention computes all prefixes in one pass, but routing
    clusters the whole history: each prefix is a separate forward, so all positions would make an
    epoch ~T times dearer with T highly correlated examples. Over epochs every cut is visited.
    """

    def __init__(self, train: Sequence[np.ndarray], maxlen: int, seed: int = 0, per_user: int = 1):
        """``per_user`` cuts of every user per epoch (independent draws; 1 = ComiRec's iterator)."""
        if not isinstance(per_user, int) or per_user < 1:
            raise ValueError(f"per_user must be an integer ≥ 1, got {per_user!r}")
        self.per_user = per_user
        lengths = np.array([len(items) for items in train])
        self.users = np.flatnonzero(lengths >= 2)
        if len(self.users) == 0:
            raise ValueError("no user has two or more training items; nothing to learn from")
        self.maxlen = maxlen
        self.lengths = lengths[self.users]  # (U,)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])  # (U,) offset of each user
        self.items = np.concatenate([np.asarray(train[u], dtype=np.int64) for u in self.users])
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.users) * self.per_user

    def epoch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """users (n,), histories (n, maxlen) left-padded, targets (n,), in a random order; n = U·per_user."""
        order = self.rng.permutation(len(self)) % len(self.users)
        start, length = self.starts[order], self.lengths[order]
        cut = self.rng.integers(1, length)  # t ∈ 1 … T−1 (0-based: the target is items[t])
        targets = self.items[start + cut]  # (U,)
        within = cut[:, None] - self.maxlen + np.arange(self.maxlen)  # (U, maxlen) index in the user's items
        gathered = self.items[start[:, None] + np.maximum(within, 0)]
        histories = np.where(within >= 0, gathered, 0)  # items before the cut, left-padded
        return self.users[order], histories, targets


@dataclass
class InterestTrainConfig:
    epochs: int = 5  # quick default for a notebook; the CLI run sets its own
    batch_size: int = 128
    # ComiRec takes 1e-3 for 10⁵–10⁶ steps; a CPU budget of a few thousand steps needs larger
    # ones: squash bounds |v| < 1, so the logits v·e sharpen only as fast as the embeddings grow
    # (after one Games epoch at 1e-3 the loss was 10.05, log N = 10.07)
    lr: float = 5e-3
    eval_every: int = 1
    cuts_per_user: int = 1  # training examples per user per epoch (PrefixExamples)
    eval_users: int | None = None  # validation users (None: all)
    select_by: str = "Recall@50"  # ComiRec selects by validation recall
    patience: int | None = None  # stop after this many evaluations without improvement
    seed: int = 0
    device: str | None = None
    progress: bool = True
    log: bool = True

    def __post_init__(self):
        for name in ("epochs", "batch_size", "eval_every"):
            check_int(name, getattr(self, name), 1)
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.select_by not in SELECTABLE:
            raise ValueError(f"select_by must be one of {SELECTABLE}, got {self.select_by!r}")


TrainResult = LoopResult  # .model .history .best .seconds


def with_recall(metrics: dict) -> dict:
    """Add Recall@k next to HR@k: with one relevant item per user they are the same number."""
    out = {}
    for key, value in metrics.items():
        out[key] = value
        if key.startswith("HR@"):
            out["Recall@" + key[3:]] = value
    return out


def fit(model: MultiInterestModel, split: SequentialSplit, config: InterestTrainConfig) -> TrainResult:
    """Train ``model`` on ``split.train``; keep the state with the best validation ``select_by``."""
    require_single_process("capsules.interest_train")
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    model.to(device)
    examples = PrefixExamples(split.train, model.config.maxlen, config.seed, config.cuts_per_user)
    generator = make_generator(config.seed, device)  # MIND's random initial routing logits
    validator = RankingEvaluator(
        split, "valid", "full", model.config.maxlen, max_users=config.eval_users, ks=(20, 50),
        seed=config.seed, device=device,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)

    def batches(epoch: int):
        _, histories, targets = examples.epoch()
        histories = torch.as_tensor(histories, device=device)  # (U, maxlen)
        targets = torch.as_tensor(targets, device=device)  # (U,)
        for start in range(0, len(targets), config.batch_size):
            yield histories[start:start + config.batch_size], targets[start:start + config.batch_size]

    def loss(model: MultiInterestModel, batch):
        histories, targets = batch
        value = model.loss(histories, targets, generator)
        return value, value.detach() * len(targets)  # summed over users: the last batch may be smaller

    def describe(record: dict) -> str | None:
        if "valid" in record:
            return f"epoch {record['epoch']:4d}  loss {record['loss']:.4f}  valid {format_metrics(record['valid'])}"
        return None

    task = Task(batches, loss, evaluate=lambda model: {"valid": with_recall(validator(model.score))},
                summarise=lambda total, steps: {"loss": float(total) / len(examples)}, describe=describe,
                generators=[examples.rng, generator])
    loop = LoopConfig(config.epochs, config.eval_every, "valid/" + config.select_by, config.patience,
                      config.progress, config.log)
    return train_loop(model, optimizer, task, loop)


def train(split: SequentialSplit, config: InterestTrainConfig | None = None,
          model: MultiInterestModel | None = None, **model_options) -> TrainResult:
    """A run from a notebook: ``train(split, InterestTrainConfig(epochs=3), bilinear="shared",
    logits_init="random")``. ``model_options`` go to ``InterestConfig`` when no model is given.
    Returns the selected model (in eval mode), the per-epoch history and the best validation record.
    """
    config = config or InterestTrainConfig()
    if model is None:
        model = MultiInterestModel(InterestConfig(split.n_items, **{"seed": config.seed, **model_options}))
    return fit(model, split, config)


@torch.no_grad()
def routing_table(model: MultiInterestModel, history: Sequence[int]) -> np.ndarray:
    """Couplings c_ij of one user's last ``maxlen`` items: (L, K), row i = how item i splits over
    the K interests (each row sums to 1). The deterministic serving routing, for a widget."""
    items = left_pad([np.asarray(history, dtype=np.int64)], model.config.maxlen)[0]
    real = int((items != 0).sum())
    if real == 0:
        raise ValueError("history must contain at least one item")
    histories = torch.as_tensor(items[None], device=next(model.parameters()).device)  # (1, maxlen)
    with evaluating(model):
        _, coupling = model(histories)  # (1, maxlen, K)
    return coupling[0, -real:].cpu().numpy()


def final_metrics(model, split: SequentialSplit, seed: int, device, sampled_users=10_000,
                  with_users: bool = False) -> dict:
    """Test metrics of the selected model: full protocol (ks 20, 50, all users) and, to compare
    with chapter 1, the sampled protocol (100 negatives, 10,000 users, ks 10, 20, 50).
    ``with_users``: the model's scorer also takes the user ids (MGNM)."""
    full = RankingEvaluator(split, "test", "full", model.config.maxlen, max_users=None, ks=(20, 50),
                            seed=seed, device=device)
    sampled = RankingEvaluator(split, "test", "sampled", model.config.maxlen, max_users=sampled_users,
                               ks=(10, 20, 50), seed=seed, device=device)
    with evaluating(model):
        return {"test/full": with_recall(full(model.score, with_users=with_users)),
                "test/sampled": with_recall(sampled(model.score, with_users=with_users))}


def format_metrics(metrics: dict) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                     if k not in ("users", "instances") and not k.startswith("HR@"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Train MIND / ComiRec-DR and write its metrics to a JSON file.")
    parser.add_argument("--dataset", default="games", choices=["games", "ml-100k", "ml-1m"])
    parser.add_argument("--maxlen", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--interests", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=3, help="routing iterations")
    parser.add_argument("--bilinear", default="per_position", choices=["shared", "per_position"])
    parser.add_argument("--logits-init", default="zero", choices=["zero", "random"])
    parser.add_argument("--logits-std", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--cuts-per-user", type=int, default=1, help="training examples per user per epoch")
    parser.add_argument("--eval-users", type=int, default=10_000, help="validation users, 0 = all")
    parser.add_argument("--select-by", default="Recall@50", choices=SELECTABLE)
    return add_run_arguments(parser, "interest_metrics.json")


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    began = time.perf_counter()
    split = sequential_split(load_interactions(args.dataset))
    seed_everything(args.seed)  # before the model is built
    model = MultiInterestModel(
        InterestConfig(
            split.n_items, args.maxlen, args.hidden, args.interests, args.iterations, args.bilinear,
            args.logits_init, args.logits_std, seed=args.seed,
        )
    )
    config = InterestTrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, eval_every=args.eval_every,
        cuts_per_user=args.cuts_per_user,
        eval_users=args.eval_users or None, select_by=args.select_by, patience=args.patience,
        seed=args.seed, device=args.device, progress=not args.no_progress,
    )
    result = fit(model, split, config)
    device = next(model.parameters()).device
    report = run_report("lessons_src.capsules.interest_train", argv, args.seed, device, config.batch_size)
    report.update({
        "dataset": args.dataset,
        "model": model.config.to_dict(),
        **training_fields(config, result),
        "metrics": final_metrics(model, split, args.seed, device),
        "notes": "one held-out item per user: Recall@k = HR@k. full = rank among all unseen items; "
                 "sampled = among 100 random unseen items (chapter 1's protocol).",
    })
    if args.save_model:
        save_compact_model(model, model.config.to_dict(), args.save_model)
    report = write_report(report, began, args.output)
    print(f"test (full)    {format_metrics(report['metrics']['test/full'])}")
    print(f"test (sampled) {format_metrics(report['metrics']['test/sampled'])}")
    return report


if __name__ == "__main__":
    main()

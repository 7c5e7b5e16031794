"""Training MGNM with the toolkit's loop (``training.loop``), under either of the chapter's protocols.

    python -m lessons_src.mgnm.train --dataset ml-100k --epochs 20 --seed 0 \
        --output results/mgnm/ml-100k_seed0.json
    python -m lessons_src.mgnm.train --dataset toys --protocol time-ordered --epochs 20 --seed 0
    # the public code's choices, one at a time: --edge-form plain, --non-iterative,
    # --shared-gcn-weights, --no-time-order, --public-code-reshape; sizes: --levels, --interests

Examples are chapter 3's: ``--cuts-per-user`` random cuts of every user's training part per epoch
(history, next item). Each target gets ``--negatives`` items drawn uniformly from the catalogue, as
in the public code, and the loss is the sigmoid cross-entropy of ``MGNM.loss`` summed over levels
(+ the L1 term on the adjacency). L2 on the weights is decoupled weight decay (AdamW); the public
code's coupled form — λ‖w‖²/2 added to the loss, which Adam rescales into steps of about the
learning rate for every weight whose loss gradient is small, so that the embeddings of items absent
from a batch shrink towards 0 at every step — is ``--coupled-l2``.

Protocols (``--protocol``):
- ``leave-one-out`` (chapters 1 and 3): every ``--eval-every`` epochs all items are ranked for the
  validation users (Recall/NDCG@20 and @50); the best state is scored on the test targets, full
  ranking and 100 sampled negatives;
- ``time-ordered`` (the public code's, with its unused 10 % as the validation set): each user's first
  70 % trains, the next 10 % validates, the last 20 % tests; every position is an instance ranked
  against 100 sampled negatives (HIT@5, NDCG@5, MRR, GAUC; ``evaluation.instances``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import torch

from ..capsules.interest_train import PrefixExamples, format_metrics, final_metrics, with_recall
from ..data import load_interactions, sequential_split, time_ordered_split
from ..data.split import ChronologicalSplit, SequentialSplit
from ..evaluation.instances import InstanceEvaluator
from ..evaluation.ranking import RankingEvaluator
from ..training.device import evaluating, make_generator, pick_device, seed_everything
from ..training.distributed import require_single_process
from ..training.loop import LoopConfig, LoopResult, Task, check_int, train_loop
from ..training.report import add_run_arguments, run_report, training_fields, write_report
from ..training.results import save_compact_model
from .model import MGNM, MGNMConfig

PROTOCOLS = ("leave-one-out", "time-ordered")
SELECTABLE = {"leave-one-out": tuple(f"{name}@{k}" for name in ("Recall", "NDCG") for k in (20, 50)),
              "time-ordered": ("NDCG@5", "HIT@5", "MRR", "GAUC")}


@dataclass
class MGNMTrainConfig:
    epochs: int = 20
    batch_size: int = 128
    lr: float = 5e-3  # chapter 3's rate for a CPU budget of a few thousand steps
    l2: float = 1e-5  # the public code's L2 on all weights
    coupled_l2: bool = False  # True: the public code's L2 in the loss (Adam's weight_decay); False: AdamW
    negatives: int = 5  # uniform negatives per target, as in the public code
    cuts_per_user: int = 1  # training examples per user per epoch
    protocol: str = "leave-one-out"
    eval_every: int = 5
    eval_users: int | None = None
    select_by: str | None = None  # None: Recall@50 (leave-one-out), NDCG@5 (time-ordered)
    patience: int | None = None
    seed: int = 0
    device: str | None = None
    progress: bool = True
    log: bool = True

    def __post_init__(self):
        for name in ("epochs", "batch_size", "eval_every", "negatives", "cuts_per_user"):
            check_int(name, getattr(self, name), 1)
        if not self.lr > 0 or self.l2 < 0:
            raise ValueError(f"lr must be > 0 and l2 ≥ 0, got lr={self.lr}, l2={self.l2}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if self.select_by is None:
            self.select_by = SELECTABLE[self.protocol][0 if self.protocol == "time-ordered" else 1]
        if self.select_by not in SELECTABLE[self.protocol]:
            raise ValueError(f"select_by must be one of {SELECTABLE[self.protocol]} for the {self.protocol} "
                             f"protocol, got {self.select_by!r}")


def make_split(dataset: str, protocol: str) -> SequentialSplit | ChronologicalSplit:
    """The dataset under a protocol: leave-last-two-out, or each user's 70 / 10 / 20 % in time order."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    data = load_interactions(dataset)
    return sequential_split(data) if protocol == "leave-one-out" else time_ordered_split(data)


def validation(split, config: MGNMTrainConfig, maxlen: int, device):
    """The model-selection metric's evaluator: a scorer → metrics dict."""
    if config.protocol == "time-ordered":
        evaluator = InstanceEvaluator(split, "valid", maxlen, seed=config.seed, device=device)
        return lambda model: evaluator(model.score)
    evaluator = RankingEvaluator(split, "valid", "full", maxlen, max_users=config.eval_users,
                                 ks=(20, 50), seed=config.seed, device=device)
    return lambda model: with_recall(evaluator(model.score, with_users=True))


def test_metrics(model: MGNM, split, config: MGNMTrainConfig, device) -> dict:
    """Test metrics of the selected model under the run's protocol."""
    if config.protocol == "leave-one-out":
        return final_metrics(model, split, config.seed, device, with_users=True)
    evaluator = InstanceEvaluator(split, "test", model.config.maxlen, seed=config.seed, device=device)
    with evaluating(model):
        return {"test/instances": evaluator(model.score)}


def fit(model: MGNM, split: SequentialSplit | ChronologicalSplit, config: MGNMTrainConfig) -> LoopResult:
    """Train ``model`` on ``split.train``; keep the state with the best validation ``select_by``."""
    require_single_process("mgnm.train")
    expected = SequentialSplit if config.protocol == "leave-one-out" else ChronologicalSplit
    if not isinstance(split, expected):
        raise TypeError(f"the {config.protocol} protocol needs a {expected.__name__} (make_split), "
                        f"got {type(split).__name__}")
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    model.to(device)
    examples = PrefixExamples(split.train, model.config.maxlen, config.seed, config.cuts_per_user)
    generator = make_generator(config.seed, device)  # negatives and the random initial routing logits
    validator = validation(split, config, model.config.maxlen, device)
    optimizer = (torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.l2) if config.coupled_l2
                 else torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.l2))

    def batches(epoch: int):
        users, histories, targets = examples.epoch()
        users, histories, targets = (torch.as_tensor(x, device=device) for x in (users, histories, targets))
        for start in range(0, len(targets), config.batch_size):
            rows = slice(start, start + config.batch_size)
            yield users[rows], histories[rows], targets[rows]

    def loss(model: MGNM, batch):
        users, histories, targets = batch
        negatives = torch.randint(1, model.config.n_items + 1, (len(targets), config.negatives),
                                  generator=generator, device=device)
        value = model.loss(histories, users, targets, negatives, generator)
        return value, value.detach() * len(targets)

    def describe(record: dict) -> str | None:
        if "valid" in record:
            return f"epoch {record['epoch']:4d}  loss {record['loss']:.4f}  valid {format_metrics(record['valid'])}"
        return None

    task = Task(batches, loss,
                evaluate=lambda model: {"valid": validator(model)},
                summarise=lambda total, steps: {"loss": float(total) / len(examples)}, describe=describe,
                generators=[examples.rng, generator])
    loop = LoopConfig(config.epochs, config.eval_every, "valid/" + config.select_by, config.patience,
                      config.progress, config.log)
    return train_loop(model, optimizer, task, loop)


def train(split: SequentialSplit | ChronologicalSplit, config: MGNMTrainConfig | None = None, **model_options) -> LoopResult:
    """From a notebook: ``train(split, MGNMTrainConfig(epochs=20), levels=1, edge_form="plain")``;
    the config's ``protocol`` must match the split (``make_split``)."""
    config = config or MGNMTrainConfig()
    model = MGNM(MGNMConfig(split.n_items, split.n_users, **{"seed": config.seed, **model_options}))
    return fit(model, split, config)


NOTES = {
    "leave-one-out": "leave-one-out split of chapter 1; one held-out item per user: Recall@k = HR@k. full = rank "
                     "among all unseen items; sampled = among 100 random unseen items.",
    "time-ordered": "each user's first 70 % trains, next 10 % validates (model selection), last 20 % tests; every "
                    "test position is an instance ranked against 100 sampled unseen items; GAUC and pooled@5 pool "
                    "a user's instances into one list as the public code does.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Train MGNM and write its metrics to a JSON file.")
    parser.add_argument("--dataset", default="ml-100k", choices=["ml-100k", "games", "ml-1m", "toys"])
    parser.add_argument("--protocol", default="leave-one-out", choices=PROTOCOLS)
    parser.add_argument("--maxlen", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--interests", type=int, default=4)
    parser.add_argument("--levels", type=int, default=3, help="convolved levels (plus the raw one)")
    parser.add_argument("--edge-form", default="user_aware", choices=["user_aware", "plain"])
    parser.add_argument("--keep-per-row", type=int, default=None, help="sparsify the item graph")
    parser.add_argument("--non-iterative", action="store_true", help="the public code's one-hop levels")
    parser.add_argument("--shared-gcn-weights", action="store_true", help="its first release")
    parser.add_argument("--no-time-order", action="store_true", help="routing without the BiLSTM")
    parser.add_argument("--public-code-reshape", action="store_true", help="the BiLSTM with its reshapes")
    parser.add_argument("--readout", default="attention", choices=["attention", "hard"])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--l2", type=float, default=1e-5)
    parser.add_argument("--coupled-l2", action="store_true", help="the public code's L2 in the loss (Adam)")
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--cuts-per-user", type=int, default=1, help="training examples per user per epoch")
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--eval-users", type=int, default=10_000, help="validation users, 0 = all")
    parser.add_argument("--select-by", default=None, choices=sorted({m for ms in SELECTABLE.values() for m in ms}),
                        help="default: Recall@50 (leave-one-out), NDCG@5 (time-ordered)")
    return add_run_arguments(parser, "mgnm_metrics.json")


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    began = time.perf_counter()
    split = make_split(args.dataset, args.protocol)
    seed_everything(args.seed)  # before the model is built
    model = MGNM(MGNMConfig(
        split.n_items, split.n_users, maxlen=args.maxlen, hidden=args.hidden, n_interests=args.interests,
        levels=args.levels, edge_form=args.edge_form, keep_per_row=args.keep_per_row,
        iterative_gcn=not args.non_iterative, shared_gcn_weights=args.shared_gcn_weights,
        time_order=not args.no_time_order, public_code_reshape=args.public_code_reshape, readout=args.readout,
        seed=args.seed))
    config = MGNMTrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, l2=args.l2, coupled_l2=args.coupled_l2,
        negatives=args.negatives,
        cuts_per_user=args.cuts_per_user, protocol=args.protocol,
        eval_every=args.eval_every, eval_users=args.eval_users or None, select_by=args.select_by,
        patience=args.patience, seed=args.seed, device=args.device, progress=not args.no_progress)
    result = fit(model, split, config)
    device = next(model.parameters()).device
    report = run_report("lessons_src.mgnm.train", argv, args.seed, device, config.batch_size)
    report.update({
        "dataset": args.dataset,
        "model": model.config.to_dict(),
        **training_fields(config, result),
        "protocol": args.protocol,
        "metrics": test_metrics(model, split, config, device),
        "notes": NOTES[args.protocol],
    })
    if args.save_model:
        save_compact_model(model, model.config.to_dict(), args.save_model)
    report = write_report(report, began, args.output)
    for name, metrics in report["metrics"].items():
        print(f"{name:<16} {format_metrics(metrics)}")
    return report


if __name__ == "__main__":
    main()

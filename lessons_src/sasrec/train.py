"""Training SASRec, with model selection on validation data only.

    python -m lessons_src.sasrec.train --dataset games --epochs 200 --output results/games.json

Every ``--eval-every`` epochs the model is scored on the *validation* targets; the best state by
validation NDCG@10 is kept, and only that state is scored on the test targets at the end.
Checkpoints are atomic and resumable (``--checkpoint path --resume``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..training import distributed
from ..training.device import pick_device, seed_everything
from ..training.loop import LoopConfig, LoopResult, Task, train_loop
from ..training.report import add_run_arguments, run_report, training_fields, write_report
from ..evaluation.instances import InstanceEvaluator
from ..evaluation.ranking import RankingEvaluator
from ..training.results import save_compact_model
from ..data import load_interactions, sequential_split
from ..data.split import ChronologicalSplit, SequentialSplit
from .losses import LOSSES, LossConfig, sasrec_objective
from .model import SASRec, SASRecConfig
from .sampler import BatchSampler


@dataclass
class TrainConfig:
    epochs: int = 200
    batch_size: int = 128  # examples per optimizer step, all ranks together
    lr: float = 1e-3
    beta2: float = 0.98
    l2_emb: float = 0.0  # TensorFlow's l2_regularizer(l2_emb) on the item and position tables
    loss: LossConfig = field(default_factory=LossConfig)  # "bce" (the authors'), "ce", "sampled", "gbce"
    eval_every: int = 20
    eval_users: int | None = 10_000
    patience: int | None = None  # stop after this many evaluations without improvement
    seed: int = 0
    device: str | None = None
    progress: bool = True  # tqdm bars over the steps of each epoch
    log: bool = True  # one line per validation


TrainResult = LoopResult  # .model .history .best .seconds


def embedding_l2(model: SASRec, l2_emb: float) -> torch.Tensor:
    """The authors' regulariser: ``tf.contrib.layers.l2_regularizer(l2_emb)`` on the item table M and
    the position table P (kang205/SASRec, ``modules.embedding``), i.e.

        l2_emb · (Σ M² + Σ P²) / 2
    """
    squares = model.item_embedding.weight.square().sum() + model.position_embedding.weight.square().sum()
    return l2_emb * squares / 2


def validation(split: SequentialSplit | ChronologicalSplit, history_len: int, eval_users: int | None, seed: int,
               device) -> Callable[[SASRec], dict]:
    """``model → {"valid": {"HR@10", "NDCG@10", …}}`` with 100 sampled negatives, for either split the
    evaluation layer knows: leave-last-two-out (one validation item per user, ``RankingEvaluator``)
    or time-ordered (every validation position of every user, ``InstanceEvaluator``)."""
    if isinstance(split, ChronologicalSplit):
        instances = InstanceEvaluator(split, "valid", history_len, n_negatives=100, k=10, seed=seed, device=device)

        def by_instance(model: SASRec) -> dict:
            metrics = instances(lambda histories, candidates, users: model.score(histories, candidates))
            return {"valid": {"HR@10": metrics["HIT@10"], "NDCG@10": metrics["NDCG@10"],
                              "instances": metrics["instances"]}}
        return by_instance
    if not isinstance(split, SequentialSplit):
        raise TypeError(f"split: expected a SequentialSplit or a ChronologicalSplit, got {type(split).__name__}")
    users = RankingEvaluator(split, "valid", "sampled", history_len, max_users=eval_users, seed=seed, device=device)
    return lambda model: {"valid": users(model.score)}


def fit(
    model: SASRec,
    split: SequentialSplit | ChronologicalSplit,
    config: TrainConfig,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    loss_fn: Callable[..., torch.Tensor] | None = None,
) -> TrainResult:
    """Train ``model`` on ``split.train``; select the best epoch by validation NDCG@10 (sampled), for a
    leave-last-two-out or a time-ordered split (:func:`validation`).

    ``loss_fn(model, users, seq, pos, neg) -> loss`` replaces SASRec's own loss (chapter 2's ranking
    distillation adds a term to it); ``users`` (B,) are the batch's user ids. Under torchrun every
    rank draws ``batch_size / world_size`` examples per step from its own stream.
    """
    world, device = distributed.setup(pick_device(config.device))
    seed_everything(distributed.stream_seed(config.seed, world.rank))  # dropout's stream
    model.to(device)
    validate = validation(split, model.config.maxlen, config.eval_users, config.seed, device)
    sampler = BatchSampler(
        split.train, split.n_items, model.config.maxlen,
        distributed.per_rank_batch_size(config.batch_size, world.world_size), device,
        distributed.stream_seed(config.seed, world.rank), ranks=world.world_size,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, config.beta2), fused=True)

    def batches(epoch: int):
        users, seqs, positives, negatives = sampler.sample(len(sampler))  # the epoch's batches at once
        return zip(users, seqs, positives, negatives)

    def loss(model: SASRec, batch) -> torch.Tensor:
        users, seq, pos, neg = batch
        if loss_fn is None:  # negatives of "sampled" and "gbce" come from the sampler's stream
            value = sasrec_objective(model, seq, pos, neg, config.loss, sampler.generator)
        else:
            value = loss_fn(model, users, seq, pos, neg)
        return value + embedding_l2(model, config.l2_emb) if config.l2_emb else value

    task = Task(batches, loss, evaluate=validate,
                generators=[sampler.generator])
    loop = LoopConfig(config.epochs, config.eval_every, "valid/NDCG@10", config.patience, config.progress,
                      config.log)
    return train_loop(model, optimizer, task, loop, checkpoint=checkpoint, resume=resume,
                      extra_state={"config": model.config.to_dict()})


def _fmt(metrics: dict) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k != "users")


def evaluate_all(score, split: SequentialSplit, history_len: int, seed: int, device, eval_users=10_000) -> dict:
    """Test (and validation) metrics under both protocols, for a trained model or a baseline."""
    out = {}
    for stage in ("valid", "test"):
        for protocol in ("sampled", "full"):
            evaluator = RankingEvaluator(
                split, stage, protocol, history_len, max_users=eval_users if protocol == "sampled" else None,
                ks=(10, 20, 50), seed=seed, device=device,
            )
            out[f"{stage}/{protocol}"] = evaluator(score)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Train SASRec and write its metrics to a JSON file.")
    parser.add_argument("--dataset", default="games", choices=["games", "ml-100k", "ml-1m"])
    parser.add_argument("--maxlen", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=50)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--heads", type=int, default=1)
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--block-layout", default="official", choices=["official", "port", "pre_ln"])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--l2-emb", type=float, default=0.0,
                        help="weight of the authors' L2 penalty l2_emb·(ΣM² + ΣP²)/2 on the item and position tables")
    losses = LossConfig()
    parser.add_argument("--loss", default=losses.kind, choices=LOSSES,
                        help="bce: one negative (the authors'); ce: full softmax; sampled: sampled softmax; "
                             "gbce: gSASRec's calibrated BCE (lessons_src/sasrec/losses.py)")
    parser.add_argument("--negatives", type=int, default=losses.negatives, help="K negatives of sampled and gbce")
    parser.add_argument("--calibration", type=float, default=losses.calibration, help="gSASRec's t, for gbce")
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--eval-users", type=int, default=10_000, help="0 = all users")
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--resume", action="store_true")
    return add_run_arguments(parser, "sasrec_metrics.json")


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    began = time.perf_counter()
    world, device = distributed.setup(pick_device(args.device))
    split = sequential_split(load_interactions(args.dataset))
    seed_everything(args.seed)  # before the model is built: the seed fixes the initial weights too
    model = SASRec(
        SASRecConfig(
            split.n_items, args.maxlen, args.hidden, args.blocks, args.heads, args.dropout, args.block_layout
        )
    )
    eval_users = args.eval_users or None
    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, l2_emb=args.l2_emb,
        loss=LossConfig(kind=args.loss, negatives=args.negatives, calibration=args.calibration),
        eval_every=args.eval_every,
        eval_users=eval_users, patience=args.patience, seed=args.seed, device=str(device),
        progress=not args.no_progress,
    )
    try:
        result = fit(model, split, config, args.checkpoint, args.resume)
        report = run_report("lessons_src.sasrec.train", argv, args.seed, device, config.batch_size)
        if not world.is_main:  # rank 0 scores the selected model and writes the files
            return report
        report.update({
            "dataset": args.dataset,
            "model": model.config.to_dict(),
            **training_fields(config, result),
            "metrics": evaluate_all(model.score, split, model.config.maxlen, args.seed, device, eval_users),
        })
        if args.save_model:
            save_compact_model(model, model.config.to_dict(), args.save_model)
        report = write_report(report, began, args.output)
    finally:
        distributed.teardown()
    print(f"test (sampled) {_fmt(report['metrics']['test/sampled'])}")
    print(f"test (full)    {_fmt(report['metrics']['test/full'])}")
    return report


if __name__ == "__main__":
    main()

"""Training SASRec, with model selection on validation data only.

    python -m lessons_src.sasrec.train --dataset games --epochs 200 --output results/games.json

Every ``--eval-every`` epochs the model is scored on the *validation* targets; the best state by
validation NDCG@10 is kept, and only that state is scored on the test targets at the end.
Checkpoints are atomic and resumable (``--checkpoint path --resume``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..training.checkpoint import load_checkpoint, save_checkpoint
from ..training.device import describe_hardware, pick_device
from ..evaluation.ranking import RankingEvaluator
from ..training.results import save_compact_model
from ..data import load_interactions, sequential_split
from ..data.split import SequentialSplit
from .model import SASRec, SASRecConfig, sasrec_loss
from .sampler import BatchSampler


@dataclass
class TrainConfig:
    epochs: int = 200
    batch_size: int = 128
    lr: float = 1e-3
    beta2: float = 0.98
    l2_emb: float = 0.0
    eval_every: int = 20
    eval_users: int | None = 10_000
    patience: int | None = None  # stop after this many evaluations without improvement
    seed: int = 0
    device: str | None = None
    progress: bool = True  # tqdm bars over the steps of each epoch
    log: bool = True  # one line per validation


@dataclass
class TrainResult:
    model: SASRec
    history: list[dict] = field(default_factory=list)
    best: dict = field(default_factory=dict)
    seconds: float = 0.0


def fit(
    model: SASRec,
    split: SequentialSplit,
    config: TrainConfig,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    loss_fn: Callable[..., torch.Tensor] | None = None,
) -> TrainResult:
    """Train ``model`` on ``split.train``; select the best epoch by validation NDCG@10 (sampled).

    ``loss_fn(model, users, seq, pos, neg) -> loss`` replaces SASRec's own loss (chapter 2's ranking
    distillation adds a term to it); ``users`` (B,) are the batch's user ids.
    """
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    model.to(device)
    sampler = BatchSampler(split.train, split.n_items, model.config.maxlen, config.batch_size, device, config.seed)
    validator = RankingEvaluator(
        split, "valid", "sampled", model.config.maxlen, max_users=config.eval_users, seed=config.seed, device=device
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, config.beta2), fused=True)
    result, start_epoch, best_state = TrainResult(model), 1, None
    if resume and checkpoint and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint, device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        sampler.generator.set_state(state["sampler_rng"].cpu())  # generator states live on the CPU
        torch.set_rng_state(state["torch_rng"].cpu())
        if device.type == "cuda" and state.get("cuda_rng") is not None:  # dropout draws from it
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), device)
        result.history, result.best, best_state = state["history"], state["best"], state["best_model"]
        result.seconds, start_epoch = state["seconds"], state["epoch"] + 1

    model.check_inputs = False  # the sampler's batches are valid by construction
    for epoch in range(start_epoch, config.epochs + 1):
        began = time.perf_counter()
        model.train()
        total = torch.zeros((), device=device)  # summed on the device: no sync per step
        users, seqs, positives, negatives = sampler.sample(len(sampler))  # the epoch's batches at once
        steps = tqdm(range(len(sampler)), desc=f"epoch {epoch}", disable=not config.progress, leave=False)
        for step in steps:
            seq, pos, neg = seqs[step], positives[step], negatives[step]
            if loss_fn is None:
                pos_logits, neg_logits = model(seq, pos, neg)
                loss = sasrec_loss(pos_logits, neg_logits, pos)
            else:
                loss = loss_fn(model, users[step], seq, pos, neg)
            if config.l2_emb:
                loss = loss + config.l2_emb * model.item_embedding.weight.square().sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        record = {"epoch": epoch, "loss": float(total) / len(sampler)}
        result.seconds += time.perf_counter() - began
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            model.eval()
            record["valid"] = validator(model.score)
            if not result.best or record["valid"]["NDCG@10"] > result.best["valid"]["NDCG@10"]:
                result.best = {"epoch": epoch, "valid": record["valid"]}
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if config.log:
                tqdm.write(f"epoch {epoch:4d}  loss {record['loss']:.4f}  valid {_fmt(record['valid'])}")
        record["seconds"] = round(result.seconds, 2)
        result.history.append(record)
        if checkpoint:
            save_checkpoint(
                {
                    "model": model.state_dict(),
                    "best_model": best_state,
                    "optimizer": optimizer.state_dict(),
                    "sampler_rng": sampler.generator.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                    "epoch": epoch,
                    "history": result.history,
                    "best": result.best,
                    "seconds": result.seconds,
                    "config": model.config.to_dict(),
                },
                checkpoint,
            )
        evaluations = [r for r in result.history if "valid" in r]
        if config.patience and len(evaluations) > config.patience:
            if all(r["epoch"] != result.best["epoch"] for r in evaluations[-config.patience:]):
                break
    model.check_inputs = True
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return result


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
    parser.add_argument("--block-layout", default="official", choices=["official", "pre_ln"])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--eval-users", type=int, default=10_000, help="0 = all users")
    parser.add_argument("--patience", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--output", type=Path, default=Path("sasrec_metrics.json"))
    parser.add_argument("--save-model", type=Path, default=None,
                        help="also write the selected model as a compact float16 checkpoint")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    split = sequential_split(load_interactions(args.dataset))
    model = SASRec(
        SASRecConfig(
            split.n_items, args.maxlen, args.hidden, args.blocks, args.heads, args.dropout, args.block_layout
        )
    )
    eval_users = args.eval_users or None
    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, eval_every=args.eval_every,
        eval_users=eval_users, patience=args.patience, seed=args.seed, device=args.device,
        progress=not args.no_progress,
    )
    began = time.perf_counter()
    result = fit(model, split, config, args.checkpoint, args.resume)
    device = next(model.parameters()).device
    report = {
        "command": "python -m lessons_src.sasrec.train " + " ".join(argv if argv is not None else sys.argv[1:]),
        "dataset": args.dataset,
        "seed": args.seed,
        "hardware": describe_hardware(device),
        "torch": torch.__version__,
        "model": model.config.to_dict(),
        "train": asdict(config),
        "train_seconds": round(result.seconds, 1),
        "best": result.best,
        "history": result.history,
        "metrics": evaluate_all(model.score, split, model.config.maxlen, args.seed, device, eval_users),
        "wall_seconds": round(time.perf_counter() - began, 1),
    }
    if args.save_model:
        save_compact_model(model, model.config.to_dict(), args.save_model)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"test (sampled) {_fmt(report['metrics']['test/sampled'])}")
    print(f"test (full)    {_fmt(report['metrics']['test/full'])}")
    return report


if __name__ == "__main__":
    main()

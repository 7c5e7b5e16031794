"""Ranking distillation on Games: SASRec teacher (d = 50) → small student, against the student from scratch.

    python -m lessons_src.distill.rank_experiment --teacher results/sasrec/games_seed0_model.pt \\
        --hidden 16 --epochs 150 --output results/distill/games_ranking_distillation.json

The teacher is chapter 1's trained model (loaded, frozen). Two students with the same architecture,
seed, sampler and number of epochs are trained: one with SASRec's loss alone, one with the ranking
distillation term added. All three are scored under the shared evaluation (sampled and full
ranking, validation and test); the file also records parameter counts and inference time.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path

import torch

from ..training.device import evaluating, pick_device, seed_everything
from ..training.distributed import require_single_process
from ..training.report import run_report, write_report
from ..evaluation.ranking import left_pad
from ..data import load_interactions, sequential_split
from ..sasrec.evaluate import saved_model_for
from ..sasrec.model import SASRec, SASRecConfig
from ..sasrec.train import TrainConfig, evaluate_all, fit
from .ranking import RankingDistillation, teacher_top_k


def count_parameters(model: torch.nn.Module) -> dict[str, int]:
    """All trainable numbers, and how many of them are the item-embedding table."""
    total = sum(p.numel() for p in model.parameters())
    return {"total": total, "item_embedding": model.item_embedding.weight.numel()}


@torch.no_grad()
def inference_ms_per_1000_users(model: SASRec, histories: torch.Tensor, repeats: int = 3, batch_size: int = 256) -> float:
    """Median wall time to score every item for 1,000 users (full ranking), in milliseconds."""
    times = []
    with evaluating(model):
        model.score(histories[:batch_size])  # warm-up
        for _ in range(repeats):
            began = time.perf_counter()
            for start in range(0, len(histories), batch_size):
                model.score(histories[start:start + batch_size])
            times.append(time.perf_counter() - began)
    return 1000 * sorted(times)[len(times) // 2] / len(histories) * 1000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Ranking distillation of SASRec (Tang & Wang 2018).")
    parser.add_argument("--dataset", default="games", choices=["games", "ml-100k", "ml-1m"])
    parser.add_argument("--teacher", type=Path, required=True, help="compact SASRec checkpoint (chapter 1)")
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--k", type=int, default=10, help="length of the teacher's list per position")
    parser.add_argument("--rd-weight", type=float, default=0.5, help="λ_RD, the weight of the distillation term")
    parser.add_argument("--lam", type=float, default=5.0, help="λ of the position weights exp(−r/λ)")
    parser.add_argument("--weighting", default="position", choices=["position", "hybrid"])
    parser.add_argument("--students", default="scratch,distilled",
                        help="comma-separated: which students to train (scratch, distilled)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None)
    parser.add_argument("--output", type=Path, default=Path("ranking_distillation.json"))
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    students = [s.strip() for s in args.students.split(",") if s.strip()]
    if not students or set(students) - {"scratch", "distilled"}:
        raise SystemExit(f"--students must list scratch and/or distilled, got {args.students!r}")
    require_single_process("distill.rank_experiment")
    began = time.perf_counter()
    device = pick_device(args.device)
    split = sequential_split(load_interactions(args.dataset))
    teacher = saved_model_for(split, args.teacher, device, flag="--teacher").requires_grad_(False)
    maxlen = teacher.config.maxlen
    config = TrainConfig(epochs=args.epochs, eval_every=args.eval_every, seed=args.seed, device=args.device,
                         progress=not args.no_progress)
    test_histories = torch.as_tensor(
        left_pad([split.history(int(u), "test") for u in split.evaluable_users("test")[:2048]], maxlen), device=device
    )
    report = run_report("lessons_src.distill.rank_experiment", argv, args.seed, device, config.batch_size)
    report.update({
        "dataset": args.dataset, "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "train": asdict(config), "models": {},
    })
    report["models"]["teacher"] = {
        "config": teacher.config.to_dict(), "parameters": count_parameters(teacher),
        "metrics": evaluate_all(teacher.score, split, maxlen, args.seed, device),
        "inference_ms_per_1000_users": inference_ms_per_1000_users(teacher, test_histories),
    }
    top_k_seconds = None
    for name in students:
        seed_everything(args.seed)  # before the student is built: same initial weights for both
        student = SASRec(SASRecConfig(split.n_items, maxlen, args.hidden, args.blocks, 1, args.dropout))
        loss_fn = None
        if name == "distilled":
            tic = time.perf_counter()
            windows = torch.as_tensor(left_pad(split.train, maxlen + 1))
            table = teacher_top_k(teacher, windows, split.train, split.n_items, args.k, progress=not args.no_progress)
            top_k_seconds = round(time.perf_counter() - tic, 1)
            loss_fn = RankingDistillation(table, split.n_items, args.rd_weight, args.lam, args.weighting,
                                          generator=torch.Generator(device=device).manual_seed(args.seed))
        result = fit(student, split, config, loss_fn=loss_fn)
        report["models"][name] = {
            "config": student.config.to_dict(), "parameters": count_parameters(student),
            "train_seconds": round(result.seconds, 1), "best": result.best, "history": result.history,
            "metrics": evaluate_all(student.score, split, maxlen, args.seed, device),
            "inference_ms_per_1000_users": inference_ms_per_1000_users(student, test_histories),
        }
        print(f"{name}: test sampled {report['models'][name]['metrics']['test/sampled']}")
    report["teacher_top_k_seconds"] = top_k_seconds
    report["train_seconds"] = round(sum(report["models"][name]["train_seconds"] for name in students), 1)
    return write_report(report, began, args.output)


if __name__ == "__main__":
    main()

"""Training MM-Rec and its ablations on impressions, with model selection on validation impressions.

    python -m lessons_src.mmrec.train --variant full --epochs 8 --seed 0 \\
        --output results/mmrec/world_full_seed0.json

``--variant`` picks one of the experiments of the chapter (:data:`VARIANTS`); ``--data`` reads a
folder in MIND's format (news.tsv, behaviors_*.tsv, images/) instead of the generated news world;
``--encoders pretrained`` (default) reads frozen MiniLM title tokens and concept-CNN region
features (:mod:`.pretrained`), ``scratch`` learns word embeddings and a CNN from the clicks alone.
Every epoch the model scores the validation impressions (AUC, MRR, nDCG@5, nDCG@10); the state
with the best validation AUC is kept and only that one is scored on the test impressions.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from ..evaluation.impressions import METRICS, impression_metrics
from ..training.device import evaluating, pick_device, seed_everything
from ..training.distributed import require_single_process
from ..training.loop import LoopConfig, LoopResult, Task, check_int, train_loop
from ..training.report import add_run_arguments, run_report, training_fields, write_report
from ..training.results import save_compact_model
from .model import MMRec, MMRecConfig, softmax_click_loss
from .samples import ClickExamples

VARIANTS: dict[str, dict] = {
    "full": {},  # MM-Rec: co-attention + candidate-aware attention over both modalities
    "text": {"modalities": "text"},  # titles only: an NRMS-like model with candidate-aware attention
    "image": {"modalities": "image"},  # images only
    "no_coattention": {"co_attention": False},  # both modalities, the streams never meet
    "pooling": {"user_attention": "pooling"},  # no candidate-aware attention: learned pooling of clicks
    "public_code": {"public_code_masks": True},  # the public code's masking bugs
}


@dataclass
class MMRecTrainConfig:
    epochs: int = 3
    batch_size: int = 256  # large batches share the news encodings: 256 × 25 slots hold ~2,000 distinct news
    lr: float = 3e-3
    negatives: int = 4  # K non-clicks per click (MM-Rec and NRMS: 4)
    eval_every: int = 1
    select_by: str = "AUC"
    patience: int | None = None
    public_code_negatives: bool = False  # fill missing non-clicks with the padding news
    seed: int = 0
    device: str | None = None
    progress: bool = True
    log: bool = True

    def __post_init__(self):
        for name in ("epochs", "batch_size", "negatives", "eval_every"):
            check_int(name, getattr(self, name), 1)
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.select_by not in METRICS:
            raise ValueError(f"select_by must be one of {METRICS}, got {self.select_by!r}")


def news_to(news, device: torch.device):
    """A copy of the NewsFeatures ``news`` whose tensors live on ``device``."""
    moved = {f.name: getattr(news, f.name) for f in fields(news)}
    return type(news)(**{k: v.to(device) if torch.is_tensor(v) else v for k, v in moved.items()})


@torch.no_grad()
def evaluate(model: MMRec, news, impressions, batch_size: int = 1024) -> dict:
    """Impression metrics of ``model`` on an ImpressionSet (news vectors computed once)."""
    with evaluating(model):
        table = model.encode_all(news)
        device = news.title_ids.device
        scores = []
        for start in range(0, len(impressions.history), batch_size):
            part = slice(start, start + batch_size)
            scores.append(model.score_vectors(table, impressions.history[part].to(device),
                                              impressions.candidates[part].to(device)).cpu())
    return impression_metrics(torch.cat(scores), impressions.labels)


def fit(model: MMRec, news, splits: dict, config: MMRecTrainConfig) -> LoopResult:
    """Train on ``splits["train"]``; keep the state with the best ``splits["valid"]`` ``select_by``."""
    require_single_process("mmrec.train")
    device = pick_device(config.device)
    model.to(device)
    news = news_to(news, device)
    model.check_news(news)
    train = splits["train"]
    examples = ClickExamples(train.history, train.candidates, train.labels, config.negatives, config.seed,
                             config.public_code_negatives)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)

    def batches(epoch: int):
        histories, candidates = examples.epoch()  # (E, H), (E, 1 + K)
        histories, candidates = torch.as_tensor(histories, device=device), torch.as_tensor(candidates, device=device)
        for start in range(0, len(histories), config.batch_size):
            yield histories[start:start + config.batch_size], candidates[start:start + config.batch_size]

    def loss(model: MMRec, batch):
        histories, candidates = batch
        value = softmax_click_loss(model(news, histories, candidates))
        return value, value.detach() * len(histories)

    def describe(record: dict) -> str | None:
        if "valid" in record:
            return f"epoch {record['epoch']:3d}  loss {record['loss']:.4f}  valid {_fmt(record['valid'])}"
        return None

    task = Task(batches, loss, evaluate=lambda model: {"valid": evaluate(model, news, splits["valid"])},
                summarise=lambda total, steps: {"loss": float(total) / len(examples)}, describe=describe,
                generators=[examples.rng])
    loop = LoopConfig(config.epochs, config.eval_every, "valid/" + config.select_by, config.patience,
                      config.progress, config.log, name="MM-Rec epoch")
    return train_loop(model, optimizer, task, loop)


def build_model(news, variant: str = "full", seed: int = 0, **options) -> MMRec:
    """A fresh MM-Rec for ``news`` with the switches of ``variant`` (+ ``options``), seeded first.
    It reads the pretrained vectors ``news`` carries (title_vectors, region_vectors), if any."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {tuple(VARIANTS)}, got {variant!r}")
    seed_everything(seed)  # the initial weights are part of what the seed fixes
    inputs = {"word_features": 0 if news.title_vectors is None else int(news.title_vectors.shape[-1]),
              "region_features": 0 if news.region_vectors is None else int(news.region_vectors.shape[-1])}
    config = MMRecConfig(vocab_size=len(news.vocabulary), crop_size=int(news.regions.shape[-1]),
                         **{**inputs, **VARIANTS[variant], **options})
    return MMRec(config)


def train(news, splits: dict, variant: str = "full", config: MMRecTrainConfig | None = None, **options) -> LoopResult:
    """A run from a notebook: ``train(news, splits, "text", MMRecTrainConfig(epochs=2))``."""
    config = config or MMRecTrainConfig()
    return fit(build_model(news, variant, config.seed, **options), news, splits, config)


def _fmt(metrics: dict) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k in METRICS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Train MM-Rec (or an ablation) and write its metrics to a JSON file.")
    parser.add_argument("--variant", default="full", choices=tuple(VARIANTS))
    parser.add_argument("--data", type=Path, default=None,
                        help="a folder in MIND's format with images/ (default: the generated news world)")
    parser.add_argument("--encoders", default="pretrained", choices=["pretrained", "scratch"],
                        help="frozen pretrained title / region features, or learn both from the clicks")
    parser.add_argument("--crop-size", type=int, default=16, help="side of each region crop, pixels")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--negatives", type=int, default=4)
    parser.add_argument("--public-code-negatives", action="store_true",
                        help="fill missing non-clicks with the padding news, as the public code does")
    return add_run_arguments(parser, "mmrec_metrics.json")


def main(argv: list[str] | None = None) -> dict:
    from .features import build_features
    from .pretrained import with_pretrained
    from .world import world_folder

    args = build_parser().parse_args(argv)
    began = time.perf_counter()
    folder = args.data or world_folder()
    news, splits, _ = build_features(folder, crop_size=args.crop_size)
    encoders = {}
    if args.encoders == "pretrained":
        news, encoders = with_pretrained(news, image=news.box_labels is not None and len(news.box_labels) > 0,
                                         seed=args.seed)
    model = build_model(news, args.variant, args.seed, hidden=args.hidden, heads=args.heads, dropout=args.dropout)
    config = MMRecTrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, negatives=args.negatives,
                              patience=args.patience, public_code_negatives=args.public_code_negatives,
                              seed=args.seed, device=args.device, progress=not args.no_progress)
    result = fit(model, news, splits, config)
    device = next(model.parameters()).device
    report = run_report("lessons_src.mmrec.train", argv, args.seed, device, config.batch_size)
    report.update({
        "data": "generated news world" if args.data is None else str(args.data),
        "variant": args.variant,
        "encoders": encoders or "trained from scratch",
        "model": model.config.to_dict(),
        **training_fields(config, result),
        "metrics": {"test": evaluate(model, news_to(news, device), splits["test"])},
    })
    if args.save_model:
        save_compact_model(model, model.config.to_dict(), args.save_model)
    report = write_report(report, began, args.output)
    print(f"test  {_fmt(report['metrics']['test'])}")
    return report


if __name__ == "__main__":
    main()

"""Pre-train PMGT on the early period, then train a recommender on the later one from three
initialisations of its item embeddings.

    python -m lessons_src.pmgt.downstream --init pmgt --model mlp --seed 0 \
        --output results/pmgt/ml-100k_mlp_pmgt_seed0.json
    # --dataset ml-100k | toys (S3-Rec's Amazon Toys and Games, attributes as the side information)
    # --init random | raw | pmgt;  --model mlp | neumf | sasrec (chapter 1's model)
    # ablations of pre-training: --alpha 0, --no-structure, --no-feature, --keep-centre (the
    # official code's sampling), --in-context-positive (the one-pass shortcut that collapses)

Evaluation (``evaluation.instances``): every later-period validation / test position is an instance
ranked against 1,000 different items the user had not interacted with (the official protocol, whose
code draws them with replacement; Recall@10 of one target = HIT@10) and, for the test, also against
every item the user had not interacted with (full ranking). The model is selected on validation
NDCG@10; the test metrics are also split by the target's popularity in the training part
(cold: < 5 training interactions).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..evaluation.instances import InstanceEvaluator
from ..evaluation.metrics import expected_hit_rate, expected_ndcg, rank_counts
from ..evaluation.negatives import HistoryIndex
from ..training.device import make_generator, pick_device, seed_everything
from ..training.loop import LoopConfig, Task, train_loop
from ..training.report import add_run_arguments, run_report, training_fields, write_report
from . import geometry
from .data import LOADERS, PMGTData
from .model import PMGT, PMGTConfig
from ..sasrec.model import SASRec, SASRecConfig, sasrec_loss
from ..sasrec.sampler import BatchSampler
from .ncf import INITS, KINDS, NCF, project_to, raw_feature_matrix
from .pretrain import PretrainConfig, export_embeddings, pretrain
from .sampling import ContextSampler

POPULARITY_BINS = {"cold (<5)": (0, 5), "tail (5–49)": (5, 50), "head (≥50)": (50, 10**9)}


@dataclass
class NCFConfig:
    kind: str = "mlp"
    dim: int = 64
    std: float = 0.1
    epochs: int = 30
    batch_size: int = 1024
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int | None = 5
    n_negatives: int = 1000
    progress: bool = True


def pretrained_model(data: PMGTData, pretrain_config: PretrainConfig, alpha: float = 0.2,
                     exclude_centre: bool = True, device: torch.device | str = "cpu", dropout: float = 0.0
                     ) -> tuple[PMGT, ContextSampler, dict]:
    """Pre-train PMGT on the data's item graph: (model, its sampler, a log for the results file)."""
    sampler = ContextSampler(data.graph, exclude_centre=exclude_centre)
    seed_everything(pretrain_config.seed)
    config = PMGTConfig(feature_sizes=[f.shape[1] for f in data.features], alpha=alpha, dropout=dropout)
    model = PMGT(config, data.features, data.present).to(device)
    result = pretrain(model, sampler, pretrain_config)
    return model, sampler, {"model": asdict(config), "pretrain": asdict(pretrain_config),
                            "history": result.history, "seconds": round(result.seconds, 1)}


def pmgt_embeddings(data: PMGTData, pretrain_config: PretrainConfig, alpha: float = 0.2,
                    exclude_centre: bool = True, device: torch.device | str = "cpu") -> tuple[torch.Tensor, dict]:
    """Pre-train, then export (n_items + 1, 128) embeddings, with the log."""
    model, sampler, log = pretrained_model(data, pretrain_config, alpha, exclude_centre, device)
    return export_embeddings(model, sampler, seed=pretrain_config.seed), log


def item_init(data: PMGTData, init: str, dim: int, std: float, embeddings: torch.Tensor | None):
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if init == "random":
        return None
    vectors = raw_feature_matrix(data.features, data.present) if init == "raw" else embeddings
    return project_to(vectors, dim, std)


def popularity_groups(data: PMGTData, evaluator: InstanceEvaluator) -> dict[str, np.ndarray]:
    counts = np.bincount(np.concatenate(data.split.train), minlength=data.n_items + 1)
    target_counts = counts[evaluator.targets.cpu().numpy()]
    return {name: (target_counts >= low) & (target_counts < high) for name, (low, high) in POPULARITY_BINS.items()}


def grouped_metrics(scores: torch.Tensor, groups: dict[str, np.ndarray], k: int = 10) -> dict:
    above, ties = rank_counts(scores, scores[:, 0])
    hit, ndcg = expected_hit_rate(above, ties, k), expected_ndcg(above, ties, k)
    return {name: {"instances": int(mask.sum()), f"Recall@{k}": float(hit[torch.from_numpy(mask)].mean()),
                   f"NDCG@{k}": float(ndcg[torch.from_numpy(mask)].mean())}
            for name, mask in groups.items() if mask.any()}


def validation(data: PMGTData, n_negatives: int, seed: int, device) -> InstanceEvaluator:
    return InstanceEvaluator(data.split, "valid", n_negatives=n_negatives, distinct=True, k=10, seed=seed,
                             device=device)


def scorer(model, n_items: int, device):
    """The evaluator's ``score(histories, candidates, users)`` for NCF (users) or SASRec (histories);
    candidates None: every item (full ranking)."""
    every_item = torch.arange(n_items + 1, device=device)

    def score(histories, candidates, user_ids):
        if isinstance(model, SASRec):
            return model.score(histories, candidates)
        if candidates is None:
            candidates = every_item.expand(len(user_ids), -1)
        return model(user_ids, candidates)
    return score


def validation_fields(metrics: dict) -> dict:
    return {"valid": {"Recall@10": metrics["HIT@10"], "NDCG@10": metrics["NDCG@10"]}}


@torch.no_grad()
def test_metrics(score, data: PMGTData, n_negatives: int, seed: int, device) -> dict:
    """Test Recall@10 / NDCG@10 under 1,000 distinct negatives and full ranking, also by popularity."""
    report = {}
    for protocol, negatives in (("1000 negatives", n_negatives), ("full ranking", None)):
        evaluator = InstanceEvaluator(data.split, "test", n_negatives=negatives, distinct=True, k=10,
                                      seed=seed + 1, device=device)
        scores = evaluator.scores(score)
        metrics = evaluator.metrics(scores)
        report[protocol] = {"Recall@10": metrics["HIT@10"], "NDCG@10": metrics["NDCG@10"],
                            "instances": metrics["instances"],
                            "by_popularity": grouped_metrics(scores, popularity_groups(data, evaluator))}
    return report


def train_sasrec(data: PMGTData, init: torch.Tensor | None, config: NCFConfig, seed: int,
                 device: torch.device) -> dict:
    """Chapter 1's SASRec on the later period's training parts, its item table M initialised from
    ``init`` (rescaled to the standard deviation of SASRec's own initialisation)."""
    seed_everything(seed)
    model = SASRec(SASRecConfig(n_items=data.n_items, maxlen=50, hidden=config.dim, dropout=0.2)).to(device)
    if init is not None:
        with torch.no_grad():
            own = model.item_embedding.weight[1:].std()
            model.item_embedding.weight.copy_(init * (own / init[1:].std()))
    sampler = BatchSampler(data.split.train, data.n_items, 50, 128, "cpu", seed)
    valid, score = validation(data, config.n_negatives, seed, device), scorer(model, data.n_items, device)

    def batches(epoch: int):
        return zip(*sampler.sample(len(sampler)))

    def loss(model, batch):
        _, seq, pos, neg = (t.to(device) for t in batch)
        return sasrec_loss(*model(seq, pos, neg), pos)

    def evaluate(model):
        return validation_fields(valid(score))

    task = Task(batches=batches, loss=loss, evaluate=evaluate, generators=[sampler.generator])
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.98))
    loop = LoopConfig(epochs=config.epochs, select_by="valid/NDCG@10", patience=config.patience,
                      progress=config.progress, log=False, name="SASRec")
    result = train_loop(model, optimizer, task, loop)
    return {"test": test_metrics(score, data, config.n_negatives, seed, device), **training_fields(config, result)}


def train_ncf(data: PMGTData, init: torch.Tensor | None, config: NCFConfig, seed: int,
              device: torch.device) -> dict:
    """BPR-train NCF on the later period's training part; select on validation; score the test."""
    seed_everything(seed)
    model = NCF(data.split.n_users, data.n_items, config.dim, config.kind, init, config.std).to(device)
    train = data.split.train
    users = torch.from_numpy(np.repeat(np.arange(len(train)), [len(t) for t in train]))
    items = torch.from_numpy(np.concatenate(train))
    history = HistoryIndex(train, data.n_items, "cpu")
    generator = make_generator(seed, "cpu")
    valid, score = validation(data, config.n_negatives, seed, device), scorer(model, data.n_items, device)

    def batches(epoch: int):
        order = torch.randperm(len(users), generator=generator)
        return [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)]

    def loss(model, rows):
        u, positive = users[rows], items[rows]
        negative = history.sample(u, (1,), generator)[:, 0]  # an item outside the user's training part
        scores = model(u.to(device), torch.stack([positive, negative], 1).to(device))  # (B, 2)
        return -F.logsigmoid(scores[:, 0] - scores[:, 1]).mean()  # BPR: −log σ(ŷ_ui − ŷ_uj)

    def evaluate(model):
        return validation_fields(valid(score))

    task = Task(batches=batches, loss=loss, evaluate=evaluate, generators=[generator])
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loop = LoopConfig(epochs=config.epochs, select_by="valid/NDCG@10", patience=config.patience,
                      progress=config.progress, log=False, name=f"NCF-{config.kind}")
    result = train_loop(model, optimizer, task, loop)
    return {"test": test_metrics(score, data, config.n_negatives, seed, device),
            **training_fields(config, result)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=tuple(LOADERS), default="ml-100k",
                        help="ml-100k (split in time) or toys (S3-Rec's Amazon Toys, split by users)")
    parser.add_argument("--init", choices=INITS, default="pmgt")
    parser.add_argument("--model", choices=(*KINDS, "sasrec"), default="mlp")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--negatives", type=int, default=1000, help="sampled negatives per instance")
    parser.add_argument("--dim", type=int, default=64, help="NCF embedding size d")
    parser.add_argument("--pretrain-epochs", type=int, default=20)
    parser.add_argument("--alpha", type=float, default=0.2)
    parser.add_argument("--no-structure", action="store_true")
    parser.add_argument("--no-feature", action="store_true")
    parser.add_argument("--keep-centre", action="store_true", help="the official code's sampling")
    parser.add_argument("--in-context-positive", action="store_true",
                        help="structure loss from one pass: the positive is a context position (collapses)")
    add_run_arguments(parser, "results/pmgt/ml-100k.json")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    device = pick_device(args.device)
    report = run_report("lessons_src.pmgt.downstream", argv, args.seed, device)
    data = LOADERS[args.dataset]()
    report["data"] = {"dataset": args.dataset, "graph_interactions": data.graph_interactions, "graph_edges": int(data.graph.weights.nnz // 2),
                      "items_in_graph": int((data.graph.degrees > 0).sum()), "missing": data.missing(),
                      "later_users": data.split.n_users}
    embeddings = None
    if args.init == "pmgt":
        pre = PretrainConfig(epochs=args.pretrain_epochs, seed=args.seed, progress=not args.no_progress,
                             structure_weight=0.0 if args.no_structure else 1.0,
                             feature_weight=0.0 if args.no_feature else 1.0,
                             in_context_positive=args.in_context_positive)
        embeddings, report["pretraining"] = pmgt_embeddings(data, pre, args.alpha, not args.keep_centre, device)
        graph_items = np.flatnonzero(data.graph.degrees > 0)
        report["pretraining"]["geometry"] = {
            "pmgt": geometry.describe(embeddings, graph_items, data.graph.weights),
            "raw": geometry.describe(raw_feature_matrix(data.features, data.present), graph_items, data.graph.weights),
            "graph density": geometry.density(data.graph.weights, graph_items)}
    config = NCFConfig(kind="mlp" if args.model == "sasrec" else args.model, dim=args.dim, n_negatives=args.negatives, epochs=args.epochs, patience=args.patience or 5,
                       progress=not args.no_progress)
    init = item_init(data, args.init, config.dim, config.std, embeddings)
    train = train_sasrec if args.model == "sasrec" else train_ncf
    report.update(init=args.init, **train(data, init, config, args.seed, device))
    report = write_report(report, began, args.output)
    for protocol, metrics in report["test"].items():
        print(f"{args.model} from {args.init}, test, {protocol}: Recall@10 {metrics['Recall@10']:.4f} "
              f"NDCG@10 {metrics['NDCG@10']:.4f}")
    print(f"({report['wall_seconds']} s)")
    return report


if __name__ == "__main__":
    main()

"""Pre-training PMGT through the book's training loop, and the export of item embeddings.

One step: a batch of B centres c, for each a positive p (a graph neighbour, ∝ edge weight) and a
negative n (a graph item that is not a neighbour) → the 3B sequences [v, v's MCNSampling context]
(fresh draws every step) → 80/10/10 masking → PMGT, one pass → the pooled vectors z_c, z_p, z_n →
L = λ_s L_s(z_c, z_p, z_n) + λ_f L_f (over the masked positions of all 3B sequences, as the official
code averages its three feature losses).

The export runs the trained model once per item in eval mode with a context drawn from a fixed seed
and **nothing masked** (the official code exports with neighbours still masked), and keeps the
pooled centre vector at unit length, as the official export (the loss sees only cosines, so a
vector's length carries nothing it was trained for): the same model and seed give the same
embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..training.device import evaluating
from ..training.loop import LoopConfig, LoopResult, Task, train_loop
from .losses import feature_loss, in_context_pairs, structure_loss
from .masking import mask_context
from .model import PMGT
from .sampling import ContextSampler


@dataclass
class PretrainConfig:
    epochs: int = 20
    batch_size: int = 64  # ML-100k: 1,233 centres → 20 steps per epoch
    lr: float = 1e-3
    weight_decay: float = 0.01
    mask_rate: float = 0.2
    structure_weight: float = 1.0  # λ_s; 0: no structure loss (an ablation)
    in_context_positive: bool = False  # the one-pass shortcut of losses.in_context_pairs (it collapses)
    feature_weight: float = 1.0  # λ_f; 0: no feature reconstruction (an ablation)
    seed: int = 0
    progress: bool = True
    log: bool = False


def sequences_of(centres: Tensor, contexts: Tensor) -> Tensor:
    """centres (B,), contexts (B, K) → ids (B, 1 + K): [centre, context…]."""
    return torch.cat([centres.view(-1, 1), contexts], dim=1)


def pretraining_loss(model: PMGT, sampler: ContextSampler, centres: Tensor, config: PretrainConfig,
                     generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """centres (B,) with neighbours → (L, tally [L, L_s, L_f])."""
    device = next(model.parameters()).device
    if config.in_context_positive:
        nodes = centres
    else:
        positives = sampler.draw_neighbours(centres.view(-1, 1), 1, generator)[:, 0]  # (B,) ∝ weight
        negatives = sampler.draw_non_neighbours(centres, generator)  # (B,), NO_ITEM if none exists
        has_negative = negatives >= 0
        nodes = torch.cat([centres, positives, torch.where(has_negative, negatives, centres)])  # (3B,)
    ids = sequences_of(nodes, sampler.sample(nodes, generator).items)  # (3B, 1 + K) on the CPU
    batch = mask_context(ids, sampler.n_items, config.mask_rate, generator)
    z, outputs = model.item_vectors(batch.inputs.to(device), batch.use_mask_token.to(device))  # (3B, h), (3B, S, h)
    targets = batch.targets.to(device)
    zero = outputs.sum() * 0.0
    if not config.structure_weight:
        l_s = zero
    elif config.in_context_positive:
        centre, positive, negative, has_negative = in_context_pairs(outputs, targets, generator)
        l_s = structure_loss(*(model.pooler(v) for v in (centre, positive, negative)), has_negative.to(device)) \
            if len(centre) else zero
    else:
        l_s = structure_loss(*z.split(len(centres)), has_negative.to(device))
    if config.feature_weight:
        raw, present = model.raw_features(targets.clamp_min(0))
        l_f = feature_loss(outputs, batch.masked.to(device), raw, present, model.reconstruct)
    else:
        l_f = zero
    loss = config.structure_weight * l_s + config.feature_weight * l_f
    return loss, torch.stack([loss.detach(), l_s.detach(), l_f.detach()]).cpu()


def pretrain(model: PMGT, sampler: ContextSampler, config: PretrainConfig) -> LoopResult:
    """Pre-train on every item that has at least one neighbour; returns the loop's history."""
    centres = sampler.graph_items
    if len(centres) < 2:
        raise ValueError("pre-training needs at least two items with neighbours in the graph")
    generator = torch.Generator().manual_seed(config.seed)

    def batches(epoch: int):
        order = centres[torch.randperm(len(centres), generator=generator)]
        return [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)
                if len(order[i:i + config.batch_size]) >= 2]

    def summarise(total: Tensor, steps: int) -> dict:
        mean = total / steps
        return {"loss": float(mean[0]), "structure": float(mean[1]), "feature": float(mean[2])}

    task = Task(batches=batches, loss=lambda m, b: pretraining_loss(m, sampler, b, config, generator),
                summarise=summarise, generators=[generator])
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loop = LoopConfig(epochs=config.epochs, eval_every=0, progress=config.progress, log=config.log,
                      name="PMGT pre-training", timing="per_epoch")
    return train_loop(model, optimizer, task, loop)


def export_embeddings(model: PMGT, sampler: ContextSampler, seed: int = 0, batch_size: int = 512,
                      mask_rate: float = 0.0) -> Tensor:
    """(n_items, h): each item's pooled centre vector, unit length, over an unmasked context drawn
    with ``seed``.

    ``mask_rate`` > 0 reproduces the official code's export, which still masks that share of every
    context (as in training): the embedding then depends on which neighbours the draw hid."""
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    rows = []
    with evaluating(model), torch.no_grad():
        for start in range(0, sampler.n_items, batch_size):
            centres = torch.arange(start, min(start + batch_size, sampler.n_items))
            ids = sequences_of(centres, sampler.sample(centres, generator).items)
            if mask_rate:
                batch = mask_context(ids, sampler.n_items, mask_rate, generator)
                z, _ = model.item_vectors(batch.inputs.to(device), batch.use_mask_token.to(device))
            else:
                z, _ = model.item_vectors(ids.to(device))
            rows.append(F.normalize(z, dim=-1).cpu())
    return torch.cat(rows)

"""The losses SASRec can be trained with, behind one switch (``TrainConfig.loss``).

Every loss reads the features F_t (B, L, C) at the positions whose next item pos_t is not padding
(T of them) and the item table M (N + 1, C), row 0 the padding item; r(i, t) = F_t · M_i.

    "bce"      the authors' binary cross-entropy, one sampled negative j_t per position:
               L = − Σ_t [ log σ(r(pos_t, t)) + log(1 − σ(r(j_t, t))) ] / T
    "ce"       cross-entropy over the whole catalogue, items 1..N (Klenitskiy & Vasilev 2023):
               L = − Σ_t log( exp r(pos_t, t) / Σ_{i=1..N} exp r(i, t) ) / T
    "sampled"  sampled softmax: K negatives j_1..j_K drawn uniformly from 1..N, shared by the batch;
               a negative equal to the position's positive is masked out:
               L = − Σ_t log( exp r(pos_t, t) / (exp r(pos_t, t) + Σ_k exp r(j_k, t)) ) / T
               (uniform proposals need no logQ correction: log q(i) is the same for every item and
               cancels; with popularity-drawn negatives one would subtract log q(i) from each logit.)
    "gbce"     gSASRec's generalised BCE (Petrov & Macdonald 2023), K uniform negatives j_t1..j_tK
               drawn for each position, as their code does (negatives shared by the whole batch push
               the same K items down at every position at once: on a toy catalogue BCE with 8 shared
               negatives did not learn at all), a negative equal to the positive masked out:
               L = − Σ_t [ β log σ(r(pos_t, t)) + Σ_k log(1 − σ(r(j_tk, t))) ] / T,
               β = α (t_cal (1 − 1/α) + 1/α),  α = K / (N − 1)   (t_cal = 0: β = 1, plain BCE with K
               negatives; t_cal = 1: β = α, the positive weighted down as much as negatives are sampled,
               which calibrates σ(r) to the full-catalogue probability)

The full softmax never forms the (T, N + 1) logits at once beyond ``memory_budget`` bytes: forward
and backward run over chunks of positions (:class:`CatalogueCrossEntropy`) and recompute a chunk's
logits in the backward pass instead of keeping them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .model import sasrec_loss as bce_one_negative  # "bce": the paper's §III-E loss, in model.py

LOSSES = ("bce", "ce", "sampled", "gbce")


@dataclass(frozen=True)
class LossConfig:
    kind: str = "bce"  # one of LOSSES
    negatives: int = 256  # K, for "sampled" (shared by the batch) and "gbce" (per position)
    calibration: float = 0.75  # t_cal of gBCE (gSASRec's t)
    memory_budget: int = 256 * 2**20  # bytes of catalogue logits one chunk of "ce" may hold

    def __post_init__(self):
        if self.kind not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.kind!r}")
        if not isinstance(self.negatives, int) or self.negatives < 1:
            raise ValueError(f"negatives must be an int ≥ 1, got {self.negatives!r}")
        if not 0.0 <= self.calibration <= 1.0:
            raise ValueError(f"calibration must lie in [0, 1], got {self.calibration!r}")
        if self.memory_budget < 1:
            raise ValueError(f"memory_budget must be ≥ 1 byte, got {self.memory_budget!r}")


class CatalogueCrossEntropy(torch.autograd.Function):
    """Mean over T positions of −log softmax(F_t Mᵀ)[target_t] over items 1..N, in chunks of positions.

    features (T, C), table (N + 1, C), targets (T,) in 1..N, chunk: positions per chunk. The gradient
    of a chunk is (softmax − onehot) / T: w.r.t. F it is that times M, w.r.t. M its transpose times F.
    """

    @staticmethod
    def forward(ctx, features: Tensor, table: Tensor, targets: Tensor, chunk: int) -> Tensor:
        total = features.new_zeros(())
        for start in range(0, len(features), chunk):
            logits = _catalogue_logits(features[start:start + chunk], table)  # (c, N + 1)
            picked = logits.gather(1, targets[start:start + chunk, None]).squeeze(1)  # r(pos_t, t)
            total += (torch.logsumexp(logits, 1) - picked).sum()
        ctx.save_for_backward(features, table, targets)
        ctx.chunk = chunk
        return total / len(features)

    @staticmethod
    def backward(ctx, grad: Tensor):
        features, table, targets = ctx.saved_tensors
        grad_features, grad_table = torch.zeros_like(features), torch.zeros_like(table)
        scale = grad / len(features)
        for start in range(0, len(features), ctx.chunk):
            rows = slice(start, start + ctx.chunk)
            delta = torch.softmax(_catalogue_logits(features[rows], table), 1)  # (c, N + 1)
            delta[torch.arange(len(delta), device=delta.device), targets[rows]] -= 1
            delta *= scale
            grad_features[rows] = delta @ table
            grad_table += delta.T @ features[rows]
        return grad_features, grad_table, None, None


def _catalogue_logits(features: Tensor, table: Tensor) -> Tensor:
    logits = features @ table.T  # (c, N + 1)
    logits[:, 0] = float("-inf")  # the padding item is not a candidate
    return logits


def catalogue_chunk(n_items: int, memory_budget: int) -> int:
    """Positions per chunk so that a chunk's float32 logits, N + 1 per position, fit the budget."""
    return max(1, memory_budget // (4 * (n_items + 1)))


def full_softmax(features: Tensor, table: Tensor, pos: Tensor, memory_budget: int) -> Tensor:
    """"ce": features (B, L, C), table (N + 1, C), pos (B, L)."""
    real = pos != 0
    chunk = catalogue_chunk(table.shape[0] - 1, memory_budget)
    return CatalogueCrossEntropy.apply(features[real], table, pos[real], chunk)


def uniform_negatives(n_items: int, shape: tuple[int, ...], generator: torch.Generator | None, device) -> Tensor:
    """Items drawn uniformly from 1..N, with replacement, in ``shape``."""
    return torch.randint(1, n_items + 1, shape, generator=generator, device=device)


def sampled_softmax(features: Tensor, table: Tensor, pos: Tensor, negatives: Tensor) -> Tensor:
    """"sampled": features (B, L, C), table (N + 1, C), pos (B, L), negatives (K,) shared by the batch."""
    real = pos != 0
    hidden, targets = features[real], pos[real]  # (T, C), (T,)
    positive = (hidden * table[targets]).sum(-1, keepdim=True)  # (T, 1)
    negative = hidden @ table[negatives].T  # (T, K)
    negative = negative.masked_fill(negatives[None, :] == targets[:, None], float("-inf"))  # accidental hits
    logits = torch.cat([positive, negative], 1)  # (T, 1 + K), the positive in column 0
    return -torch.log_softmax(logits, 1)[:, 0].mean()


def gbce_beta(n_items: int, k: int, calibration: float) -> float:
    """β = α (t (1 − 1/α) + 1/α) with α = K / (N − 1), the negative sampling rate."""
    alpha = k / (n_items - 1)
    return alpha * (calibration * (1 - 1 / alpha) + 1 / alpha)


def generalised_bce(features: Tensor, table: Tensor, pos: Tensor, negatives: Tensor, beta: float) -> Tensor:
    """"gbce": features (B, L, C), table (N + 1, C), pos (B, L), negatives (T, K): K for each of the
    T positions with a target, in row-major order of ``pos != 0``."""
    real = pos != 0
    hidden, targets = features[real], pos[real]  # (T, C), (T,)
    positive = (hidden * table[targets]).sum(-1)  # (T,)
    negative = torch.einsum("tc,tkc->tk", hidden, table[negatives])  # (T, K)
    hit = negatives == targets[:, None]  # a negative equal to the positive is no negative
    negative_terms = F.logsigmoid(-negative).masked_fill(hit, 0.0).sum(1)  # Σ_k log(1 − σ(r_k))
    return -(beta * F.logsigmoid(positive) + negative_terms).mean()


def sasrec_objective(model, seq: Tensor, pos: Tensor, neg: Tensor, config: LossConfig,
                     generator: torch.Generator | None = None) -> Tensor:
    """The training loss of one batch (B, L each) under ``config.kind``; ``neg`` is read by "bce" only."""
    if config.kind == "bce":
        pos_logits, neg_logits = model(seq, pos, neg)
        return bce_one_negative(pos_logits, neg_logits, pos)
    features = model.encode(seq)  # (B, L, C)
    table = model.item_embedding.weight  # (N + 1, C)
    n_items = table.shape[0] - 1
    if config.kind == "ce":
        return full_softmax(features, table, pos, config.memory_budget)
    if config.kind == "sampled":
        negatives = uniform_negatives(n_items, (config.negatives,), generator, seq.device)  # (K,) shared
        return sampled_softmax(features, table, pos, negatives)
    positions = int((pos != 0).sum())
    negatives = uniform_negatives(n_items, (positions, config.negatives), generator, seq.device)  # (T, K)
    return generalised_bce(features, table, pos, negatives, gbce_beta(n_items, config.negatives, config.calibration))

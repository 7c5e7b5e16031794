"""The PMGT network (§3.3): item features → fused node embeddings → a Transformer over
[centre, its ordered context] whose attention is pushed towards diverse neighbours.

Shapes: B centres, S = 1 + K positions (position 0 is the centre, 1 … K its context in score order),
M modalities with raw sizes d_m, h the hidden size.

1. Modality projection and fusion gate (eq. 2–3): h_m = W_m x_m, a_m = softmax_m(qᵀ tanh(G h_m)),
   e = Σ_m a_m h_m. A missing modality is left out of the softmax (the official code feeds N(0, 1)
   noise instead); an item with no modality at all gets a learned "no features" vector.
2. Position embedding (eq. 4): x⁽⁰⁾_s = e_s + p_s, with p_0 marking the centre.
3. L blocks of diversity-promoting attention (eq. 6):
       A = (1 − α) · softmax(Q Kᵀ / √d) + α · softmax(1 − cos(D_i, D_j) + I)
   D is the block's input; the second term gives more weight to context nodes unlike the others,
   so that the centre's summary is not a copy of its most similar neighbour. α = 0 is plain attention.
4. The pooler (both public codes): z = W_p x⁽ᴸ⁾_0 + b_p, a linear map of the centre's output — the
   item's vector, which the structure loss compares and the export writes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class PMGTConfig:
    feature_sizes: list[int] = field(default_factory=list)  # d_m of each modality
    hidden: int = 128
    layers: int = 2
    heads: int = 2
    intermediate: int = 64
    context_size: int = 10  # K
    alpha: float = 0.2  # weight of the diversity term; 0: plain softmax attention
    dropout: float = 0.0  # the official code's default: the export then sees what training saw

    def __post_init__(self):
        if not self.feature_sizes:
            raise ValueError("feature_sizes must list the raw size of at least one modality")
        assert self.hidden % self.heads == 0, f"hidden {self.hidden} must be divisible by heads {self.heads}"
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha}")


class ModalityFusion(nn.Module):
    """Per-modality projections and the softmax gate over the modalities an item has."""

    def __init__(self, feature_sizes: list[int], hidden: int):
        super().__init__()
        self.project = nn.ModuleList(nn.Linear(size, hidden) for size in feature_sizes)
        self.gate = nn.Linear(hidden, hidden)
        self.query = nn.Parameter(torch.randn(hidden) / math.sqrt(hidden))
        self.no_features = nn.Parameter(torch.zeros(hidden))

    def forward(self, features: list[Tensor], present: Tensor) -> tuple[Tensor, Tensor]:
        """features[m] (..., d_m), present (..., M) bool → fused (..., h), gate a (..., M)."""
        projected = torch.stack([proj(x) for proj, x in zip(self.project, features)], dim=-2)  # (..., M, h)
        score = torch.tanh(self.gate(projected)) @ self.query  # (..., M): qᵀ tanh(G h_m)
        score = score.masked_fill(~present, float("-inf"))
        anything = present.any(-1, keepdim=True)  # (..., 1)
        gate = torch.softmax(score.masked_fill(~anything, 0.0), dim=-1) * anything  # a_m, 0 if none
        fused = (gate.unsqueeze(-1) * projected).sum(-2)  # (..., h): Σ_m a_m h_m
        fused = torch.where(anything, fused, self.no_features.expand_as(fused))
        return fused, gate


class DiversityAttention(nn.Module):
    def __init__(self, config: PMGTConfig):
        super().__init__()
        self.heads, self.alpha = config.heads, config.alpha
        self.qkv = nn.Linear(config.hidden, 3 * config.hidden)
        self.out = nn.Linear(config.hidden, config.hidden)
        self.dropout = nn.Dropout(config.dropout)

    def weights(self, x: Tensor, real: Tensor, alpha: float | None = None) -> Tensor:
        """x (B, S, h), real (B, S) bool → attention A (B, heads, S, S); padded keys get 0.
        ``alpha`` overrides the block's α (0: the plain softmax part alone)."""
        alpha = self.alpha if alpha is None else alpha
        B, S, h = x.shape
        q, k, _ = self.qkv(x).split(h, dim=-1)
        q = q.view(B, S, self.heads, h // self.heads).transpose(1, 2)  # (B, H, S, d)
        k = k.view(B, S, self.heads, h // self.heads).transpose(1, 2)
        blocked = ~real[:, None, None, :]  # (B, 1, 1, S) padding keys
        # softmax(Q Kᵀ / √d)
        similarity = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])  # (B, H, S, S)
        attention = torch.softmax(similarity.masked_fill(blocked, float("-inf")), dim=-1)
        if alpha == 0:
            return attention
        # softmax(1 − cos(D_i, D_j) + I): D is the block input, shared by the heads
        unit = F.normalize(x, dim=-1)
        diversity = 1.0 - unit @ unit.transpose(1, 2) + torch.eye(S, device=x.device)  # (B, S, S)
        diverse = torch.softmax(diversity.unsqueeze(1).masked_fill(blocked, float("-inf")), dim=-1)
        return (1.0 - alpha) * attention + alpha * diverse

    def forward(self, x: Tensor, real: Tensor) -> Tensor:
        B, S, h = x.shape
        attention = self.dropout(self.weights(x, real))  # (B, H, S, S)
        v = self.qkv(x)[..., 2 * h:].view(B, S, self.heads, h // self.heads).transpose(1, 2)
        mixed = (attention @ v).transpose(1, 2).reshape(B, S, h)  # (B, S, h)
        return self.out(mixed)


class Block(nn.Module):
    """Post-norm Transformer block (BERT's layout, as the official code)."""

    def __init__(self, config: PMGTConfig):
        super().__init__()
        self.attention = DiversityAttention(config)
        self.norm1, self.norm2 = nn.LayerNorm(config.hidden), nn.LayerNorm(config.hidden)
        self.feed_forward = nn.Sequential(nn.Linear(config.hidden, config.intermediate), nn.GELU(),
                                          nn.Linear(config.intermediate, config.hidden))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, real: Tensor) -> Tensor:
        x = self.norm1(x + self.dropout(self.attention(x, real)))
        return self.norm2(x + self.dropout(self.feed_forward(x)))


class PMGT(nn.Module):
    """Item features (buffers) + graph contexts → contextual item representations."""

    def __init__(self, config: PMGTConfig, features: list[Tensor], present: Tensor):
        super().__init__()
        if len(features) != len(config.feature_sizes):
            raise ValueError(f"{len(config.feature_sizes)} feature sizes but {len(features)} feature tables")
        for m, (table, size) in enumerate(zip(features, config.feature_sizes)):
            if table.ndim != 2 or table.shape[1] != size or table.shape[0] != present.shape[0]:
                raise ValueError(f"feature table {m} must be (n_items={present.shape[0]}, {size}), "
                                 f"got {tuple(table.shape)}")
        self.config = config
        for m, table in enumerate(features):
            self.register_buffer(f"features_{m}", table.float(), persistent=False)
        self.register_buffer("present", present.bool(), persistent=False)  # (n_items, M)
        self.fusion = ModalityFusion(config.feature_sizes, config.hidden)
        self.mask_vector = nn.Parameter(torch.zeros(config.hidden))  # the [MASK] node input
        self.position = nn.Embedding(1 + config.context_size, config.hidden)
        self.norm = nn.LayerNorm(config.hidden)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.pooler = nn.Linear(config.hidden, config.hidden)  # z = W_p x⁽ᴸ⁾_0 + b_p
        # heads of masked node-feature reconstruction: h → x_m
        self.reconstruct = nn.ModuleList(nn.Linear(config.hidden, size) for size in config.feature_sizes)

    def raw_features(self, ids: Tensor) -> tuple[list[Tensor], Tensor]:
        """ids (...) ≥ 0 → the raw feature rows [(…, d_m)] and presence (…, M)."""
        return [getattr(self, f"features_{m}")[ids] for m in range(len(self.reconstruct))], self.present[ids]

    def node_inputs(self, ids: Tensor, use_mask_token: Tensor | None = None) -> Tensor:
        """ids (B, S) with −1 padding → x⁽⁰⁾ (B, S, h) = fused features (or [MASK]) + position."""
        safe = ids.clamp_min(0)
        features, present = self.raw_features(safe)
        fused, _ = self.fusion(features, present)  # (B, S, h)
        if use_mask_token is not None:
            fused = torch.where(use_mask_token.unsqueeze(-1), self.mask_vector.expand_as(fused), fused)
        positions = torch.arange(ids.shape[1], device=ids.device)
        return self.dropout(self.norm(fused + self.position(positions)))

    def forward(self, ids: Tensor, use_mask_token: Tensor | None = None) -> Tensor:
        """ids (B, S): [centre, context…] with −1 padding → hidden states (B, S, h)."""
        if ids.shape[1] > 1 + self.config.context_size:
            raise ValueError(f"at most 1 + context_size = {1 + self.config.context_size} positions, "
                             f"got {ids.shape[1]}")
        real = ids >= 0
        x = self.node_inputs(ids, use_mask_token)
        for block in self.blocks:
            x = block(x, real)
        return x

    def item_vectors(self, ids: Tensor, use_mask_token: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """ids (B, S) → (z (B, h) the pooled centre vectors, hidden states (B, S, h))."""
        hidden = self(ids, use_mask_token)
        return self.pooler(hidden[:, 0]), hidden

    def attention_maps(self, ids: Tensor) -> list[Tensor]:
        """The attention weights of every block (eval mode): [(B, heads, S, S)]."""
        real = ids >= 0
        x, maps = self.node_inputs(ids), []
        for block in self.blocks:
            maps.append(block.attention.weights(x, real))
            x = block(x, real)
        return maps

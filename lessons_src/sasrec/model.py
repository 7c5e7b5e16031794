"""The SASRec model: item + position embeddings, causal self-attention blocks, dot-product scores.

Data flow for a batch of left-padded sequences ``seq`` (B, L):

    E = √d · M[seq] + P            item embedding scaled by √d, plus a learned position embedding
    E = dropout(E) · 1[seq ≠ 0]     padding rows zeroed (the "timeline mask")
    F = Block_b(… Block_1(E))      causal self-attention + point-wise feed-forward
    F = LayerNorm(F)
    r(i, t) = F_t · M_i            relevance of item i as the next item after position t
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..layers.dropout import ByteDropout
from .attention import MultiHeadAttention, attention_mask
from .tokens import TokenLayout


@dataclass
class SASRecConfig:
    n_items: int
    maxlen: int = 50
    hidden: int = 50
    n_blocks: int = 2
    n_heads: int = 1
    dropout: float = 0.5
    block_layout: str = "official"  # "official": only the query is layer-normed; or "pre_ln"
    mask_padding_keys: bool = True  # the original code lets real positions attend to padding
    fused_attention: bool = True
    pack_tokens: bool = True  # skip padding positions on the CPU (see tokens.py)

    def __post_init__(self):
        if self.n_items < 1:
            raise ValueError(f"n_items must be ≥ 1, got {self.n_items}")
        if self.maxlen < 1 or self.n_blocks < 1 or self.n_heads < 1:
            raise ValueError(f"maxlen, n_blocks and n_heads must be ≥ 1, got {self.maxlen}, {self.n_blocks}, {self.n_heads}")
        if self.hidden % self.n_heads != 0:
            raise ValueError(f"hidden size {self.hidden} must be divisible by n_heads {self.n_heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.block_layout not in ("official", "pre_ln"):
            raise ValueError(f"block_layout must be 'official' or 'pre_ln', got {self.block_layout!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class PointWiseFeedForward(nn.Module):
    """FFN(x) = W₂ · ReLU(W₁ x + b₁) + b₂, the same two-layer MLP at every position."""

    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(hidden, hidden), ByteDropout(dropout), nn.ReLU(), nn.Linear(hidden, hidden), ByteDropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SASRecBlock(nn.Module):
    """One self-attention block.

    official (the authors' code):  Q = LN(x); x = Q + Attn(Q, x, x); x = LN'(x); x = x + FFN(x)
    pre_ln   (Xiong et al. 2020):  x = x + Attn(LN(x)); x = x + FFN(LN'(x))
    """

    def __init__(self, config: SASRecConfig):
        super().__init__()
        self.layout = config.block_layout
        self.attention_norm = nn.LayerNorm(config.hidden, eps=1e-8)
        self.attention = MultiHeadAttention(config.hidden, config.n_heads, config.dropout)
        self.ffn_norm = nn.LayerNorm(config.hidden, eps=1e-8)
        self.ffn = PointWiseFeedForward(config.hidden, config.dropout)

    def forward(self, x, allowed, layout, fused=True, return_weights=False):
        """x: tokens in ``layout``, allowed: (B, L, L) → tokens, weights (B, H, L, L) or None."""
        if self.layout == "official":
            q = self.attention_norm(x)
            attended, weights = self.attention(q, x, allowed, layout, fused, return_weights)
            x = self.ffn_norm(q + attended)
            x = x + self.ffn(x)
        else:
            normed = self.attention_norm(x)
            attended, weights = self.attention(normed, normed, allowed, layout, fused, return_weights)
            x = x + attended
            x = x + self.ffn(self.ffn_norm(x))
        return layout.zero_padding(x), weights  # the timeline mask again


class SASRec(nn.Module):
    def __init__(self, config: SASRecConfig):
        super().__init__()
        self.config = config
        self.item_embedding = nn.Embedding(config.n_items + 1, config.hidden, padding_idx=0)
        self.position_embedding = nn.Embedding(config.maxlen, config.hidden)
        self.embedding_dropout = ByteDropout(config.dropout)
        self.blocks = nn.ModuleList(SASRecBlock(config) for _ in range(config.n_blocks))
        self.final_norm = nn.LayerNorm(config.hidden, eps=1e-8)
        self.check_inputs = True  # the trainer turns this off for batches it built itself
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-normal for every matrix, as the authors' code does; padding embedding zero."""
        for name, parameter in self.named_parameters():
            if parameter.dim() > 1:
                nn.init.xavier_normal_(parameter)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def validate(self, seq: torch.Tensor, name: str = "seq") -> None:
        """Clear errors for bad input, before any (CUDA) kernel could fail obscurely."""
        if seq.dtype not in (torch.int64, torch.int32) or seq.dim() != 2:
            raise ValueError(f"{name} must be a 2-D integer tensor (batch, length), got {seq.dtype} {tuple(seq.shape)}")
        if seq.shape[1] > self.config.maxlen:
            raise ValueError(f"{name}: sequence length {seq.shape[1]} exceeds maxlen {self.config.maxlen}")
        low, high = int(seq.min()), int(seq.max())
        if low < 0 or high > self.config.n_items:
            raise ValueError(f"{name}: item ids must lie in 0..{self.config.n_items} (0 = padding), got {low}..{high}")

    def encode(self, seq: torch.Tensor, return_weights: bool = False, item_vectors: torch.Tensor | None = None):
        """seq: (B, L) left-padded ids → features (B, L, C) [, attention weights per block].

        ``item_vectors`` (B, L, C) may pass ``M[seq]`` already looked up (see ``forward``).
        """
        if self.check_inputs:
            self.validate(seq)
        batch, length = seq.shape
        # packing needs the number of real tokens on the host: free on the CPU, a sync on a GPU,
        # where computing on padding is cheap anyway
        packed = self.config.pack_tokens and self.config.mask_padding_keys and seq.device.type == "cpu"
        layout = TokenLayout(seq, packed)
        # positions count back from the most recent item, so the last item always has the same
        # position embedding whatever the amount of left padding
        positions = torch.arange(length - 1, -1, -1, device=seq.device)  # (L,)
        if item_vectors is None:
            item_vectors = self.item_embedding(seq)  # M[seq]: (B, L, C)
        x = item_vectors * math.sqrt(self.config.hidden)  # √d · M[seq]
        x = x + self.position_embedding(positions)
        x = layout.tokens(self.embedding_dropout(x))  # timeline mask: padding dropped or zeroed
        allowed = attention_mask(seq, self.config.mask_padding_keys)  # (B, L, L)
        fused = self.config.fused_attention and not return_weights
        all_weights = []
        for block in self.blocks:
            x, weights = block(x, allowed, layout, fused, return_weights)
            all_weights.append(weights)
        features = layout.grid(self.final_norm(x))  # (B, L, C)
        if packed:  # padding positions get what the unpacked path gives them: LayerNorm(0)
            features = torch.where(layout.real.unsqueeze(-1), features, self.final_norm.bias)
        return (features, all_weights) if return_weights else features

    def forward(self, seq: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor):
        """Logits r(pos_t, t) and r(neg_t, t): each (B, L)."""
        if self.check_inputs:
            for name, ids in (("seq", seq), ("pos", pos), ("neg", neg)):
                self.validate(ids, name)
            if not (seq.shape == pos.shape == neg.shape):
                raise ValueError(f"seq, pos and neg must have one shape, got {tuple(seq.shape)}, "
                                 f"{tuple(pos.shape)}, {tuple(neg.shape)}")
        # one lookup for inputs, positives and negatives: one gradient scatter into M, not three
        vectors = self.item_embedding(torch.stack((seq, pos, neg)))  # (3, B, L, C)
        features = self.encode(seq, item_vectors=vectors[0])  # (B, L, C)
        logits = (features * vectors[1:]).sum(-1)  # (2, B, L)
        return logits[0], logits[1]

    def score(self, histories: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of the next item after each history: (B, C) for candidates (B, C), or (B, N+1)."""
        if self.check_inputs and bool((histories == 0).all(dim=1).any()):
            raise ValueError("every history must contain at least one item (a row is all padding)")
        last = self.encode(histories)[:, -1, :]  # (B, C) the state after the most recent item
        if candidates is None:
            return last @ self.item_embedding.weight.T  # (B, N+1)
        return (self.item_embedding(candidates) @ last.unsqueeze(-1)).squeeze(-1)  # (B, C)


def sasrec_loss(pos_logits: torch.Tensor, neg_logits: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with one sampled negative per position, over non-padding targets.

        L = − Σ_t [ log σ(r(pos_t, t)) + log(1 − σ(r(neg_t, t))) ] / #{t : pos_t ≠ 0}
    """
    real = pos != 0
    bce = nn.functional.binary_cross_entropy_with_logits
    return bce(pos_logits[real], torch.ones_like(pos_logits[real])) + bce(
        neg_logits[real], torch.zeros_like(neg_logits[real])
    )

"""SASRec, self-attentive sequential recommendation (Kang & McAuley, ICDM 2018), in the order of §III.

For a batch of left-padded histories ``seq`` (B, L) of item ids (0 = padding):

    Ê = √d · M[seq] + P,  Ê ← Dropout(Ê) · 1[seq ≠ 0]        embedding (§III-A), timeline mask
    S = SA(F) = softmax(Q Kᵀ / √d_h) V,  Q, K, V = F W^{Q,K,V}  causal self-attention (§III-B)
    F_t = ReLU(S_t W⁽¹⁾ + b⁽¹⁾) W⁽²⁾ + b⁽²⁾                  point-wise feed-forward (§III-B)
    g(x) = x + Dropout(g(LayerNorm(x)))                        residual, layer norm, dropout (§III-C)
    r(i, t) = F_t⁽ᵇ⁾ · M_i                                     shared item embedding (§III-D)

``block_layout`` says exactly how the residuals and layer norms of one block are wired:

    official  the authors' TensorFlow code (kang205/SASRec, modules.py + model.py):
              Q = LN(x); x = Q + softmax(QW_Q (xW_K)ᵀ/√d_h) xW_V; x = LN'(x); x = x + FFN(x)
              (no output projection W_O: only the Q, K, V dense layers)
    port      the PyTorch port (pmixer/SASRec.pytorch, nn.MultiheadAttention): the same block with an
              output projection W_O (+ bias) after attention; the committed checkpoints use it
    pre_ln    pre-LN (Xiong et al. 2020): h = LN(x); x = x + Attn(h, h, h); x = x + FFN(LN'(x))

``SASRecConfig.fast`` chooses how, never what: the plain path computes on the padded (B, L, C) grid
with an explicit mask and softmax; the fast path skips the padding tokens (on the CPU), calls torch's
fused attention kernel and draws dropout masks from random bytes. The tests hold them equal.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from ..layers.dropout import byte_dropout, byte_dropout_active
from ..training.loop import check_int
from ..training.results import load_compact_model

BLOCK_LAYOUTS = ("official", "port", "pre_ln")
LEGACY_KEYS = ("fused_attention", "pack_tokens")  # replaced by ``fast``; older configs still carry them


@dataclass
class SASRecConfig:
    n_items: int  # item ids are 1..n_items; 0 is padding
    maxlen: int = 50  # n in the paper: the longest history the model reads
    hidden: int = 50  # d
    n_blocks: int = 2  # b
    n_heads: int = 1
    dropout: float = 0.5
    block_layout: str = "official"  # "official" (authors' TF code), "port" (+ W_O) or "pre_ln"
    mask_padding_keys: bool = True  # the PyTorch port lets real positions attend to padding
    fast: bool = True  # same maths, less work: packed tokens on the CPU, fused attention, byte dropout

    def __post_init__(self):
        for name in ("n_items", "maxlen", "hidden", "n_blocks", "n_heads"):
            check_int(name, getattr(self, name), 1)
        if self.hidden % self.n_heads != 0:
            raise ValueError(f"hidden size {self.hidden} must be divisible by n_heads {self.n_heads}")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        if self.block_layout not in BLOCK_LAYOUTS:
            raise ValueError(f"block_layout must be one of {BLOCK_LAYOUTS}, got {self.block_layout!r}")
        for name in ("mask_padding_keys", "fast"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SASRecConfig:
        """The config saved by :meth:`to_dict`, also from before ``fast`` replaced the legacy keys."""
        d = {k: v for k, v in d.items() if k not in LEGACY_KEYS}
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown SASRecConfig keys: {sorted(unknown)}")
        return cls(**d)


# ---------------------------------------------------------------------------------------------------
# Masks. Convention: True = may attend, as in F.scaled_dot_product_attention (nn.MultiheadAttention,
# which the port uses, takes the opposite: True = blocked, hence its ``~tril``).


def causal_mask(length: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(L, L) bool, True where query position i may attend to key position j, i.e. j ≤ i."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def attention_mask(seq: torch.Tensor, mask_padding_keys: bool = True) -> torch.Tensor:
    """(B, L, L) allowed-mask for left-padded ``seq`` (B, L): causal ∧ (key is a real item ∨ key = query).

    The authors fill blocked scores with −2³²+1, so a padding query, which may attend to nothing,
    gets a uniform softmax instead of NaN, and then zero it. With a true −∞ a row of only blocked keys
    would be NaN; so every position may attend to itself: real positions lose nothing (they may
    attend to themselves anyway), padding rows stay finite and are zeroed by the timeline mask.
    """
    batch, length = seq.shape
    allowed = causal_mask(length, seq.device).expand(batch, length, length)  # (B, L, L)
    if mask_padding_keys:
        real_key = (seq != 0)[:, None, :]  # (B, 1, L)
        itself = torch.eye(length, dtype=torch.bool, device=seq.device)  # (L, L)
        allowed = (allowed & real_key) | itself
    return allowed


class Batch:
    """What every step of one forward pass needs to know about the batch; built once by ``encode``.

    Plain: tokens live on the padded (B, L, C) grid, padding rows zeroed after every step.
    Packed (fast path on the CPU): only the n real tokens, as an (n, C) tensor. Everything but
    attention works position by position, and with padding keys masked, padding never reaches a
    real position, so skipping it is exact; a Games batch padded to L = 50 is ~90 % padding.
    """

    def __init__(self, seq: torch.Tensor, config: SASRecConfig, need_weights: bool = False):
        self.shape = seq.shape  # (B, L)
        self.real = seq != 0  # (B, L)
        self.allowed = attention_mask(seq, config.mask_padding_keys)  # (B, L, L)
        self.fast = config.fast and not need_weights  # the fused kernel never forms the weights
        # packing needs n on the host: free on the CPU, a sync on a GPU, where padding is cheap anyway
        self.packed = self.fast and config.mask_padding_keys and seq.device.type == "cpu"
        if self.packed:
            self.index = self.real.flatten().nonzero().squeeze(1)  # (n,) flat grid positions

    def tokens(self, grid: torch.Tensor) -> torch.Tensor:
        """(B, L, C) → packed (n, C), or the grid with padding rows zeroed (the timeline mask)."""
        if self.packed:
            return grid.flatten(0, 1).index_select(0, self.index)  # (n, C)
        return grid * self.real.unsqueeze(-1)  # (B, L, C)

    def grid(self, tokens: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`tokens`: (n, C) → (B, L, C) with zero rows at padding."""
        if not self.packed:
            return tokens
        batch, length = self.shape
        flat = tokens.new_zeros(batch * length, tokens.shape[-1])  # (B·L, C)
        return flat.index_copy(0, self.index, tokens).view(batch, length, -1)  # (B, L, C)

    def timeline_mask(self, tokens: torch.Tensor) -> torch.Tensor:
        """Zero the padding rows again (packed tokens have none)."""
        return tokens if self.packed else tokens * self.real.unsqueeze(-1)


class Dropout(nn.Module):
    """Inverted dropout, zero with probability p and scale by 1/(1−p), as TF's ``tf.layers.dropout``."""

    def __init__(self, config: SASRecConfig):
        super().__init__()
        self.config, self.p = config, config.dropout  # the model's own config: ``model.config.fast`` switches us

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.fast:  # 8 random bits per element instead of a Bernoulli draw (~9× faster on the CPU)
            return byte_dropout(x, self.p, self.training)
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# ---------------------------------------------------------------------------------------------------
# §III-B self-attention (TF: modules.multihead_attention)


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product attention; queries and keys/values may come from different inputs."""

    def __init__(self, config: SASRecConfig):
        super().__init__()
        hidden = config.hidden
        self.n_heads, self.head_dim = config.n_heads, hidden // config.n_heads
        # TF: three tf.layers.dense(…, num_units, activation=None): W^Q, W^K, W^V with biases
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        # the authors add nothing after the weighted sum; nn.MultiheadAttention (the port) adds W_O
        self.out = nn.Linear(hidden, hidden) if config.block_layout == "port" else None
        self.attention_dropout = Dropout(config)  # TF: dropout on the attention weights themselves

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        # TF splits the features into h contiguous chunks (tf.split(Q, h, axis=2)): the same split
        return x.view(batch, length, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, L, d_h)

    def forward(self, queries: torch.Tensor, keys_values: torch.Tensor, batch: Batch):
        """queries, keys_values: tokens ((B, L, C) or packed (n, C)) → same layout, weights (B, H, L, L) | None."""
        B, L = batch.shape
        q = self._heads(batch.grid(self.query(queries)))  # Q = queries W^Q: (B, H, L, d_h)
        k = self._heads(batch.grid(self.key(keys_values)))  # K = keys W^K: (B, H, L, d_h)
        v = self._heads(batch.grid(self.value(keys_values)))  # V = keys W^V: (B, H, L, d_h)
        allowed = batch.allowed[:, None]  # (B, 1, L, L)
        p = self.attention_dropout.p if self.training else 0.0
        if batch.fast and not (p > 0 and byte_dropout_active(q)):  # fused kernel; on the CPU its dropout is slow
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=p)  # (B, H, L, d_h)
            weights = None
        else:  # plain, spelled out; the only path that can return the weights
            # A = softmax(Q Kᵀ / √d_h), blocked (future, padding) keys at −∞ so they get weight 0
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, H, L, L)
            weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)  # (B, H, L, L)
            # S = Dropout(A) V
            context = self.attention_dropout(weights) @ v  # (B, H, L, d_h)
        context = context.transpose(1, 2).reshape(B, L, -1)  # concatenate the heads: (B, L, C)
        out = batch.tokens(context)  # back to the token layout: (B, L, C) or (n, C)
        return (out if self.out is None else self.out(out)), weights


# ---------------------------------------------------------------------------------------------------
# §III-B point-wise feed-forward (TF: modules.feedforward, two conv1d with kernel size 1)


class PointWiseFeedForward(nn.Module):
    """FFN(x) = Dropout(W⁽²⁾ Dropout(ReLU(W⁽¹⁾ x + b⁽¹⁾)) + b⁽²⁾), the same MLP at every position."""

    def __init__(self, config: SASRecConfig):
        super().__init__()
        # a conv1d with kernel size 1 is a Linear applied position by position; net.0 / net.3 are
        # the parameter names of the committed checkpoints
        self.net = nn.Sequential(
            nn.Linear(config.hidden, config.hidden), nn.ReLU(), Dropout(config),
            nn.Linear(config.hidden, config.hidden), Dropout(config),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (…, C) → (…, C)


# ---------------------------------------------------------------------------------------------------
# §III-C one block: residual connections, layer normalisation, dropout


class Block(nn.Module):
    def __init__(self, config: SASRecConfig):
        super().__init__()
        self.layout = config.block_layout
        # LayerNorm(x) = γ ⊙ (x − μ) / √(σ² + ε) + β, ε = 1e-8 as TF's modules.normalize
        self.attention_norm = nn.LayerNorm(config.hidden, eps=1e-8)
        self.attention = SelfAttention(config)
        self.ffn_norm = nn.LayerNorm(config.hidden, eps=1e-8)
        self.ffn = PointWiseFeedForward(config)

    def forward(self, x: torch.Tensor, batch: Batch):
        """x: tokens (B, L, C) or packed (n, C) → same layout, attention weights (B, H, L, L) | None."""
        if self.layout == "pre_ln":
            # h = LN(x); x = x + Attn(h, h, h)
            h = self.attention_norm(x)
            attended, weights = self.attention(h, h, batch)
            x = x + attended
            # x = x + FFN(LN'(x))
            x = x + self.ffn(self.ffn_norm(x))
        else:  # official, port
            # Q = LN(x); x = Q + Attn(Q, x, x)   (TF: queries=normalize(seq), keys=seq; outputs += queries)
            q = self.attention_norm(x)
            attended, weights = self.attention(q, x, batch)
            x = q + attended
            # x = LN'(x); x = x + FFN(x)         (TF: feedforward(normalize(seq)); outputs += inputs)
            x = self.ffn_norm(x)
            x = x + self.ffn(x)
        return batch.timeline_mask(x), weights  # TF: seq *= mask after every block


# ---------------------------------------------------------------------------------------------------
# The model (TF: model.Model)


class SASRec(nn.Module):
    def __init__(self, config: SASRecConfig):
        super().__init__()
        self.config = config
        self.item_embedding = nn.Embedding(config.n_items + 1, config.hidden, padding_idx=0)  # M
        self.position_embedding = nn.Embedding(config.maxlen, config.hidden)  # P
        self.embedding_dropout = Dropout(config)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_blocks))
        self.final_norm = nn.LayerNorm(config.hidden, eps=1e-8)
        self.check_inputs = True  # the trainer turns this off for batches it built itself
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """As the authors' TF code: Glorot-uniform for every matrix, embeddings included (their
        ``tf.get_variable`` and ``tf.layers.dense``/``conv1d`` default), zero biases, LayerNorm
        γ = 1 and β = 0, and the padding row of the item table zero (their ``zero_pad``)."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.xavier_uniform_(module.weight)  # U(±√(6 / (fan_in + fan_out)))
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
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
        """seq: (B, L) left-padded ids → features F⁽ᵇ⁾ (B, L, C) [, attention weights (B, H, L, L) per block].

        ``item_vectors`` (B, L, C) may pass ``M[seq]`` already looked up (see ``forward``).
        ``return_weights=True`` takes the plain path, the one that forms the weights.
        """
        if self.check_inputs:
            self.validate(seq)
        batch = Batch(seq, self.config, need_weights=return_weights)
        length = seq.shape[1]
        # Column t of an L-wide input gets position L−1−t, counted back from the most recent item.
        # The authors feed inputs of fixed length maxlen, left-padded, and number columns 0..maxlen−1
        # left to right, so their position p is our maxlen−1−p: one embedding per column either way,
        # the rows of P in reverse order; counting back also keeps the newest item at position 0
        # when an input is shorter than maxlen.
        positions = torch.arange(length - 1, -1, -1, device=seq.device)  # (L,)
        if item_vectors is None:
            item_vectors = self.item_embedding(seq)  # M[seq]: (B, L, C)
        # Ê = √d · M[seq] + P   (TF: embedding(scale=True) for items, scale=False for positions)
        x = item_vectors * math.sqrt(self.config.hidden) + self.position_embedding(positions)  # (B, L, C)
        # Ê ← Dropout(Ê) · 1[seq ≠ 0]: the timeline mask, or the padding dropped
        x = batch.tokens(self.embedding_dropout(x))  # (B, L, C) or (n, C)
        all_weights = []
        for block in self.blocks:
            x, weights = block(x, batch)
            all_weights.append(weights)
        features = batch.grid(self.final_norm(x))  # F⁽ᵇ⁾ = LN(x): (B, L, C)
        if batch.packed:  # padding positions get what the grid gives them: LN(0) = β
            features = torch.where(batch.real.unsqueeze(-1), features, self.final_norm.bias)
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
        # r(i, t) = F_t · M_i
        logits = (features * vectors[1:]).sum(-1)  # (2, B, L)
        return logits[0], logits[1]

    def score(self, histories: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of the next item after each history: (B, K) for candidates (B, K), or (B, N+1)."""
        if self.check_inputs and bool((histories == 0).all(dim=1).any()):
            raise ValueError("every history must contain at least one item (a row is all padding)")
        last = self.encode(histories)[:, -1, :]  # (B, C) the state after the most recent item
        if candidates is None:
            return last @ self.item_embedding.weight.T  # (B, N+1)
        return (self.item_embedding(candidates) @ last.unsqueeze(-1)).squeeze(-1)  # (B, K)


def load_compact_sasrec(path: str | os.PathLike, device: torch.device | str = "cpu",
                        n_items: int | None = None) -> SASRec:
    """A model saved by ``training.results.save_compact_model``, in eval mode.

    Checkpoints from before the ``port`` layout existed say ``block_layout: "official"`` but were
    trained with an output projection W_O (``…attention.out.weight``): they load as ``port``.
    ``n_items``: the catalogue size of the data it will score; a model trained on another raises.
    """
    saved, state = load_compact_model(path)
    config = SASRecConfig.from_dict(saved)
    if n_items is not None and config.n_items != n_items:
        raise ValueError(f"{path} was trained on {config.n_items} items, the data has {n_items}")
    if config.block_layout == "official" and any(k.endswith("attention.out.weight") for k in state):
        config.block_layout = "port"
    model = SASRec(config)
    model.load_state_dict(state)
    return model.to(device).eval()


# ---------------------------------------------------------------------------------------------------
# §III-E loss (TF: model.Model.loss, without the l2_emb term, which the trainer adds)


def sasrec_loss(pos_logits: torch.Tensor, neg_logits: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with one sampled negative per position, over non-padding targets.

        L = − Σ_t [ log σ(r(pos_t, t)) + log(1 − σ(r(neg_t, t))) ] / #{t : pos_t ≠ 0}
    """
    real = pos != 0  # (B, L)
    bce = nn.functional.binary_cross_entropy_with_logits
    return bce(pos_logits[real], torch.ones_like(pos_logits[real])) + bce(
        neg_logits[real], torch.zeros_like(neg_logits[real])
    )

"""MGNM, top to bottom as in the paper (Tian et al., SIGIR 2022, §3):

    e_i = M[item_i], p_u = P[user]                         embeddings (B, L, d), (B, d)
    A   = σ(Σ_k e_ik e_jk p_uk)  (or σ(e_i · e_j))          the user's item graph (graph.py)
    Â   = D^{-1/2}(A + I)D^{-1/2}
    X⁽⁰⁾ = E,  X⁽ˡ⁺¹⁾ = σ(Â X⁽ˡ⁾ W⁽ˡ⁾ + b⁽ˡ⁾)                levels 0..L (gcn.py)
    per level l: K interests v_{l,1..K} by chapter 3's routing over X⁽ˡ⁾, with the BiLSTM's
                 time-order correction from the second iteration on (sequence.py)
    training:    per level, a label-aware readout u_l = Σ_k softmax_k(e_t · v_lk) v_lk, a sigmoid
                 cross-entropy of u_l · e against the target and n uniform negatives; summed over
                 levels, + λ₁ ‖A‖₁
    serving:     score(i) = max_{l, j} v_{l,j} · e_i          (max over levels × interests)

The router, its predictions û (one map per position and interest, as ComiRec-DR) and the random
initial logits are chapter 3's ``MultiInterestModel``; one router serves every level, as one
capsule layer does in the public code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..capsules.interests import InterestConfig, MultiInterestModel
from .gcn import MultiLevelGCN
from .graph import EDGE_FORMS, adjacency_l1, edge_weights, keep_strongest, normalise
from .sequence import TimeOrderEncoder

READOUTS = ("attention", "hard")


@dataclass
class MGNMConfig:
    n_items: int
    n_users: int
    maxlen: int = 50  # the public code: 100
    hidden: int = 16  # d, as in the public code
    n_interests: int = 4  # K
    levels: int = 3  # convolved levels; with the raw one, the public code's 4
    routing_iterations: int = 3
    edge_form: str = "user_aware"  # "plain": the form the public code runs
    keep_per_row: int | None = None  # sparsify the graph to each node's strongest edges
    iterative_gcn: bool = True  # False: the public code's one-hop levels
    shared_gcn_weights: bool = False  # True: its first release (every level the same)
    time_order: bool = True  # the BiLSTM correction of the routing
    public_code_reshape: bool = False  # the BiLSTM with the public code's reshapes
    readout: str = "attention"  # label-aware attention over the K interests; "hard": argmax (ComiRec)
    readout_power: float = 1.0  # p of the attention readout (the public code: 1)
    l1_adjacency: float = 1e-5  # λ₁, as in the public code
    seed: int = 0

    def __post_init__(self):
        for name in ("n_items", "n_users", "maxlen", "hidden", "n_interests", "routing_iterations"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer ≥ 1, got {value!r}")
        if not isinstance(self.levels, int) or self.levels < 0:
            raise ValueError(f"levels must be an integer ≥ 0, got {self.levels!r}")
        if self.edge_form not in EDGE_FORMS:
            raise ValueError(f"edge_form must be one of {EDGE_FORMS}, got {self.edge_form!r}")
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        if not self.readout_power > 0:
            raise ValueError(f"readout_power must be > 0, got {self.readout_power}")
        if self.time_order and self.routing_iterations < 3:
            raise ValueError("time_order needs routing_iterations ≥ 3 (it enters from the second iteration)")

    def to_dict(self) -> dict:
        return asdict(self)


class MGNM(nn.Module):
    def __init__(self, config: MGNMConfig):
        super().__init__()
        self.config = config
        self.interests_model = MultiInterestModel(InterestConfig(
            config.n_items, maxlen=config.maxlen, hidden=config.hidden, n_interests=config.n_interests,
            routing_iterations=config.routing_iterations, bilinear="per_position", logits_init="random",
            seed=config.seed))
        self.item_embedding = self.interests_model.item_embedding  # M, shared with the router's model
        generator = torch.Generator().manual_seed(config.seed + 1)
        self.user_embedding = nn.Embedding(config.n_users + 1, config.hidden)  # P
        nn.init.normal_(self.user_embedding.weight, std=config.hidden**-0.5, generator=generator)
        self.gcn = MultiLevelGCN(config.hidden, config.levels, iterative=config.iterative_gcn,
                                 shared_weights=config.shared_gcn_weights)
        self.time_order = (TimeOrderEncoder(config.hidden, config.n_interests, config.public_code_reshape)
                           if config.time_order else None)

    def graph(self, histories: Tensor, users: Tensor) -> tuple[Tensor, Tensor]:
        """(B, L) ids, (B,) users → adjacency A (B, L, L) (for the L1 term) and Â (B, L, L)."""
        real = histories != 0
        adjacency = edge_weights(self.item_embedding(histories), real, self.user_embedding(users),
                                 self.config.edge_form)
        if self.config.keep_per_row:
            adjacency = keep_strongest(adjacency, self.config.keep_per_row)
        return adjacency, normalise(adjacency, real)

    def forward(self, histories: Tensor, users: Tensor, generator: torch.Generator | None = None):
        """histories (B, L) left-padded ids, users (B,) → interests (B, levels + 1, K, d),
        couplings (B, levels + 1, L, K) and the adjacency A (B, L, L)."""
        self.interests_model.validate(histories)
        if users.shape != histories.shape[:1] or int(users.min()) < 1 or int(users.max()) > self.config.n_users:
            raise ValueError(f"users: expected {histories.shape[0]} ids in 1..{self.config.n_users}")
        real = histories != 0
        adjacency, graph = self.graph(histories, users)
        levels = self.gcn(self.item_embedding(histories), graph, real)  # [X⁽⁰⁾ … X⁽ᴸ⁾], each (B, L, d)
        logits = self.interests_model.initial_logits(histories, generator)  # (B, L, K), one draw for all levels
        # the same router routes every level: the levels ride in the batch dimension, one call
        n = len(levels)
        x = torch.cat(levels, 0)  # (n·B, L, d), level-major
        v, c = self.interests_model.router(x, real.repeat(n, 1), logits.repeat(n, 1, 1),
                                           sequence_residual=self.time_order)
        B = histories.shape[0]
        interests = v.view(n, B, *v.shape[1:]).transpose(0, 1)  # (B, levels + 1, K, d)
        couplings = c.view(n, B, *c.shape[1:]).transpose(0, 1)  # (B, levels + 1, L, K)
        return interests, couplings, adjacency

    def readout(self, interests: Tensor, targets: Tensor) -> Tensor:
        """Label-aware readout per level: interests (B, levels + 1, K, d), targets (B,) → (B, levels + 1, d).

        "attention" (the public code): u_l = Σ_k softmax_k((e_t · v_lk)^p) v_lk, p = ``readout_power``;
        "hard" (ComiRec's, p → ∞): u_l = the v_lk that scores the target best."""
        affinity = torch.einsum("blkd,bd->blk", interests, self.item_embedding(targets))  # e_t · v_lk
        if self.config.readout == "hard":
            chosen = affinity.argmax(-1)  # (B, levels + 1)
            return interests.gather(2, chosen[..., None, None].expand(-1, -1, 1, interests.shape[-1])).squeeze(2)
        power = self.config.readout_power
        weights = torch.softmax(affinity if power == 1 else affinity.sign() * affinity.abs().pow(power), -1)
        return torch.einsum("blk,blkd->bld", weights, interests)

    def level_logits(self, interests: Tensor, targets: Tensor, candidates: Tensor) -> Tensor:
        """interests (B, levels + 1, K, d), targets (B,), candidates (B, C) → logits (B, levels + 1, C):
        each level's target-aware user vector against every candidate."""
        user = self.readout(interests, targets)  # (B, levels + 1, d)
        return torch.einsum("bld,bcd->blc", user, self.item_embedding(candidates))

    def loss(self, histories: Tensor, users: Tensor, targets: Tensor, negatives: Tensor,
             generator: torch.Generator | None = None) -> Tensor:
        """Σ_levels mean BCE(target = 1, negatives = 0) + λ₁ ‖A‖₁ / B; negatives (B, n)."""
        interests, _, adjacency = self(histories, users, generator)
        candidates = torch.cat([targets[:, None], negatives], 1)  # (B, 1 + n)
        labels = torch.zeros_like(candidates, dtype=interests.dtype)
        labels[:, 0] = 1.0
        logits = self.level_logits(interests, targets, candidates)  # (B, levels + 1, 1 + n)
        per_level = F.binary_cross_entropy_with_logits(
            logits, labels[:, None].expand_as(logits), reduction="none").mean(dim=(0, 2))  # (levels + 1,)
        return per_level.sum() + self.config.l1_adjacency * adjacency_l1(adjacency) / len(histories)

    def score(self, histories: Tensor, candidates: Tensor | None = None, users: Tensor | None = None) -> Tensor:
        """max over levels × interests of v · e: (B, C) for candidates (B, C), else (B, N + 1).

        The ``RankingEvaluator`` scorer with ``with_users=True`` (the graph depends on the user)."""
        if users is None:
            raise ValueError("MGNM scores a history for a user: pass users (B,) (evaluator: with_users=True)")
        interests, _, _ = self(histories, users)
        flat = interests.flatten(1, 2)  # (B, (levels + 1)·K, d)
        return self.interests_model.score_interests(flat, candidates)

"""From digits to interests: behaviour-to-interest dynamic routing (MIND, ComiRec-DR).

A user's recent items are the *behaviour capsules* e_i; routing groups them into K *interest
capsules* v_j, each a vector in item-embedding space, and every interest retrieves items on its own.

    e_i      = M[item_i]                       behaviour capsule: the embedded history item, (B, L, d)
    û_{j|i}  = S e_i           (MIND)          one bilinear map shared by every interest
    û_{j|i}  = S_{ij} e_i      (ComiRec-DR)    one map per (position, interest), as in CapsNet
    b_{ij}   = 0 (ComiRec) or ~ N(0, σ²) (MIND), fixed for the whole routing of one forward
    repeat r times:
        c_{ij} = softmax_j(b_{ij})             over the INTEREST axis: each behaviour splits itself
        s_j    = Σ_i c_{ij} û_{j|i}            (padding behaviours have c_{ij} = 0)
        v_j    = squash(s_j)
        b_{ij} ← b_{ij} + û_{j|i} · v_j        agreement pulls a behaviour towards an interest

Training reads out, for the target item t, the interest that scores it highest,
v_u = v_{j*} with j* = argmax_j v_j · M[t] (ComiRec's hard readout; MIND's label-aware attention
softmax(pow(V e_t, p)) tends to it as p → ∞), and trains v_u with a softmax over all items.
Serving scores every item with every interest and keeps the best: score(i) = max_j v_j · M[i].

Not implemented: MIND's dynamic number of interests K'_u = max(1, min(K, log₂|I_u|)), its user
profile features and the MLP above the capsules.

References: Li et al., "Multi-Interest Network with Dynamic Routing for Recommendation at Tmall",
CIKM 2019; Cen et al., "Controllable Multi-Interest Framework for Recommendation", KDD 2020.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .routing import squash


@dataclass
class InterestConfig:
    n_items: int
    maxlen: int = 50
    hidden: int = 64
    n_interests: int = 4
    routing_iterations: int = 3
    bilinear: str = "per_position"  # "per_position": S_ij (ComiRec-DR); "shared": one S (MIND)
    logits_init: str = "zero"  # "zero" (ComiRec-DR) or "random" (MIND)
    logits_std: float = 1.0  # σ of the random initial logits (ComiRec's MIND baseline uses 1)
    detach_routing: bool = True  # ComiRec's code: no gradient through the routing iterations
    seed: int = 0  # initial weights and the serving draw of random logits

    def __post_init__(self):
        for name in ("n_items", "maxlen", "hidden", "n_interests", "routing_iterations"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer ≥ 1, got {value!r}")
        if self.bilinear not in ("shared", "per_position"):
            raise ValueError(f"bilinear must be 'shared' or 'per_position', got {self.bilinear!r}")
        if self.logits_init not in ("zero", "random"):
            raise ValueError(f"logits_init must be 'zero' or 'random', got {self.logits_init!r}")
        if not self.logits_std > 0:
            raise ValueError(f"logits_std must be > 0, got {self.logits_std!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class MultiInterestRouter(nn.Module):
    """Behaviour capsules (B, L, d) → interest capsules (B, K, d) and couplings (B, L, K)."""

    def __init__(self, config: InterestConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        d, K = config.hidden, config.n_interests
        # std 1/√d: û = S e keeps the length of e on average
        if config.bilinear == "shared":
            self.maps = nn.Parameter(torch.empty(d, d))  # S: (d_out, d_in)
        else:
            # S_ij: (maxlen, K, d_out, d_in); row maxlen − 1 is the most recent behaviour. Counting
            # back from the most recent item (ComiRec's code counts from the oldest one kept) makes
            # the map of a behaviour independent of the amount of left padding.
            self.maps = nn.Parameter(torch.empty(config.maxlen, K, d, d))
        nn.init.normal_(self.maps, std=d**-0.5, generator=generator)

    def predictions(self, behaviours: torch.Tensor) -> torch.Tensor:
        """û_{j|i}: (B, L, d) → (B, L, K, d)."""
        batch, length, d = behaviours.shape
        if self.config.bilinear == "shared":
            # û_{j|i} = S e_i, the same vector for every interest j
            u_hat = behaviours @ self.maps.T  # (B, L, d)
            return u_hat.unsqueeze(2).expand(batch, length, self.config.n_interests, d)
        # û_{j|i} = S_ij e_i
        return torch.einsum("bli,lkoi->blko", behaviours, self.maps[-length:])  # (B, L, K, d)

    def forward(self, behaviours: torch.Tensor, real: torch.Tensor, logits: torch.Tensor,
                sequence_residual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None):
        """behaviours (B, L, d), real (B, L) bool (False = padding), initial logits b (B, L, K).

        Returns interests v (B, K, d) and the coupling coefficients c (B, L, K) of the last
        iteration: rows of real behaviours sum to 1, padding rows are exactly 0.

        ``sequence_residual(û, real)`` (MGNM's sequential capsules, e.g. ``mgnm.sequence.
        TimeOrderEncoder``) returns a (B, L, K, d) correction computed from the predictions in time
        order; from the second iteration on, the iterations before the last route with
        ũ = û + correction (the last one, which makes the interests, uses û as always).
        """
        u_hat = self.predictions(behaviours)  # (B, L, K, d)
        # the couplings are a clustering of the behaviours, not something to backpropagate
        # through: ComiRec's code routes with a stop-gradient copy and lets the gradient reach û
        # only through the final weighted sum
        u_route = u_hat.detach() if self.config.detach_routing else u_hat
        iterations = self.config.routing_iterations
        if sequence_residual is not None and iterations < 3:
            raise ValueError(f"the time-order correction enters from the 2nd of ≥ 3 iterations; got {iterations}")
        time_ordered = None
        real_mask = real
        real = real.unsqueeze(-1).to(behaviours.dtype)  # (B, L, 1)
        for iteration in range(iterations):
            last = iteration == iterations - 1
            if sequence_residual is not None and iteration == 1:
                # ũ_{j|i} = û_{j|i} + (W h_i)_j, h = BiLSTM over the (stop-gradient) predictions
                time_ordered = u_route + sequence_residual(u_route.detach(), real_mask)
            u = u_hat if last else (u_route if time_ordered is None else time_ordered)
            # c_ij = exp(b_ij) / Σ_k exp(b_ik): each behaviour distributes itself over the K
            # interests (softmax over j, NOT over the behaviours i); padding then gets c = 0
            coupling = torch.softmax(logits, dim=-1) * real  # (B, L, K)
            # s_j = Σ_i c_ij û_{j|i}
            s = torch.einsum("blk,blkd->bkd", coupling, u)  # (B, K, d)
            # v_j = squash(s_j)
            interests = squash(s)  # (B, K, d)
            if not last:
                # b_ij ← b_ij + û_{j|i} · v_j
                logits = logits + torch.einsum("blkd,bkd->blk", u, interests)  # (B, L, K)
        return interests, coupling


class MultiInterestModel(nn.Module):
    """Item embeddings + behaviour-to-interest routing; a scorer for ``RankingEvaluator``."""

    def __init__(self, config: InterestConfig):
        super().__init__()
        self.config = config
        generator = torch.Generator().manual_seed(config.seed)
        self.item_embedding = nn.Embedding(config.n_items + 1, config.hidden, padding_idx=0)
        nn.init.normal_(self.item_embedding.weight, std=config.hidden**-0.5, generator=generator)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()  # padding: e = 0, so û = 0
        self.router = MultiInterestRouter(config, generator)
        if config.logits_init == "random":
            # serving needs a deterministic answer: one draw of b, (maxlen, K), indexed from the
            # most recent behaviour and shared by all users, so that a user's interests depend on
            # neither the batch they are scored in nor the amount of left padding
            draw = torch.randn(config.maxlen, config.n_interests, generator=generator) * config.logits_std
            self.register_buffer("serving_logits", draw)
        self.check_inputs = True  # the trainer turns this off for batches it built itself

    def validate(self, histories: torch.Tensor) -> None:
        if histories.dtype not in (torch.int64, torch.int32) or histories.dim() != 2:
            raise ValueError(f"histories must be a 2-D integer tensor (batch, length), got "
                             f"{histories.dtype} {tuple(histories.shape)}")
        if histories.shape[1] > self.config.maxlen:
            raise ValueError(f"histories: length {histories.shape[1]} exceeds maxlen {self.config.maxlen}")
        if histories.numel() and (int(histories.min()) < 0 or int(histories.max()) > self.config.n_items):
            raise ValueError(f"histories: item ids must lie in 0..{self.config.n_items} (0 = padding)")

    def initial_logits(self, histories: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """b at the start of routing, (B, L, K).

        With a shared map every û_{j|i} = S e_i is the same for all j, so b = 0 gives every interest
        the same couplings, hence the same s_j, the same v_j and the same update: the K interests
        are identical from the first iteration to the last. MIND draws b at random to break this
        symmetry. ComiRec-DR's per-(position, interest) maps already make û_{j|i} differ across
        j, so it can start from 0.
        """
        batch, length = histories.shape
        shape = (batch, length, self.config.n_interests)
        if self.config.logits_init == "zero":
            return torch.zeros(shape, device=histories.device)
        if self.training:  # a fresh draw per forward, kept through its routing iterations
            noise = torch.randn(shape, generator=generator, device=histories.device)
            return noise * self.config.logits_std
        return self.serving_logits[-length:].expand(shape)

    def forward(self, histories: torch.Tensor, logits: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """histories (B, L) left-padded ids → interests (B, K, d), couplings (B, L, K).

        ``logits`` (B, L, K) overrides the initial routing logits (by default: ``initial_logits``).
        """
        if self.check_inputs:
            self.validate(histories)
        if logits is None:
            logits = self.initial_logits(histories, generator)
        behaviours = self.item_embedding(histories)  # e_i: (B, L, d)
        return self.router(behaviours, histories != 0, logits)

    def readout(self, interests: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hard readout: interests (B, K, d), targets (B,) → user vectors (B, d), chosen j* (B,).

            j* = argmax_j v_j · M[t]        (inner product, not cosine: it is what serving ranks by)
        """
        target_vectors = self.item_embedding(targets)  # (B, d)
        affinity = torch.einsum("bkd,bd->bk", interests, target_vectors)  # (B, K)
        chosen = affinity.argmax(dim=1)  # (B,)
        return interests[torch.arange(len(targets), device=targets.device), chosen], chosen

    def loss(self, histories: torch.Tensor, targets: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Softmax cross-entropy of the next item over all N items, averaged over the batch.

            L = − log( exp(v_u · M[t]) / Σ_{i=1..N} exp(v_u · M[i]) )

        A full softmax, not the sampled one of ComiRec: their catalogues have hundreds of
        thousands of items, Games has 23,715, where the (B, N) logits are one matmul and the
        exact gradient leaves no sampling distribution to get wrong.
        """
        interests, _ = self(histories, generator=generator)
        user, _ = self.readout(interests, targets)  # (B, d)
        logits = user @ self.item_embedding.weight[1:].T  # (B, N): items 1..N, never the padding id
        return F.cross_entropy(logits, targets - 1)

    def score_interests(self, interests: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """Merged scores max_j v_j · M[i]: (B, C) for candidates (B, C), or (B, N + 1) for all items.

        Taking the max per item is what "retrieve the top N with each interest, merge the K lists
        by score" returns: an item's best score is reached by some interest, whose own top N
        holds it whenever it belongs to the merged top N.
        """
        if candidates is None:
            per_interest = interests @ self.item_embedding.weight.T  # (B, K, N + 1)
        else:
            per_interest = torch.einsum("bkd,bcd->bkc", interests, self.item_embedding(candidates))  # (B, K, C)
        return per_interest.amax(dim=1)

    def score(self, histories: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """The ``RankingEvaluator`` scorer: (B, L) histories → (B, C) or (B, N + 1) scores."""
        if self.check_inputs and bool((histories == 0).all(dim=1).any()):
            raise ValueError("every history must contain at least one item (a row is all padding)")
        interests, _ = self(histories)
        return self.score_interests(interests, candidates)

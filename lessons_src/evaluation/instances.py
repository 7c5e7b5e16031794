"""Evaluation by instances, the protocol of the public MGNM code done with a validation set.

Every validation or test position of a ``ChronologicalSplit`` is one instance: the user's history
before it, the true next item, and ``n_negatives`` items drawn uniformly among those the user had
not interacted with up to and including that item. Per instance, with ``rank`` the number of
candidates scored above the target (ties: expected over random tie-breaking, as ``metrics``):

    HIT@k  = 1[rank < k]          NDCG@k = 1[rank < k] / log2(rank + 2)
    MRR    = 1 / (rank + 1)       MRR@k  = 1[rank < k] / (rank + 1)

averaged over instances. With ``n_negatives=None`` the candidates are every item the user had not interacted with (full
ranking). Two more (sampled protocol only), as the public code computes them over a user's instances pooled
into one list (every positive and every negative of that user):

    GAUC   = Σ_u n_u AUC_u / Σ_u n_u,  AUC_u = P(s_pos > s_neg) over the user's (pos, neg) pairs,
             n_u = the user's rows (positives + negatives)
    pooled HIT/NDCG/MRR@k: the rank of the user's best-placed positive among all the user's
             negatives, averaged over users — one hit per user, however many targets the user has
             (ties: expected over random tie-breaking; the public code's sort orders tied
             candidates by their position in its list instead).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.stats import rankdata
from tqdm.auto import tqdm

from ..data.split import ChronologicalSplit
from .metrics import expected_hit_rate, expected_ndcg, rank_counts
from .negatives import HistoryIndex
from .ranking import left_pad

Scorer = Callable[..., torch.Tensor]  # (histories (B, L), candidates (B, C), users (B,)) → (B, C)


def expected_reciprocal_rank(above: torch.Tensor, ties: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """E[1[rank < k] / (rank + 1)] for rank uniform on {above, …, above + ties}; k=None: no cut-off.

    Σ_{r=a}^{b} 1/(r + 1) = H(b + 1) − H(a), with H(n) = ψ(n + 1) + γ (harmonic numbers)."""
    low = above.double()
    high = low + ties.double()  # the largest possible rank
    if k is not None:
        high = high.clamp(max=k - 1)
    harmonic = lambda n: torch.special.digamma(n + 1.0)  # noqa: E731 (γ cancels in the difference)
    total = torch.where(high >= low, harmonic(high + 1) - harmonic(low), torch.zeros_like(low))
    return total / (ties.double() + 1)


class InstanceEvaluator:
    """Precomputes every instance's history and candidates once; call it with a scorer."""

    def __init__(self, split: ChronologicalSplit, stage: str = "valid", history_len: int = 50,
                 n_negatives: int | None = 100, k: int = 5, seed: int = 0, batch_size: int = 512,
                 device: torch.device | str = "cpu", distinct: bool = False):
        """``n_negatives=None``: full ranking — the target against every item the user had not
        interacted with; ``distinct``: the sampled negatives of an instance are all different (drawn
        without replacement; default: uniform with replacement, as the public code)."""
        if n_negatives is not None and n_negatives < 1:
            raise ValueError(f"n_negatives must be ≥ 1 or None (full ranking), got {n_negatives}")
        self.stage, self.k, self.batch_size, self.device = stage, k, batch_size, torch.device(device)
        users, positions = split.instances(stage)
        if len(users) == 0:
            raise ValueError(f"no user of {split.name!r} has a {stage} instance")
        self.users, self.positions, self.n_items = users, positions, split.n_items
        histories = [split.sequences[u][:p] for u, p in zip(users, positions)]
        targets = np.array([split.sequences[u][p] for u, p in zip(users, positions)], dtype=np.int64)
        self.targets = torch.as_tensor(targets, device=self.device)
        self.histories = torch.as_tensor(left_pad(histories, history_len), device=self.device)
        known = [split.sequences[u][:p + 1] for u, p in zip(users, positions)]  # up to and incl. the target
        self.known = HistoryIndex(known, split.n_items, "cpu")
        self.full = n_negatives is None
        if self.full:
            self.candidates = None
            return
        generator = torch.Generator().manual_seed(seed)
        if distinct:
            negatives = self._distinct_negatives(n_negatives, generator)
        else:
            negatives = self.known.sample(torch.arange(len(users)), (n_negatives,), generator)
        self.candidates = torch.cat([torch.as_tensor(targets)[:, None], negatives], 1).to(self.device)  # (I, 1+n)

    def _distinct_negatives(self, n_negatives: int, generator: torch.Generator, chunk: int = 2048) -> torch.Tensor:
        """(I, n_negatives): per instance, a uniformly random subset of the items it never saw; an
        instance with fewer unseen items gets all of them, padded with id 0 (scored −∞)."""
        items = torch.arange(1, self.n_items + 1)
        out = []
        for start in range(0, len(self.users), chunk):
            rows = torch.arange(start, min(start + chunk, len(self.users)))
            seen = self.known.contains(rows, items.expand(len(rows), -1))  # (b, n)
            key = torch.rand(len(rows), self.n_items, generator=generator).masked_fill(seen, 2.0)
            order = key.argsort(1)[:, :n_negatives]
            chosen = items[order]
            out.append(chosen.masked_fill(key.gather(1, order) >= 2.0, 0))
        return torch.cat(out)

    @torch.no_grad()
    def scores(self, score: Scorer, progress: bool = False) -> torch.Tensor:
        """(I, 1 + n) candidate scores on the CPU; the target is column 0. Full ranking: the other
        columns are every item, with −∞ for the target itself, the padding id and the items the user
        had already interacted with."""
        out, user_ids = [], torch.as_tensor(self.users, device=self.device)
        for start in tqdm(range(0, len(self.users), self.batch_size), desc=f"instances {self.stage}",
                          disable=not progress, leave=False):
            rows = slice(start, start + self.batch_size)
            if not self.full:
                candidates = self.candidates[rows]
                scored = score(self.histories[rows], candidates, user_ids[rows]).float()
                out.append(scored.masked_fill(candidates == 0, float("-inf")).cpu())  # 0: no item
                continue
            every = score(self.histories[rows], None, user_ids[rows]).float().cpu()  # (b, n_items + 1)
            index = torch.arange(start, start + len(every))
            target = every.gather(1, self.targets[rows].cpu().view(-1, 1))  # (b, 1)
            seen = self.known.contains(index, torch.arange(self.n_items + 1).expand(len(every), -1))
            seen[:, 0] = True  # the padding id; the target is in ``known`` too
            out.append(torch.cat([target, every.masked_fill(seen, float("-inf"))], 1))
        return torch.cat(out)

    def __call__(self, score: Scorer, progress: bool = False) -> dict[str, float]:
        return self.metrics(self.scores(score, progress))

    def metrics(self, scores: torch.Tensor) -> dict[str, float]:
        k = self.k
        above, ties = rank_counts(scores, scores[:, 0])
        result = {
            f"HIT@{k}": float(expected_hit_rate(above, ties, k).mean()),
            f"NDCG@{k}": float(expected_ndcg(above, ties, k).mean()),
            "MRR": float(expected_reciprocal_rank(above, ties).mean()),
            f"MRR@{k}": float(expected_reciprocal_rank(above, ties, k).mean()),
        }
        if not self.full:  # pooling every item of every instance is the sampled protocol's
            result.update(self.pooled(scores))
        result["instances"] = len(self.users)
        return result

    def pooled(self, scores: torch.Tensor) -> dict[str, float]:
        """GAUC and the pooled-per-user HIT/NDCG/MRR@k of the public code (see the module docstring)."""
        k, scores = self.k, scores.double().numpy()
        bounds = np.flatnonzero(np.diff(self.users, prepend=-1, append=len(self.users) + 10**9))
        weighted_auc = rows_total = 0.0
        above, ties = [], []
        for first, last in zip(bounds[:-1], bounds[1:]):
            block = scores[first:last]  # (instances of this user, 1 + n)
            positives, negatives = block[:, 0], block[:, 1:].ravel()
            pooled = np.concatenate([positives, negatives])
            ranks = rankdata(pooled)  # 1-based, ties averaged (Mann–Whitney)
            P, N = len(positives), len(negatives)
            auc = (ranks[:P].sum() - P * (P + 1) / 2) / (P * N)
            weighted_auc += (P + N) * auc
            rows_total += P + N
            best = positives.max()  # the user's best-placed positive: its rank among the negatives
            above.append((negatives > best).sum())
            ties.append((negatives == best).sum())  # tied negatives: the rank is uniform over them
        above, ties = torch.as_tensor(above), torch.as_tensor(ties)
        hit = float(expected_hit_rate(above, ties, k).sum())
        gain = float(expected_ndcg(above, ties, k).sum())
        reciprocal = float(expected_reciprocal_rank(above, ties, k).sum())
        users = len(bounds) - 1
        return {"GAUC": float(weighted_auc / rows_total), f"pooled HIT@{k}": hit / users,
                f"pooled NDCG@{k}": gain / users, f"pooled MRR@{k}": reciprocal / users}

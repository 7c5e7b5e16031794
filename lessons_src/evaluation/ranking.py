"""Leave-one-out ranking evaluation shared by every sequential recommender in the book.

Two protocols score the held-out item of each user:

* ``sampled`` — the SASRec paper's: rank the target among 100 items drawn uniformly from those
  the user had not interacted with up to the target (optionally on a fixed subsample of 10,000
  users). For validation the test item is *not* excluded: excluding it would let the test target
  shape the candidates that select the model;
* ``full`` — rank the target among *all* items except the ones already in the user's history.

A scorer is any callable ``score(histories, candidates)`` where ``histories`` is a (B, L) tensor of
left-padded item ids and ``candidates`` is (B, C) item ids, or ``None`` to score every item
(then it returns (B, n_items + 1) scores; column 0, the padding id, is ignored). A model that also
needs to know *whose* history it reads (MGNM's user-aware graph) is called as
``score(histories, candidates, users)`` when the evaluator is asked ``with_users=True``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.split import SequentialSplit
from .metrics import expected_hit_rate, expected_ndcg, rank_counts
from .negatives import HistoryIndex

Scorer = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]


def left_pad(sequences: Sequence[np.ndarray], length: int) -> np.ndarray:
    """Keep the last ``length`` items of each sequence, padded with 0 on the left → (U, length)."""
    out = np.zeros((len(sequences), length), dtype=np.int64)
    for row, items in enumerate(sequences):
        tail = np.asarray(items[-length:], dtype=np.int64) if length else items[:0]
        if len(tail):
            out[row, length - len(tail):] = tail
    return out


class RankingEvaluator:
    """Precomputes users, histories and candidates once; call it with a scorer to get metrics."""

    def __init__(
        self,
        split: SequentialSplit,
        stage: str = "valid",
        protocol: str = "sampled",
        history_len: int = 50,
        n_negatives: int = 100,
        max_users: int | None = 10_000,
        ks: Sequence[int] = (10,),
        seed: int = 0,
        batch_size: int = 1024,
        device: torch.device | str = "cpu",
    ):
        if protocol not in ("sampled", "full"):
            raise ValueError(f"protocol must be 'sampled' or 'full', got {protocol!r}")
        self.stage, self.protocol, self.ks = stage, protocol, tuple(ks)
        self.batch_size, self.device = batch_size, torch.device(device)
        rng = np.random.default_rng(seed)
        users = split.evaluable_users(stage)
        if max_users is not None and len(users) > max_users:
            users = np.sort(rng.choice(users, size=max_users, replace=False))
        if len(users) == 0:
            raise ValueError(f"no user of {split.name!r} has a {stage} target")
        self.users = users
        histories = [split.history(int(u), stage) for u in users]
        self.histories = torch.as_tensor(left_pad(histories, history_len), device=self.device)
        self.targets = torch.as_tensor(split.target(stage)[users], device=self.device)
        if protocol == "sampled":
            # negatives: items the user had not interacted with up to and including the target.
            # For validation that is train + the validation item: the later test item may be drawn,
            # since model selection must see nothing of the test data (not even which item it is).
            known = [np.append(split.history(int(u), stage), target) for u, target in
                     zip(users, split.target(stage)[users])]
            index = HistoryIndex(known, split.n_items, "cpu")
            negatives = index.sample(torch.arange(len(users)), (n_negatives,), torch.Generator().manual_seed(seed))
            self.candidates = torch.cat([self.targets.cpu()[:, None], negatives], 1).to(self.device)  # (U, 1+n)
        else:
            self.seen = HistoryIndex(histories, split.n_items, self.device)  # masked out of the ranking

    @torch.no_grad()
    def rank_counts(self, score: Scorer, progress: bool = False,
                    with_users: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Per user: candidates scored above the target, and candidates tied with it; (U,) each, CPU."""
        above, ties = [], []
        user_ids = torch.as_tensor(self.users, device=self.device)
        starts = range(0, len(self.users), self.batch_size)
        for start in tqdm(starts, desc=f"{self.protocol} {self.stage}", disable=not progress, leave=False):
            rows = torch.arange(start, min(start + self.batch_size, len(self.users)), device=self.device)
            histories, targets = self.histories[rows], self.targets[rows]
            whose = (user_ids[rows],) if with_users else ()  # the users, for a scorer that asks
            if self.protocol == "sampled":
                scores = score(histories, self.candidates[rows], *whose).float()  # (B, 1+n); target in column 0
                target_scores = scores[:, 0]
            else:
                scores = score(histories, None, *whose).float().clone()  # (B, N+1)
                target_scores = scores.gather(1, targets[:, None]).squeeze(1)
                seen_rows, seen_items = self.seen.padded(rows)
                scores[seen_rows, seen_items] = -torch.inf  # already-seen items are not candidates
                scores[:, 0] = -torch.inf  # nor is padding
                scores.scatter_(1, targets[:, None], target_scores[:, None])
            batch_above, batch_ties = rank_counts(scores, target_scores)
            above.append(batch_above.cpu())
            ties.append(batch_ties.cpu())
        return torch.cat(above), torch.cat(ties)

    def ranks(self, score: Scorer, progress: bool = False, with_users: bool = False) -> torch.Tensor:
        """Expected 0-based rank of each user's target under random tie-breaking, (U,) float64."""
        above, ties = self.rank_counts(score, progress, with_users)
        return above.double() + 0.5 * ties.double()

    def __call__(self, score: Scorer, progress: bool = False, with_users: bool = False) -> dict[str, float]:
        """Mean HR@k and NDCG@k (expected under random tie-breaking) for every k, and the user count."""
        above, ties = self.rank_counts(score, progress, with_users)
        metrics: dict[str, float] = {}
        for k in self.ks:
            metrics[f"HR@{k}"] = float(expected_hit_rate(above, ties, k).mean())
            metrics[f"NDCG@{k}"] = float(expected_ndcg(above, ties, k).mean())
        metrics["users"] = len(above)
        return metrics

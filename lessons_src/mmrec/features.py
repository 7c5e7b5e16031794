"""From a MIND-format folder to the tensors MM-Rec reads.

* **Titles**: lowercased, split into words (runs of letters and digits, inner apostrophes kept),
  the first ``title_len`` kept. The vocabulary holds the words of the titles of news that occur in
  the *train* split (history or shown) at least ``min_word_count`` times, most frequent first:
  what a deployed model could have learnt. Other words are ``<unk>`` (id 1); id 0 pads.
* **Regions**: region 0 is the whole picture; regions 1..``regions`` are the largest boxes of
  ``boxes.tsv`` (an object detector's output, or the generator's true boxes). A folder without
  ``boxes.tsv`` (real pictures, no detector run) gets a fixed 2×2 grid instead, row by row. Each
  region is cropped and resized (bilinear) to ``crop_size``². A news item without a picture has
  every region masked, like the padding row 0.
* **Impressions**: per split, the user's index, the last ``history_len`` clicks of the history
  field (left-padded with 0, most recent last) and the shown news with their labels.

The built tensors are cached under ``cache_dir()/mmrec``, keyed by the folder, its files' sizes
and times, and the settings; the cache loads with ``weights_only=True``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lessons_src.data.derived import cached
from lessons_src.training.loop import check_int

from .mind import Box, read_boxes, read_image, read_splits

FEATURES_FORMAT = 2
PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


@dataclass
class NewsFeatures:
    """Row 0 is the padding news: everything masked."""

    news_ids: list[str]  # index → MIND id; news_ids[0] == "<pad>"
    title_ids: torch.LongTensor  # (N+1, L) word ids, 0 = padding word, 1 = unknown word
    title_mask: torch.BoolTensor  # (N+1, L) True where a real word
    regions: torch.Tensor  # (N+1, R, 3, S, S) float32 in [0, 1]; region 0 = the whole image
    boxes: torch.Tensor  # (N+1, R, 4) float32 (x0, y0, x1, y1) / image size, in [0, 1]
    region_mask: torch.BoolTensor  # (N+1, R) True where a real region
    category: torch.LongTensor  # (N+1,) index into categories; 0 = "<pad>"
    vocabulary: list[str]  # word id → word; [0] "<pad>", [1] "<unk>"
    categories: list[str]  # [0] "<pad>", then the categories sorted
    titles: list[str] | None = None  # [0] "", then each news item's title as written
    region_labels: torch.LongTensor | None = None  # (N+1, R) index into box_labels of a region's box; -1: none
    box_labels: list[str] | None = None  # the labels of boxes.tsv, sorted (the world's visual concepts)
    # precomputed inputs from frozen pretrained encoders (:mod:`.pretrained`); None: learn from ids / pixels
    title_vectors: torch.Tensor | None = None  # (N+1, L', F_t) token vectors, with title_mask of width L'
    title_tokens: list[list[str]] | None = None  # the tokens behind title_vectors
    region_vectors: torch.Tensor | None = None  # (N+1, R, F_v)


@dataclass
class ImpressionSet:
    """One split (train / valid / test), M impressions."""

    user: torch.LongTensor  # (M,) index into the users list
    history: torch.LongTensor  # (M, H) news indices of the last H clicks, left-padded with 0, most recent last
    candidates: torch.LongTensor  # (M, C) news indices of the shown news, padded with 0
    labels: torch.Tensor  # (M, C) 1.0 click, 0.0 non-click, -1.0 padding

    def __len__(self) -> int:
        return self.user.shape[0]


def tokenize(text: str) -> list[str]:
    """``"'No re-draft' for EU law"`` → ``['no', 're', 'draft', 'for', 'eu', 'law']``."""
    return _WORD.findall(text.lower())


# --------------------------------------------------------------------------- regions


def grid_boxes(width: int, height: int) -> list[Box]:
    """The 2×2 grid, row by row: the fallback regions of a picture without detected boxes."""
    w, h = width / 2, height / 2
    return [Box("grid", x * w, y * h, (x + 1) * w, (y + 1) * h) for y in range(2) for x in range(2)]


def _news_regions(image: np.ndarray, boxes: list[Box] | None, regions: int, crop_size: int):
    """``uint8 (R, 3, S, S)``, ``float (R, 4)`` normalised boxes, ``bool (R,)`` mask and the box
    labels (R,) (None for the whole picture) for one picture."""
    height, width = image.shape[:2]
    if boxes is None:
        chosen = grid_boxes(width, height)[:regions]
    else:
        clipped = [Box(b.label, max(b.x0, 0), max(b.y0, 0), min(b.x1, width), min(b.y1, height)) for b in boxes]
        clipped = [b for b in clipped if b.x1 > b.x0 and b.y1 > b.y0]
        # largest first; the sort is stable, so equal areas keep the file's order
        chosen = sorted(clipped, key=lambda b: -(b.x1 - b.x0) * (b.y1 - b.y0))[:regions]
    chosen = [Box("image", 0, 0, width, height), *chosen]
    pixels = np.zeros((regions + 1, 3, crop_size, crop_size), dtype=np.uint8)
    corners = np.zeros((regions + 1, 4), dtype=np.float32)
    mask = np.zeros(regions + 1, dtype=bool)
    labels = [None] * (regions + 1)
    picture = Image.fromarray(image)
    for r, b in enumerate(chosen):
        crop = picture.resize((crop_size, crop_size), Image.Resampling.BILINEAR, box=(b.x0, b.y0, b.x1, b.y1))
        pixels[r] = np.asarray(crop).transpose(2, 0, 1)  # (S, S, 3) -> (3, S, S)
        corners[r] = (b.x0 / width, b.y0 / height, b.x1 / width, b.y1 / height)
        mask[r] = True
        labels[r] = b.label if r > 0 and boxes is not None else None
    return pixels, corners, mask, labels


# --------------------------------------------------------------------------- building


def _fingerprint(folder: Path) -> list:
    """Names, sizes and modification times of the input files: the cache key's view of the data."""
    entries = []
    for root, _, names in os.walk(folder):
        for name in sorted(names):
            if name.endswith((".tsv", ".jpg", ".jpeg", ".png")):
                stat = os.stat(os.path.join(root, name))
                entries.append([os.path.relpath(os.path.join(root, name), folder), stat.st_size, stat.st_mtime_ns])
    return sorted(entries)


def _build(
    folder: Path, title_len: int, regions: int, crop_size: int, history_len: int, min_word_count: int
) -> dict:
    news, splits = read_splits(folder)
    index = {item.news_id: i + 1 for i, item in enumerate(news)}  # 0 is the padding news
    n_rows = len(news) + 1

    in_train = {n for b in splits["train"] for n in (*b.history, *b.candidates)}
    words = [tokenize(item.title) for item in news]
    counts = Counter(w for item, tokens in zip(news, words) if item.news_id in in_train for w in tokens)
    kept = [w for w, c in counts.items() if c >= min_word_count]
    vocabulary = [PAD, UNK] + sorted(kept, key=lambda w: (-counts[w], w))  # most frequent first
    word_id = {w: i for i, w in enumerate(vocabulary)}
    title_ids = torch.zeros(n_rows, title_len, dtype=torch.long)
    for i, tokens in enumerate(words, start=1):
        ids = [word_id.get(w, 1) for w in tokens[:title_len]]
        title_ids[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)

    categories = [PAD] + sorted({item.category for item in news})
    category = torch.tensor([0] + [categories.index(item.category) for item in news], dtype=torch.long)

    boxes_file = folder / "boxes.tsv"
    detected = read_boxes(boxes_file) if boxes_file.is_file() else None
    pixels = np.zeros((n_rows, regions + 1, 3, crop_size, crop_size), dtype=np.uint8)  # (N+1, R, 3, S, S)
    corners = np.zeros((n_rows, regions + 1, 4), dtype=np.float32)
    region_mask = np.zeros((n_rows, regions + 1), dtype=bool)
    box_labels = sorted({b.label for found in (detected or {}).values() for b in found})
    region_labels = torch.full((n_rows, regions + 1), -1, dtype=torch.long)
    for i, item in enumerate(news, start=1):
        image = read_image(folder / "images", item.news_id)
        if image is not None:
            boxes = None if detected is None else detected.get(item.news_id, [])
            pixels[i], corners[i], region_mask[i], labels = _news_regions(image, boxes, regions, crop_size)
            region_labels[i] = torch.tensor([-1 if label is None else box_labels.index(label) for label in labels])

    users: list[str] = []
    user_index: dict[str, int] = {}
    impression_sets = {}
    for split, behaviors in splits.items():
        width = max((len(b.candidates) for b in behaviors), default=1)
        user = torch.zeros(len(behaviors), dtype=torch.long)
        history = torch.zeros(len(behaviors), history_len, dtype=torch.long)
        candidates = torch.zeros(len(behaviors), width, dtype=torch.long)
        labels = torch.full((len(behaviors), width), -1.0)
        for m, b in enumerate(behaviors):
            if b.user_id not in user_index:
                user_index[b.user_id] = len(users)
                users.append(b.user_id)
            user[m] = user_index[b.user_id]
            recent = [index[n] for n in b.history[-history_len:]]
            if recent:
                history[m, history_len - len(recent) :] = torch.tensor(recent)  # left-padded, most recent last
            candidates[m, : len(b.candidates)] = torch.tensor([index[n] for n in b.candidates])
            labels[m, : len(b.labels)] = torch.tensor(b.labels, dtype=torch.float32)
        impression_sets[split] = {"user": user, "history": history, "candidates": candidates, "labels": labels}

    return {
        "news_ids": [PAD] + [item.news_id for item in news],
        "title_ids": title_ids,
        "regions": torch.from_numpy(pixels),
        "boxes": torch.from_numpy(corners),
        "region_mask": torch.from_numpy(region_mask),
        "category": category,
        "vocabulary": vocabulary,
        "categories": categories,
        "titles": [""] + [item.title for item in news],
        "region_labels": region_labels,
        "box_labels": box_labels,
        "users": users,
        "splits": impression_sets,
    }


def build_features(
    folder: str | Path,
    title_len: int = 16,
    regions: int = 4,
    crop_size: int = 24,
    history_len: int = 20,
    min_word_count: int = 2,
    cache: bool = True,
) -> tuple[NewsFeatures, dict[str, ImpressionSet], list[str]]:
    """News tensors, one :class:`ImpressionSet` per split and the user ids of ``folder``.

    ``regions`` detected regions plus the whole picture: ``R = regions + 1``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder: expected a MIND-format directory, got {str(folder)!r}, which is not one")
    check_int("title_len", title_len, 1)
    check_int("regions", regions, 0)
    check_int("crop_size", crop_size, 2)
    check_int("history_len", history_len, 1)
    check_int("min_word_count", min_word_count, 1)
    settings = [FEATURES_FORMAT, str(folder.resolve()), title_len, regions, crop_size, history_len, min_word_count]
    state = cached("mmrec", "features", [settings, _fingerprint(folder)],
                   lambda: _build(folder, title_len, regions, crop_size, history_len, min_word_count), enabled=cache)

    news = NewsFeatures(
        news_ids=state["news_ids"],
        title_ids=state["title_ids"],
        title_mask=state["title_ids"] != 0,
        regions=state["regions"].float() / 255.0,
        boxes=state["boxes"],
        region_mask=state["region_mask"],
        category=state["category"],
        vocabulary=state["vocabulary"],
        categories=state["categories"],
        titles=state["titles"],
        region_labels=state["region_labels"],
        box_labels=state["box_labels"],
    )
    splits = {name: ImpressionSet(**tensors) for name, tensors in state["splits"].items()}
    return news, splits, state["users"]

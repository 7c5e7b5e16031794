"""The MIND file format (Wu et al., ACL 2020), plus one image per news item as in IM-MIND.

A MIND folder holds tab-separated files without a header:

* ``news.tsv``: ``news_id, category, subcategory, title, abstract, url, title_entities,
  abstract_entities`` (8 fields; we read the first five and write empty url and entity lists);
* ``behaviors.tsv``: ``impression_id, user_id, time, history, impressions``, where ``time`` looks
  like ``11/15/2019 10:22:32 AM``, ``history`` is the space-separated ids of the user's earlier
  clicks (oldest first, maybe empty) and ``impressions`` the shown news with their labels,
  ``N123-1 N456-0`` (1 = clicked);
* ``images/<news_id>.jpg`` or ``.png``: the news item's picture (MIND itself has none);
* optional ``boxes.tsv``: ``news_id, label, x0, y0, x1, y1`` — regions of interest in pixels,
  ``(x0, y0)`` the top-left corner, ``(x1, y1)`` one past the bottom-right one. The generator
  writes the true object boxes; with real images an object detector's output goes here.

Two layouts are understood by :func:`read_splits`: a generated world (``news.tsv`` and
``behaviors_{train,valid,test}.tsv``) and MIND's own download (``train/`` and ``dev/``, each
with ``news.tsv`` and ``behaviors.tsv``). MIND publishes no test labels, so its dev impressions
are cut in time: the earlier half validates, the later half tests.

Every reader raises :class:`~lessons_src.data.fetch.DataError` naming the file, the line and what
was expected.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from lessons_src.data.fetch import DataError
from lessons_src.training.checkpoint import atomic_write

TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
SPLITS = ("train", "valid", "test")
_NEWS_FIELDS = "news_id, category, subcategory, title, abstract, url, title_entities, abstract_entities"
_BEHAVIOR_FIELDS = "impression_id, user_id, time, history, impressions"
_BOX_FIELDS = "news_id, label, x0, y0, x1, y1"


@dataclass(frozen=True)
class NewsRecord:
    news_id: str
    category: str
    subcategory: str
    title: str
    abstract: str


@dataclass
class Behavior:
    """One impression: what ``user_id`` was shown at ``time`` and what they clicked."""

    impression_id: int
    user_id: str
    time: datetime
    history: list[str]  # earlier clicks, oldest first
    candidates: list[str]  # the shown news
    labels: list[int]  # 1 = clicked, 0 = not, one per candidate


@dataclass(frozen=True)
class Box:
    """A region of an image, in pixels: ``x0 <= x < x1``, ``y0 <= y < y1``."""

    label: str
    x0: float
    y0: float
    x1: float
    y1: float


def _error(path: Path, line: int, message: str) -> DataError:
    return DataError(f"{path}, line {line}: {message}")


def _rows(path: Path, n_fields: int, names: str) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of each non-blank line, checking the number of fields."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error})") from error
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != n_fields:
            raise _error(path, number, f"expected {n_fields} tab-separated fields ({names}), got {len(fields)}")
        yield number, fields


def _clean(value: str, what: str) -> str:
    if "\t" in value or "\n" in value or "\r" in value:
        raise ValueError(f"{what} {value!r} contains a tab or a line break, which the TSV format cannot hold")
    return value


# --------------------------------------------------------------------------- news.tsv


def read_news(path: str | Path) -> list[NewsRecord]:
    """The news items of a ``news.tsv``, in file order; ids must be unique."""
    path, news, seen = Path(path), [], set()
    for number, fields in _rows(path, 8, _NEWS_FIELDS):
        news_id = fields[0].strip()
        if not news_id:
            raise _error(path, number, "expected a news id in the first field, got an empty one")
        if news_id in seen:
            raise _error(path, number, f"news id {news_id!r} appears twice; expected unique ids")
        seen.add(news_id)
        news.append(NewsRecord(news_id, *fields[1:5]))
    return news


def write_news(path: str | Path, news: list[NewsRecord]) -> Path:
    """Write ``news`` as a ``news.tsv`` (empty url, ``[]`` entity lists), atomically."""
    lines = []
    for item in news:
        fields = [getattr(item, name) for name in ("news_id", "category", "subcategory", "title", "abstract")]
        lines.append("\t".join([_clean(value, "news field") for value in fields] + ["", "[]", "[]"]) + "\n")
    data = "".join(lines).encode("utf-8")
    return atomic_write(path, lambda handle: handle.write(data))


# --------------------------------------------------------------------------- behaviors.tsv


def format_time(time: datetime) -> str:
    """MIND's clock: ``11/15/2019 8:05:03 AM`` (month, day and hour not zero-padded)."""
    hour = time.hour % 12 or 12
    noon = "AM" if time.hour < 12 else "PM"
    return f"{time.month}/{time.day}/{time.year} {hour}:{time.minute:02d}:{time.second:02d} {noon}"


def read_behaviors(path: str | Path) -> list[Behavior]:
    """The impressions of a ``behaviors.tsv``, in file order."""
    path, behaviors = Path(path), []
    for number, (impression_id, user_id, time, history, impressions) in _rows(path, 5, _BEHAVIOR_FIELDS):
        try:
            impression = int(impression_id)
        except ValueError:
            raise _error(path, number, f"expected an integer impression id, got {impression_id!r}") from None
        if not user_id.strip():
            raise _error(path, number, "expected a user id, got an empty field")
        try:
            when = datetime.strptime(time.strip(), TIME_FORMAT)
        except ValueError:
            raise _error(path, number, f"expected a time like '11/15/2019 10:22:32 AM', got {time!r}") from None
        candidates, labels = [], []
        for token in impressions.split():
            news_id, dash, label = token.rpartition("-")
            if not dash or not news_id or label not in ("0", "1"):
                raise _error(path, number, f"expected impressions like 'N123-1' (label 0 or 1), got {token!r}")
            candidates.append(news_id)
            labels.append(int(label))
        if not candidates:
            raise _error(path, number, "expected at least one shown news item in the impressions field")
        behaviors.append(Behavior(impression, user_id.strip(), when, history.split(), candidates, labels))
    return behaviors


def write_behaviors(path: str | Path, behaviors: list[Behavior]) -> Path:
    """Write ``behaviors`` as a ``behaviors.tsv``, atomically."""
    lines = []
    for b in behaviors:
        if len(b.candidates) != len(b.labels) or any(label not in (0, 1) for label in b.labels):
            raise ValueError(f"impression {b.impression_id}: expected one label 0/1 per candidate")
        shown = " ".join(f"{news_id}-{label}" for news_id, label in zip(b.candidates, b.labels))
        fields = [str(b.impression_id), _clean(b.user_id, "user id"), format_time(b.time), " ".join(b.history)]
        lines.append("\t".join([*fields, shown]) + "\n")
    data = "".join(lines).encode("utf-8")
    return atomic_write(path, lambda handle: handle.write(data))


def check_ids(news: list[NewsRecord], behaviors: list[Behavior], path: str | Path) -> None:
    """Every history and candidate id of ``behaviors`` (read from ``path``, in file order) is a news id."""
    known = {item.news_id for item in news}
    for line, behavior in enumerate(behaviors, start=1):
        for field, ids in (("history", behavior.history), ("impressions", behavior.candidates)):
            for news_id in ids:
                if news_id not in known:
                    raise _error(Path(path), line, f"news id {news_id!r} in the {field} field is not in news.tsv")


# --------------------------------------------------------------------------- images and boxes


def read_image(folder: str | Path, news_id: str) -> np.ndarray | None:
    """The picture of ``news_id`` as ``uint8 (H, W, 3)`` RGB, or None if the folder has none."""
    for suffix in IMAGE_SUFFIXES:
        path = Path(folder) / f"{news_id}{suffix}"
        if path.is_file():
            try:
                with Image.open(path) as image:
                    return np.asarray(image.convert("RGB"), dtype=np.uint8)
            except (OSError, ValueError) as error:
                raise DataError(f"{path}: not a readable image ({error})") from error
    return None


def write_image(folder: str | Path, news_id: str, image: np.ndarray) -> Path:
    """Save ``image`` (``uint8 (H, W, 3)``) as ``<folder>/<news_id>.png`` (lossless)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image: expected a uint8 array (H, W, 3), got {image.dtype} {image.shape}")
    path = Path(folder) / f"{news_id}.png"
    Image.fromarray(image).save(path, format="PNG")
    return path


def read_boxes(path: str | Path) -> dict[str, list[Box]]:
    """Regions of interest per news id, in file order."""
    path, boxes = Path(path), {}
    for number, (news_id, label, *corners) in _rows(path, 6, _BOX_FIELDS):
        try:
            x0, y0, x1, y1 = (float(value) for value in corners)
        except ValueError:
            raise _error(path, number, f"expected four numbers x0 y0 x1 y1, got {corners}") from None
        if not (0 <= x0 < x1 and 0 <= y0 < y1):
            raise _error(path, number, f"expected 0 <= x0 < x1 and 0 <= y0 < y1, got {corners}")
        boxes.setdefault(news_id, []).append(Box(label, x0, y0, x1, y1))
    return boxes


def write_boxes(path: str | Path, boxes: dict[str, list[Box]]) -> Path:
    """Write regions per news id as a ``boxes.tsv``, atomically."""
    lines = []
    for news_id, regions in boxes.items():
        for b in regions:
            corners = [f"{value:g}" for value in (b.x0, b.y0, b.x1, b.y1)]
            lines.append("\t".join([_clean(news_id, "news id"), _clean(b.label, "label"), *corners]) + "\n")
    data = "".join(lines).encode("utf-8")
    return atomic_write(path, lambda handle: handle.write(data))


# --------------------------------------------------------------------------- folder layouts


def read_splits(folder: str | Path) -> tuple[list[NewsRecord], dict[str, list[Behavior]]]:
    """The news and the train / valid / test impressions of a generated world or a MIND download."""
    folder = Path(folder)
    if (folder / "behaviors_train.tsv").is_file():
        news = read_news(folder / "news.tsv")
        splits = {}
        for split in SPLITS:
            path = folder / f"behaviors_{split}.tsv"
            splits[split] = read_behaviors(path)
            check_ids(news, splits[split], path)
        return news, splits
    if (folder / "train" / "behaviors.tsv").is_file() and (folder / "dev" / "behaviors.tsv").is_file():
        news, seen = [], set()
        for part in ("train", "dev"):  # an item in both files keeps its first record
            for item in read_news(folder / part / "news.tsv"):
                if item.news_id not in seen:
                    seen.add(item.news_id)
                    news.append(item)
        parts = {}
        for part in ("train", "dev"):
            path = folder / part / "behaviors.tsv"
            parts[part] = read_behaviors(path)
            check_ids(news, parts[part], path)
        dev = sorted(parts["dev"], key=lambda b: (b.time, b.impression_id))
        half = len(dev) // 2
        return news, {"train": parts["train"], "valid": dev[:half], "test": dev[half:]}
    raise DataError(
        f"{folder}: expected behaviors_train.tsv, behaviors_valid.tsv, behaviors_test.tsv and news.tsv "
        "(a generated world) or train/ and dev/ with news.tsv and behaviors.tsv each (MIND)"
    )

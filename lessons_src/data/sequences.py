"""Reading interaction files into per-user item sequences in time order.

All datasets end up in one form: users ``1..n_users`` and items ``1..n_items`` (id 0 is reserved
for padding), and ``sequences[u]`` is user ``u``'s items, oldest first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .fetch import DataError, dataset_path


@dataclass
class Interactions:
    """Per-user item sequences. ``sequences[0]`` is empty so that ``sequences[u]`` is user ``u``."""

    name: str
    sequences: list[np.ndarray]
    n_items: int
    item_ids: np.ndarray | None = None  # original id of item i at index i (None: ids unchanged)

    @property
    def n_users(self) -> int:
        return len(self.sequences) - 1

    @property
    def n_interactions(self) -> int:
        return int(sum(len(s) for s in self.sequences))


def _parse_int(token: str, path: Path, line_no: int, column: str) -> int:
    try:
        value = int(token)
    except ValueError:
        raise DataError(f"{path}:{line_no}: {column} {token!r} is not an integer") from None
    if value <= 0:
        raise DataError(f"{path}:{line_no}: {column} must be a positive id (0 is padding), got {value}")
    return value


def read_columns(path: Path, separator: str | None, n_columns: int, names: tuple[str, ...]) -> np.ndarray:
    """Read an integer table; every line must have exactly ``n_columns`` positive integers.

    Returns an ``(n_lines, n_columns)`` int64 array. Raises :class:`DataError` with the file and
    line number for a wrong column count, a non-integer, or an id ≤ 0.
    """
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            tokens = line.strip().split(separator)
            if len(tokens) != n_columns:
                raise DataError(
                    f"{path}:{line_no}: expected {n_columns} columns ({', '.join(names)}) "
                    f"separated by {separator or 'whitespace'!r}, got {len(tokens)}: {line.strip()!r}"
                )
            rows.append([_parse_int(t, path, line_no, names[i]) for i, t in enumerate(tokens)])
    if not rows:
        raise DataError(f"{path}: the file holds no interactions")
    return np.asarray(rows, dtype=np.int64)


def _dense(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map arbitrary positive ids to 1..n (by increasing original id). Returns (new ids, originals)."""
    originals, inverse = np.unique(ids, return_inverse=True)
    return inverse + 1, np.concatenate([[0], originals])


def _group(users: np.ndarray, items: np.ndarray, n_users: int) -> list[np.ndarray]:
    """Split ``items`` by user, keeping their order. Users must already be sorted, stably."""
    counts = np.bincount(users, minlength=n_users + 1)
    return np.split(items, np.cumsum(counts)[:-1])


def parse_user_item_file(path: Path, name: str = "") -> Interactions:
    """SASRec's preprocessed format: lines ``user item``, each user's lines in time order."""
    table = read_columns(path, None, 2, ("user", "item"))
    users, items = table[:, 0], table[:, 1]
    order = np.argsort(users, kind="stable")
    n_users, n_items = int(users.max()), int(items.max())
    return Interactions(name, _group(users[order], items[order], n_users), n_items)


def parse_sequence_file(path: Path, name: str = "") -> Interactions:
    """S3-Rec's format: one line per user, ``user item item …``, the items in time order.

    Users must be numbered 1..n without gaps (line order does not matter)."""
    sequences: dict[int, np.ndarray] = {}
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            tokens = line.split()
            if not tokens:
                continue
            if len(tokens) < 2:
                raise DataError(f"{path}:{line_no}: expected 'user item [item …]', got {line.strip()!r}")
            user = _parse_int(tokens[0], path, line_no, "user")
            if user in sequences:
                raise DataError(f"{path}:{line_no}: user {user} has a second line")
            sequences[user] = np.array([_parse_int(t, path, line_no, "item") for t in tokens[1:]], dtype=np.int64)
    if not sequences:
        raise DataError(f"{path}: the file holds no interactions")
    n_users = max(sequences)
    if len(sequences) != n_users:
        missing = sorted(set(range(1, n_users + 1)) - set(sequences))[:5]
        raise DataError(f"{path}: users must be numbered 1..{n_users} without gaps; missing e.g. {missing}")
    n_items = int(max(s.max() for s in sequences.values()))
    return Interactions(name, [np.zeros(0, dtype=np.int64)] + [sequences[u] for u in range(1, n_users + 1)], n_items)


def parse_item_attributes(path: Path, n_items: int) -> list[np.ndarray]:
    """S3-Rec's ``*_item2attributes.json``: ``{"item": [attribute id, …], …}`` → ``attributes[i]``,
    the sorted attribute ids of item i (``attributes[0]`` and items the file omits: empty).

    Raises :class:`DataError` naming the file for anything but positive integer ids, or an item
    outside 1..``n_items``."""
    try:
        table = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: expected a JSON object item id -> list of attribute ids ({error})") from None
    if not isinstance(table, dict):
        raise DataError(f"{path}: expected a JSON object item id -> list of attribute ids, got {type(table).__name__}")
    attributes = [np.zeros(0, dtype=np.int64) for _ in range(n_items + 1)]
    for key, values in table.items():
        if not (str(key).isdigit() and 1 <= int(key) <= n_items):
            raise DataError(f"{path}: item id {key!r} is not an integer in 1..{n_items}")
        if not (isinstance(values, list) and all(isinstance(v, int) and v > 0 for v in values)):
            raise DataError(f"{path}: item {key}: expected a list of positive integer attribute ids, got {values!r}")
        attributes[int(key)] = np.unique(np.asarray(values, dtype=np.int64))
    return attributes


def parse_rating_file(path: Path, separator: str, name: str = "") -> Interactions:
    """MovieLens ratings ``user sep item sep rating sep timestamp``; every rating is an interaction.

    Each user's items are sorted by timestamp (ties keep file order); items are renumbered 1..n.
    """
    table = read_columns(path, separator, 4, ("user", "item", "rating", "timestamp"))
    users, _ = _dense(table[:, 0])
    items, originals = _dense(table[:, 1])
    order = np.lexsort((table[:, 3], users))  # by user, then time; lexsort is stable
    n_users = int(users.max())
    return Interactions(name, _group(users[order], items[order], n_users), len(originals) - 1, originals)


def load_interactions(name: str) -> Interactions:
    """Load a registered dataset (``games``, ``ml-100k``, ``ml-1m``, ``toys``) as per-user sequences.

    ``toys`` is S3-Rec's Amazon Toys_and_Games (dataset ``s3rec``)."""
    if name == "toys":
        return parse_sequence_file(dataset_path("s3rec") / "Toys_and_Games.txt", name)
    folder = dataset_path(name)
    if name == "games":
        return parse_user_item_file(folder / "Video.txt", name)
    if name == "ml-100k":
        return parse_rating_file(folder / "u.data", "\t", name)
    if name == "ml-1m":
        return parse_rating_file(folder / "ratings.dat", "::", name)
    raise KeyError(f"dataset {name!r} has no sequence parser; use games, ml-100k, ml-1m or toys")

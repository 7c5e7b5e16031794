"""MovieLens-100k's catalogue: a title and genres for every movie, so that what a model does with
items can be read as films rather than ids.

    catalogue = movie_catalogue()               # DataFrame indexed by the original movie id
    catalogue.loc[interactions.item_ids[item]]  # the row of a renumbered item of load_interactions
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .fetch import DataError, dataset_path

GENRE_FLAGS = 19  # u.item: id | title | release date | video release | IMDb URL | 19 genre flags


def read_genres(path: Path) -> list[str]:
    """u.genre: lines ``name|index``, in index order."""
    pairs = [line.split("|") for line in path.read_text(encoding="latin-1").splitlines() if line.strip()]
    try:
        by_index = {int(index): name for name, index in pairs}
    except ValueError as error:
        raise DataError(f"{path}: expected lines 'genre|index' ({error})") from error
    if sorted(by_index) != list(range(len(by_index))):
        raise DataError(f"{path}: genre indices are not 0..{len(by_index) - 1}")
    return [by_index[i] for i in range(len(by_index))]


def read_items(path: Path, genres: list[str]) -> pd.DataFrame:
    """u.item (latin-1) → DataFrame(index movie id; title, year, genres: tuple of names)."""
    rows = []
    for line_no, line in enumerate(path.read_text(encoding="latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != 5 + len(genres) or not fields[0].isdigit():
            raise DataError(f"{path}, line {line_no}: expected a movie id and {4 + len(genres)} more "
                            f"'|'-separated fields, got {len(fields)} fields")
        flags = fields[5:]
        rows.append({"movie": int(fields[0]), "title": fields[1], "year": fields[2][-4:],
                     "genres": tuple(g for g, flag in zip(genres, flags) if flag == "1")})
    return pd.DataFrame(rows).set_index("movie")


def movie_catalogue(name: str = "ml-100k") -> pd.DataFrame:
    """Titles and genres of MovieLens-100k (found or downloaded as the rest of the data layer)."""
    if name != "ml-100k":
        raise KeyError(f"movie_catalogue: only 'ml-100k' ships u.item and u.genre, not {name!r}")
    folder = dataset_path(name)
    return read_items(folder / "u.item", read_genres(folder / "u.genre"))

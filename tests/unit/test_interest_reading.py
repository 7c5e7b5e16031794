"""Reading interests as items (capsules.reading) and MovieLens's catalogue (data.movielens)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lessons_src.capsules.interest_train import routing_table
from lessons_src.capsules.interests import InterestConfig, MultiInterestModel
from lessons_src.capsules.reading import assignments, genre_coherence, interest_items, interest_report, jaccard
from lessons_src.data.fetch import DataError
from lessons_src.data.movielens import read_genres, read_items


def test_jaccard_and_coherence_by_hand():
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 0.0
    genres = [{"A"}, {"A"}, {"B"}, {"B"}]
    # grouped by genre: the two same-interest pairs match fully; all 6 pairs: 2 of them match
    assert genre_coherence([0, 0, 1, 1], genres) == pytest.approx((1.0, 2 / 6))
    # grouped across genres: no same-interest pair matches
    assert genre_coherence([0, 1, 0, 1], genres) == pytest.approx((0.0, 2 / 6))
    assert genre_coherence([0, 1, 2, 3], genres) is None


def test_interest_items_partition_the_window_and_retrieve_unseen_items():
    torch.manual_seed(0)
    model = MultiInterestModel(InterestConfig(n_items=30, hidden=8, maxlen=6, bilinear="shared",
                                              logits_init="random", seed=0)).eval()
    history = [3, 7, 7, 12, 5, 9, 21, 4]  # longer than maxlen: only the last 6 are routed
    found = interest_items(model, history, retrieved=4)
    window = history[-6:]
    gathered = sorted(i for interest in found for i, _ in interest["gathered"])
    assert gathered == sorted(window)
    table = routing_table(model, window)
    for interest in found:
        j = interest["interest"] - 1
        couplings = [c for _, c in interest["gathered"]]
        assert couplings == sorted(couplings, reverse=True)
        assert all(assignments(table)[window.index(i)] == j for i, _ in interest["gathered"])
    # the retrieved lists, by brute force: the interest's best unseen items
    with torch.no_grad():
        vectors, _ = model(torch.tensor([window]))
        for interest in found:
            j = interest["interest"] - 1
            scores = {i: float(vectors[0, j] @ model.item_embedding.weight[i]) for i in range(1, 31) if i not in history}
            assert interest["retrieved"] == sorted(scores, key=scores.get, reverse=True)[:4]


def test_movielens_catalogue_files(tmp_path):
    (tmp_path / "u.genre").write_text("unknown|0\nAction|1\nComedy|2\n\n")
    genres = read_genres(tmp_path / "u.genre")
    assert genres == ["unknown", "Action", "Comedy"]
    (tmp_path / "u.item").write_text("1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n"
                                     "2|GoldenEye (1995)|01-Jan-1995||http://y|0|1|0\n", encoding="latin-1")
    items = read_items(tmp_path / "u.item", genres)
    assert items.loc[1, "title"] == "Toy Story (1995)" and items.loc[2, "genres"] == ("Action",)
    (tmp_path / "bad.item").write_text("1|Toy Story (1995)|01-Jan-1995\n")
    with pytest.raises(DataError, match=r"bad.item, line 1: expected a movie id"):
        read_items(tmp_path / "bad.item", genres)
    (tmp_path / "bad.genre").write_text("Action|1\nComedy|x\n")
    with pytest.raises(DataError, match="bad.genre"):
        read_genres(tmp_path / "bad.genre")


def test_interest_report_with_one_interest_has_nothing_to_separate():
    """K = 1: every pair shares the interest, so 'within' is 'overall' and the coupling is 1."""
    genres = [set()] + [{"A"} if i % 2 else {"B", "C"} for i in range(1, 31)]
    histories = [[3, 7, 12, 5, 9], [1, 2, 4, 8]]
    one = MultiInterestModel(InterestConfig(n_items=30, hidden=8, maxlen=6, n_interests=1, seed=0)).eval()
    report = interest_report(one, histories, genres, retrieved=3)
    assert len(report) == 2
    np.testing.assert_allclose(report["within"], report["overall"])
    np.testing.assert_allclose(report["largest_coupling"], 1.0)
    assert report["list_overlap"].isna().all()
    four = MultiInterestModel(InterestConfig(n_items=30, hidden=8, maxlen=6, n_interests=4, bilinear="shared",
                                             logits_init="random", seed=0)).eval()
    report = interest_report(four, histories, genres, retrieved=3)
    assert report["list_overlap"].between(0, 1).all() and (report["largest_coupling"] >= 0.25 - 1e-6).all()
    assert "retrieved_popular" not in report
    everything = interest_report(four, histories, genres, retrieved=3, popular=set(range(1, 31)))
    nothing = interest_report(four, histories, genres, retrieved=3, popular=set())
    assert (everything["retrieved_popular"] == 1).all() and (nothing["retrieved_popular"] == 0).all()

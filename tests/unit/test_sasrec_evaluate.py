"""Re-evaluating a saved SASRec under several negative-sampling seeds (lessons_src.sasrec.evaluate)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lessons_src.data.split import sequential_split
from lessons_src.evaluation.ranking import RankingEvaluator
from lessons_src.sasrec import evaluate
from lessons_src.training.results import save_compact_model


@pytest.fixture
def saved(monkeypatch, tmp_path, interactions_factory, model_factory):
    data = interactions_factory("pattern", n_users=60, n_items=30)
    monkeypatch.setattr(evaluate, "load_interactions", lambda name: data)
    model = model_factory(seed=1, n_items=30, maxlen=8, hidden=8).eval()
    return data, save_compact_model(model, model.config.to_dict(), tmp_path / "model.pt")


def test_each_seed_is_the_evaluator_with_that_seed_and_the_spread_summarises_them(saved, tmp_path):
    data, path = saved
    report = evaluate.main(["--model", str(path), "--negative-seeds", "4", "5", "6", "--subsample", "20",
                            "--device", "cpu", "--output", str(tmp_path / "eval.json")])
    assert json.loads((tmp_path / "eval.json").read_text()) == report
    sampled = report["metrics"]["sampled"]
    assert set(sampled) == {"all users", "20 users"}
    split = sequential_split(data)
    model = evaluate.load_compact_sasrec(path)
    for users, limit in (("all users", None), ("20 users", 20)):
        assert [run["negative_seed"] for run in sampled[users]] == [4, 5, 6]
        for run in sampled[users]:
            expected = RankingEvaluator(split, "test", "sampled", 8, max_users=limit, ks=evaluate.KS,
                                        seed=run["negative_seed"])(model.score)
            assert {k: v for k, v in run.items() if k != "negative_seed"} == pytest.approx(expected)
        ndcg = [run["NDCG@10"] for run in sampled[users]]
        assert report["metrics"]["spread"][users]["NDCG@10"] == pytest.approx(
            {"mean": np.mean(ndcg), "min": min(ndcg), "max": max(ndcg)})
    assert sampled["all users"][0]["users"] == len(split.evaluable_users("test"))
    assert sampled["20 users"][0]["users"] == 20
    assert report["metrics"]["full"]["users"] == len(split.evaluable_users("test"))


def test_a_model_of_another_catalogue_is_refused_with_the_argument_named(saved, tmp_path, monkeypatch,
                                                                           interactions_factory):
    _, path = saved
    monkeypatch.setattr(evaluate, "load_interactions", lambda name: interactions_factory("pattern", n_items=31))
    with pytest.raises(SystemExit, match="--model: .*trained on 30 items, the data has 31"):
        evaluate.main(["--model", str(path), "--output", str(tmp_path / "x.json")])

"""Behaviour-to-interest routing (MIND, ComiRec-DR): the claims chapter 3 makes about it."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from lessons_src.capsules import interest_train as train_module
from lessons_src.capsules.interest_train import (
    InterestTrainConfig,
    PrefixExamples,
    routing_table,
    train,
)
from lessons_src.capsules.interests import InterestConfig, MultiInterestModel
from lessons_src.training.device import make_generator
from lessons_src.evaluation.ranking import RankingEvaluator, left_pad

VARIANTS = [("shared", "zero"), ("shared", "random"), ("per_position", "zero"), ("per_position", "random")]

# left-padded histories of width maxlen = 8; the third row is full, the last has one item
HISTORIES = torch.tensor([
    [0, 0, 0, 3, 7, 1, 9, 4],
    [0, 0, 0, 0, 0, 0, 2, 5],
    [11, 12, 13, 14, 15, 16, 17, 18],
    [0, 0, 0, 0, 0, 0, 0, 6],
])


def make_model(bilinear="per_position", logits_init="zero", **overrides) -> MultiInterestModel:
    options = dict(n_items=20, maxlen=8, hidden=8, n_interests=3, routing_iterations=3, seed=0)
    options.update(overrides)
    return MultiInterestModel(InterestConfig(bilinear=bilinear, logits_init=logits_init, **options))


def set_embeddings(model: MultiInterestModel, vectors: list[list[float]]) -> None:
    """Item i gets vectors[i - 1]; the padding row stays 0."""
    with torch.no_grad():
        model.item_embedding.weight[1:] = torch.tensor(vectors)


def reference_routing(model: MultiInterestModel, history: torch.Tensor, logits: torch.Tensor):
    """One user, written as loops over behaviours i and interests j, straight from the papers."""
    config = model.config
    length, K = logits.shape
    e = model.item_embedding.weight[history]  # (L, d)
    maps = model.router.maps

    def S(i, j):
        return maps if config.bilinear == "shared" else maps[config.maxlen - length + i, j]

    u_hat = [[S(i, j) @ e[i] for j in range(K)] for i in range(length)]
    b = logits.clone()
    for iteration in range(config.routing_iterations):
        c = torch.zeros(length, K)
        for i in range(length):
            if history[i] != 0:
                c[i] = torch.softmax(b[i], dim=0)  # behaviour i splits itself over the interests
        v = []
        for j in range(K):
            s = sum(c[i, j] * u_hat[i][j] for i in range(length))
            norm2 = s @ s
            v.append(norm2 / (1 + norm2) * s / torch.sqrt(norm2))
        if iteration < config.routing_iterations - 1:
            for i, j in itertools.product(range(length), range(K)):
                b[i, j] = b[i, j] + u_hat[i][j] @ v[j]
    return torch.stack(v), c


# ---------------------------------------------------------------- routing


@pytest.mark.parametrize("bilinear, logits_init", VARIANTS)
@pytest.mark.parametrize("training", [True, False])
def test_coupling_sums_to_one_over_interests_and_is_zero_on_padding(bilinear, logits_init, training):
    model = make_model(bilinear, logits_init).train(training)
    with torch.no_grad():
        interests, coupling = model(HISTORIES, generator=make_generator(0, "cpu"))
    assert interests.shape == (4, 3, 8) and coupling.shape == (4, 8, 3)
    real = HISTORIES != 0
    torch.testing.assert_close(coupling.sum(-1)[real], torch.ones(int(real.sum())))
    assert torch.equal(coupling[~real], torch.zeros(int((~real).sum()), 3))  # exactly 0, not ≈ 0
    assert bool((interests.norm(dim=-1) < 1).all())  # squashed


@pytest.mark.parametrize("bilinear", ["shared", "per_position"])
def test_routing_matches_loops_over_behaviours_and_interests(bilinear):
    """Pins the maths: softmax over the interest axis, padding excluded, b updated r − 1 times."""
    model = make_model(bilinear)
    logits = torch.randn(4, 8, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        interests, coupling = model(HISTORIES, logits=logits)
        for row in range(len(HISTORIES)):
            expected_v, expected_c = reference_routing(model, HISTORIES[row], logits[row])
            torch.testing.assert_close(interests[row], expected_v, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(coupling[row], expected_c, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("bilinear, logits_init", VARIANTS)
def test_extra_left_padding_changes_nothing(bilinear, logits_init):
    model = make_model(bilinear, logits_init).eval()
    short = torch.tensor([[0, 0, 3, 7, 1], [0, 0, 0, 2, 5], [4, 8, 15, 16, 20]])  # width 5
    padded = torch.cat([torch.zeros(3, 3, dtype=torch.long), short], 1)  # width 8, same items
    with torch.no_grad():
        v_short, c_short = model(short)
        v_padded, c_padded = model(padded)
        torch.testing.assert_close(v_padded, v_short, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(c_padded[:, 3:], c_short, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(model.score(padded), model.score(short), atol=1e-6, rtol=1e-5)


def test_routing_with_a_shared_map_is_order_free():
    model = make_model("shared", "zero").eval()
    perm = torch.tensor([5, 2, 7, 0, 3, 6, 1, 4])
    with torch.no_grad():
        v, c = model(HISTORIES[2:3])  # a full row: every position is a real item
        v_perm, c_perm = model(HISTORIES[2:3, perm])
        torch.testing.assert_close(v_perm, v, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(c_perm, c[:, perm], atol=1e-6, rtol=1e-5)
        # MIND's random logits belong to the behaviours: permuted with them, nothing changes
        random = make_model("shared", "random")
        logits = torch.randn(4, 8, 3, generator=torch.Generator().manual_seed(2))
        v, c = random(HISTORIES, logits=logits)
        v_perm, c_perm = random(HISTORIES[:, perm], logits=logits[:, perm])
        torch.testing.assert_close(v_perm, v, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(c_perm, c[:, perm], atol=1e-6, rtol=1e-5)


def test_per_position_maps_make_routing_order_aware():
    model = make_model("per_position", "zero").eval()
    perm = torch.tensor([5, 2, 7, 0, 3, 6, 1, 4])
    with torch.no_grad():
        v, _ = model(HISTORIES[2:3])
        v_perm, _ = model(HISTORIES[2:3, perm])
    assert (v_perm - v).abs().max() > 1e-3


def _min_pairwise_distance(interests: torch.Tensor) -> float:
    K = interests.shape[1]
    pairs = itertools.combinations(range(K), 2)
    return min(float((interests[:, a] - interests[:, b]).norm(dim=-1).min()) for a, b in pairs)


@pytest.mark.parametrize("training", [True, False])
def test_shared_map_with_zero_logits_collapses_all_interests_into_one(training):
    model = make_model("shared", "zero").train(training)
    with torch.no_grad():
        interests, coupling = model(HISTORIES)
    real = HISTORIES != 0
    torch.testing.assert_close(coupling[real], torch.full((int(real.sum()), 3), 1 / 3))  # uniform forever
    assert _min_pairwise_distance(interests) == 0.0  # K copies of one vector


@pytest.mark.parametrize("bilinear, logits_init", [("shared", "random"), ("per_position", "zero")])
@pytest.mark.parametrize("training", [True, False])
def test_random_logits_or_per_position_maps_give_distinct_interests(bilinear, logits_init, training):
    model = make_model(bilinear, logits_init).train(training)
    with torch.no_grad():
        interests, _ = model(HISTORIES[:3], generator=make_generator(0, "cpu"))  # rows with ≥ 2 items
    assert _min_pairwise_distance(interests) > 1e-3


def test_random_logits_are_redrawn_in_training_and_fixed_at_serving():
    model = make_model("shared", "random")
    with torch.no_grad():
        a, _ = model.train()(HISTORIES, generator=make_generator(1, "cpu"))
        b, _ = model(HISTORIES, generator=make_generator(1, "cpu"))
        c, _ = model(HISTORIES, generator=make_generator(2, "cpu"))
        assert torch.equal(a, b) and not torch.allclose(a, c)
        model.eval()
        together = model.score(HISTORIES)
        assert torch.equal(model.score(HISTORIES), together)
        # a user's scores do not depend on who else is in the batch
        for row in range(len(HISTORIES)):
            torch.testing.assert_close(model.score(HISTORIES[row:row + 1])[0], together[row], atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------- readout, loss, serving


def test_readout_picks_the_interest_with_the_largest_inner_product():
    model = make_model(n_items=2, hidden=2, n_interests=2)
    set_embeddings(model, [[1.0, 1.0], [0.0, 1.0]])
    interests = torch.tensor([[[1.0, 0.0], [0.4, 0.4]]] * 2)  # (B=2, K=2, d=2)
    with torch.no_grad():
        user, chosen = model.readout(interests, torch.tensor([1, 2]))
    # target 1 = (1, 1): v·e = 1.0 vs 0.8 → interest 0, although interest 1 has the larger cosine
    # target 2 = (0, 1): v·e = 0.0 vs 0.4 → interest 1
    assert chosen.tolist() == [0, 1]
    torch.testing.assert_close(user, torch.tensor([[1.0, 0.0], [0.4, 0.4]]))


def test_loss_is_a_softmax_over_the_real_items_of_the_chosen_interest():
    model = make_model("per_position", "zero")
    targets = torch.tensor([10, 3, 19, 20])
    with torch.no_grad():
        interests, _ = model(HISTORIES)
        user, _ = model.readout(interests, targets)
        logits = user @ model.item_embedding.weight[1:].T  # items 1..N; the padding id is no class
        expected = -torch.log_softmax(logits, 1)[torch.arange(4), targets - 1].mean()
        torch.testing.assert_close(model.loss(HISTORIES, targets), expected)


def test_serving_score_is_the_max_over_interests():
    model = make_model(n_items=4, hidden=2, n_interests=2)
    set_embeddings(model, [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 2.0]])
    interests = torch.tensor([[[2.0, 0.0], [0.0, 1.0]]])  # (1, K=2, d=2)
    # interest 0 scores items 1..4 as 2, 0, 2, −2; interest 1 as 0, 1, 1, 2; padding column: 0
    with torch.no_grad():
        assert model.score_interests(interests).tolist() == [[0.0, 2.0, 1.0, 2.0, 2.0]]
        assert model.score_interests(interests, torch.tensor([[4, 1, 2]])).tolist() == [[2.0, 2.0, 1.0]]


@pytest.mark.parametrize("bilinear, logits_init", VARIANTS)
def test_score_merges_the_interests_of_the_history(bilinear, logits_init):
    model = make_model(bilinear, logits_init).eval()
    with torch.no_grad():
        interests, _ = model(HISTORIES)
        expected = (interests @ model.item_embedding.weight.T).amax(1)  # (B, N + 1)
        full = model.score(HISTORIES)
        torch.testing.assert_close(full, expected)
        candidates = torch.tensor([[1, 5, 20]] * 4)
        torch.testing.assert_close(model.score(HISTORIES, candidates), full.gather(1, candidates))


def test_max_merge_equals_merging_the_top_n_of_each_interest():
    model = make_model(n_items=50, hidden=8, n_interests=4)
    interests = torch.randn(3, 4, 8, generator=torch.Generator().manual_seed(3))
    top_n = 5
    with torch.no_grad():
        merged = model.score_interests(interests)[:, 1:].topk(top_n).indices + 1  # (B, top_n) item ids
        per_interest = (interests @ model.item_embedding.weight[1:].T)  # (B, K, N)
        for row in range(3):
            scores, items = per_interest[row].topk(top_n)  # each interest's own top N
            pairs = sorted(zip(scores.flatten().tolist(), (items.flatten() + 1).tolist()), reverse=True)
            retrieved = list(dict.fromkeys(item for _, item in pairs))[:top_n]  # best score first, unique
            assert retrieved == merged[row].tolist()


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("name, value", [
    ("n_items", 0), ("maxlen", 0), ("hidden", 0), ("n_interests", 0), ("routing_iterations", 0),
    ("bilinear", "diagonal"), ("logits_init", "normal"), ("logits_std", 0.0),
])
def test_bad_model_config_raises_naming_the_argument(name, value):
    options = dict(n_items=20)
    options[name] = value
    with pytest.raises(ValueError, match=name):
        InterestConfig(**options)


@pytest.mark.parametrize("name, value", [("epochs", 0), ("batch_size", 0), ("lr", 0.0), ("select_by", "MRR@10")])
def test_bad_train_config_raises_naming_the_argument(name, value):
    with pytest.raises(ValueError, match=name):
        InterestTrainConfig(**{name: value})


def test_bad_histories_raise():
    model = make_model()
    with pytest.raises(ValueError, match="maxlen"):
        model(torch.ones(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="item ids"):
        model(torch.tensor([[0, 21]]))
    with pytest.raises(ValueError, match="all padding"):
        model.score(torch.tensor([[0, 0], [1, 2]]))


# ---------------------------------------------------------------- training


def test_training_examples_are_prefixes_of_the_training_history(tiny_split):
    examples = PrefixExamples(tiny_split.train, maxlen=4, seed=0)
    cuts: dict[int, set[int]] = {}
    for _ in range(200):
        users, histories, targets = examples.epoch()
        assert sorted(users.tolist()) == [u for u in range(1, tiny_split.n_users + 1) if len(tiny_split.train[u]) >= 2]
        for user, history, target in zip(users, histories, targets):
            items = tiny_split.train[user].tolist()  # distinct items: the target's index is its cut
            t = items.index(int(target))
            assert t >= 1 and target not in (tiny_split.valid[user], tiny_split.test[user])
            kept = items[max(0, t - 4):t]  # the last maxlen items before the target
            assert history.tolist() == [0] * (4 - len(kept)) + kept
            cuts.setdefault(int(user), set()).add(t)
    for user, seen in cuts.items():  # every cut is drawn over epochs
        assert seen == set(range(1, len(tiny_split.train[user])))


MODEL = dict(maxlen=10, hidden=16, n_interests=3)


def quick_config(**overrides) -> InterestTrainConfig:
    # 30 items: every unseen item is in the top 50, so select by NDCG@20, not Recall@50
    options = dict(epochs=15, batch_size=16, lr=1e-2, eval_every=1, select_by="NDCG@20", seed=0, device="cpu",
                   progress=False, log=False)
    options.update(overrides)
    return InterestTrainConfig(**options)


@pytest.fixture(scope="module", params=[("per_position", "zero"), ("shared", "random")], ids=["comirec", "mind"])
def trained(request, interactions_factory):
    from lessons_src.data.split import sequential_split

    split = sequential_split(interactions_factory("pattern"))
    bilinear, logits_init = request.param
    return split, train(split, quick_config(), bilinear=bilinear, logits_init=logits_init, **MODEL)


def test_training_lowers_the_loss_and_learns_the_pattern(trained):
    _, result = trained
    losses = [r["loss"] for r in result.history]
    assert len(losses) == 15 and all(np.isfinite(losses))
    assert losses[-1] < 0.8 * losses[0]
    # item i is followed by i + 1: a random ranker of the ~20 unseen items gets NDCG@20 ≈ 0.3
    assert result.best["valid"]["NDCG@20"] > 0.5


def test_best_epoch_is_the_validation_argmax_and_its_weights_are_returned(trained):
    split, result = trained
    evaluated = [r for r in result.history if "valid" in r]
    scores = [r["valid"]["NDCG@20"] for r in evaluated]
    assert result.best["epoch"] == evaluated[int(np.argmax(scores))]["epoch"]  # first maximum wins
    for record in evaluated:
        assert record["valid"]["Recall@20"] == record["valid"]["HR@20"]  # one held-out item per user
    model = result.model
    assert not model.training and model.check_inputs
    validator = RankingEvaluator(split, "valid", "full", model.config.maxlen, max_users=None, ks=(20, 50))
    assert train_module.with_recall(validator(model.score)) == pytest.approx(result.best["valid"])


def test_same_seed_same_run(pattern_split):
    def run(seed):
        config = quick_config(epochs=2, seed=seed)
        result = train(pattern_split, config, bilinear="shared", logits_init="random", **MODEL)
        return [{k: v for k, v in r.items() if k != "seconds"} for r in result.history], result.model.state_dict()

    (history_a, state_a), (history_b, state_b) = run(0), run(0)
    assert history_a == history_b and all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert run(1)[0] != history_a


def test_routing_table_is_one_users_coupling(trained):
    _, result = trained
    model = result.model
    history = np.arange(1, 13)  # 12 items, more than maxlen = 10
    table = routing_table(model, history)
    assert table.shape == (10, 3)
    np.testing.assert_allclose(table.sum(1), 1.0, rtol=1e-6)
    with torch.no_grad():
        _, coupling = model(torch.as_tensor(left_pad([history], 10)))
    np.testing.assert_array_equal(table, coupling[0].numpy())
    assert routing_table(model, [4, 5, 6]).shape == (3, 3)
    with pytest.raises(ValueError, match="at least one item"):
        routing_table(model, [])


def test_cli_writes_a_complete_report(monkeypatch, tmp_path, interactions_factory, capsys):
    data = interactions_factory("pattern", n_users=40, n_items=60)
    monkeypatch.setattr(train_module, "load_interactions", lambda name: data)
    output = tmp_path / "out" / "games_comirec_seed3.json"
    argv = [
        "--dataset", "games", "--epochs", "2", "--maxlen", "8", "--hidden", "16", "--interests", "3",
        "--bilinear", "per_position", "--logits-init", "zero", "--batch-size", "16", "--eval-every", "1",
        "--seed", "3", "--device", "cpu", "--no-progress", "--output", str(output),
    ]
    returned = train_module.main(argv)
    report = json.loads(output.read_text())
    assert report == json.loads(json.dumps(returned))
    assert report["command"] == "python -m lessons_src.capsules.interest_train " + " ".join(argv)
    assert report["seed"] == 3 and report["dataset"] == "games"
    assert "cpu" in report["hardware"] and report["torch"] == torch.__version__
    for key in ("train_seconds", "wall_seconds", "best", "notes", "train"):
        assert key in report
    assert report["model"]["n_items"] == 60 and report["model"]["n_interests"] == 3
    assert report["model"]["bilinear"] == "per_position" and report["model"]["seed"] == 3
    assert [r["epoch"] for r in report["history"]] == [1, 2]
    assert all(set(r["valid"]) >= {"Recall@20", "NDCG@20", "Recall@50", "NDCG@50"} for r in report["history"])
    full, sampled = report["metrics"]["test/full"], report["metrics"]["test/sampled"]
    for metrics, ks in ((full, (20, 50)), (sampled, (10, 20, 50))):
        for k in ks:
            assert metrics[f"Recall@{k}"] == metrics[f"HR@{k}"]
            assert 0.0 <= metrics[f"NDCG@{k}"] <= metrics[f"Recall@{k}"] <= 1.0
        assert metrics["users"] == 40
    assert "Recall@k = HR@k" in report["notes"]
    printed = capsys.readouterr().out
    assert "test (full)" in printed and "test (sampled)" in printed

"""Ranking distillation (Tang & Wang 2018): weights, the teacher's lists, the loss, and a run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lessons_src.evaluation.ranking import left_pad
from lessons_src.training.results import save_compact_model
from lessons_src.data.split import sequential_split
from lessons_src.distill import rank_experiment
from lessons_src.distill.ranking import (
    RankingDistillation, discrepancy_weights, hybrid_weights, position_weights, ranking_distillation_loss,
    teacher_top_k,
)
from lessons_src.sasrec.model import sasrec_loss
from lessons_src.sasrec.sampler import BatchSampler
from lessons_src.sasrec.train import TrainConfig, fit


def test_position_weights_decay_exponentially_and_sum_to_one():
    w = position_weights(4, lam=2.0)
    assert w.sum().item() == pytest.approx(1.0)
    assert torch.allclose(w[1:] / w[:-1], torch.full((3,), np.exp(-0.5), dtype=torch.float32))
    with pytest.raises(ValueError, match="lam"):
        position_weights(4, 0.0)
    with pytest.raises(ValueError, match="k must"):
        position_weights(0, 1.0)


def test_discrepancy_weights_vanish_where_the_student_already_ranks_higher():
    estimated = torch.tensor([[1.0, 50.0, 2.0]])  # teacher ranks 1, 2, 3
    w = discrepancy_weights(estimated, mu=0.1)
    assert w[0, 0] == 0 and w[0, 2] == 0  # r̂ ≤ r: nothing to correct
    assert w[0, 1].item() == pytest.approx(np.tanh(0.1 * 48))


def test_hybrid_weights_count_sampled_items_above_each_teacher_item():
    features = torch.tensor([[1.0, 0.0]])  # (R=1, C=2): scores are the first coordinate
    sampled = torch.tensor([[[3.0, 0.0], [2.0, 0.0], [-1.0, 0.0], [0.5, 0.0]]])  # scores 3, 2, −1, 0.5
    distilled = torch.tensor([[2.5, 0.0]])  # 1 sampled item above the first, 3 above the second
    w = hybrid_weights(torch.tensor([0.5, 0.5]), features, distilled, sampled, n_items=8, mu=1.0)
    # r̂ = 1 + above · N/S = 1 + 2·above → (3, 7); discrepancies tanh(3 − 1), tanh(7 − 2)
    expected = torch.tensor([np.tanh(2.0), np.tanh(5.0)], dtype=torch.float32)
    assert torch.allclose(w, (expected / expected.sum())[None])


def test_ranking_distillation_loss_is_the_weighted_log_sigmoid_by_hand():
    logits = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    weights = torch.tensor([0.75, 0.25])
    by_hand = -(0.75 * np.log(0.5) + 0.25 * np.log(1 / (1 + np.exp(-2.0)))
                + 0.75 * np.log(1 / (1 + np.exp(-1.0))) + 0.25 * np.log(1 / (1 + np.exp(1.0)))) / 2
    assert ranking_distillation_loss(logits, weights).item() == pytest.approx(by_hand, rel=1e-6)
    assert ranking_distillation_loss(logits[:0], weights).item() == 0.0
    with pytest.raises(ValueError, match="weights"):
        ranking_distillation_loss(logits, weights[:1])


@pytest.fixture
def teacher_and_split(model_factory, interactions_factory):
    split = sequential_split(interactions_factory("random", n_users=25, n_items=40))
    teacher = model_factory(seed=1, n_items=40, maxlen=8, perturb=True).eval()
    return teacher, split


def test_teacher_lists_are_its_best_unseen_items_at_every_real_position(teacher_and_split):
    teacher, split = teacher_and_split
    windows = torch.as_tensor(left_pad(split.train, 9))
    table = teacher_top_k(teacher, windows, split.train, split.n_items, k=5, batch_size=7, progress=False)
    seq = windows[:, :-1]
    assert table.shape == (len(windows), 8, 5)
    assert (table[seq == 0] == 0).all() and (table[seq != 0] > 0).all()
    for user in (1, 7, 20):
        history = set(split.train[user].tolist())
        with torch.no_grad():
            features = teacher.encode(seq[user:user + 1])[0]  # (L, C)
            scores = features @ teacher.item_embedding.weight.T  # (L, N + 1)
        for t in np.flatnonzero(seq[user].numpy()):
            listed = table[user, t].tolist()
            assert not history & set(listed)  # never an item the user already has
            candidates = [i for i in range(1, split.n_items + 1) if i not in history]
            best = sorted(candidates, key=lambda i: -scores[t, i].item())[:5]
            assert listed == best


def test_distillation_adds_exactly_the_weighted_term_to_sasrec_loss(teacher_and_split, model_factory):
    teacher, split = teacher_and_split
    windows = torch.as_tensor(left_pad(split.train, 9))
    table = teacher_top_k(teacher, windows, split.train, split.n_items, k=4, progress=False)
    student = model_factory(seed=2, n_items=40, maxlen=8, hidden=8, dropout=0.0)
    sampler = BatchSampler(split.train, split.n_items, 8, 6, "cpu", seed=0)
    users, seq, pos, neg = sampler.sample()
    with_rd = RankingDistillation(table, split.n_items, rd_weight=0.7, lam=2.0)(student, users, seq, pos, neg)
    without = RankingDistillation(table, split.n_items, rd_weight=0.0)(student, users, seq, pos, neg)
    assert without.item() == pytest.approx(sasrec_loss(*student(seq, pos, neg), pos).item(), rel=1e-5)
    # the added term, by hand: the student's scores of the teacher's items at the real positions
    features = student.encode(seq)
    scores = torch.einsum("blc,blkc->blk", features, student.item_embedding(table[users]))[pos != 0]
    term = -(position_weights(4, 2.0) * torch.nn.functional.logsigmoid(scores)).sum(-1).mean()
    assert (with_rd - without).item() == pytest.approx(0.7 * term.item(), rel=1e-4)
    with pytest.raises(ValueError, match="weighting"):
        RankingDistillation(table, split.n_items, weighting="linear")


def test_distilled_student_learns_the_teacher_lists_and_the_teacher_is_untouched(teacher_and_split, model_factory):
    teacher, split = teacher_and_split
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    windows = torch.as_tensor(left_pad(split.train, 9))
    table = teacher_top_k(teacher, windows, split.train, split.n_items, k=3, progress=False)
    config = TrainConfig(epochs=30, batch_size=8, lr=1e-2, eval_every=30, eval_users=None, device="cpu",
                         progress=False, log=False)

    def overlap(model):  # share of the teacher's top-3 at the last position among the model's top-10
        seq = windows[1:, :-1]
        with torch.no_grad():
            scores = model.encode(seq)[:, -1] @ model.item_embedding.weight.T
        for user, items in enumerate(split.train[1:]):
            scores[user, items] = -torch.inf
        scores[:, 0] = -torch.inf
        mine = scores.topk(10).indices
        theirs = table[1:, -1]
        return np.mean([len(set(a.tolist()) & set(b.tolist())) / 3 for a, b in zip(mine, theirs)])

    scratch = model_factory(seed=3, n_items=40, maxlen=8, hidden=8, dropout=0.0)
    fit(scratch, split, config)
    distilled = model_factory(seed=3, n_items=40, maxlen=8, hidden=8, dropout=0.0)
    fit(distilled, split, config, loss_fn=RankingDistillation(table, split.n_items, rd_weight=1.0, lam=2.0,
                                                               weighting="hybrid", rank_samples=10))
    assert overlap(distilled) > overlap(scratch) + 0.2
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before.items())


def test_cli_reports_teacher_and_both_students(monkeypatch, tmp_path, interactions_factory, model_factory):
    data = interactions_factory("pattern", n_users=40, n_items=25)
    monkeypatch.setattr(rank_experiment, "load_interactions", lambda name: data)
    teacher = model_factory(seed=0, n_items=25, maxlen=8, hidden=16)
    path = save_compact_model(teacher, teacher.config.to_dict(), tmp_path / "teacher.pt")
    output = tmp_path / "rd.json"
    argv = ["--teacher", str(path), "--hidden", "8", "--epochs", "2", "--eval-every", "1", "--k", "3",
            "--device", "cpu", "--no-progress", "--output", str(output)]
    rank_experiment.main(argv)
    report = json.loads(output.read_text())
    assert set(report["models"]) == {"teacher", "scratch", "distilled"}
    assert report["models"]["scratch"]["parameters"]["total"] < report["models"]["teacher"]["parameters"]["total"]
    for model in report["models"].values():
        assert model["inference_ms_per_1000_users"] > 0
        assert 0 <= model["metrics"]["test/full"]["NDCG@10"] <= model["metrics"]["test/full"]["HR@10"] <= 1
    assert report["command"].endswith(" ".join(argv)) and report["teacher_top_k_seconds"] is not None
    wrong = model_factory(seed=0, n_items=30, maxlen=8, hidden=16)
    save_compact_model(wrong, wrong.config.to_dict(), tmp_path / "wrong.pt")
    with pytest.raises(SystemExit, match="30 items"):
        rank_experiment.main(argv[:1] + [str(tmp_path / "wrong.pt")] + argv[2:])

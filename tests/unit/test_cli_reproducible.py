"""Same command, same seed → the same numbers, for every training CLI of the book.

Each CLI's ``main(argv)`` runs twice on tiny synthetic data, with the global random generators
disturbed in between (as a notebook or an earlier run would leave them). Everything in the two
results files must be equal to the bit, except the times and the hardware line.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from synthetic import synthetic_mnist

from lessons_src.capsules import interest_train, mnist_train
from lessons_src.distill import mnist_experiment, rank_experiment
from lessons_src.mgnm import train as mgnm_train
from lessons_src.sasrec import train as sasrec_train
from lessons_src.sasrec.model import SASRec, SASRecConfig
from lessons_src.training.results import save_compact_model

TIMES = {"train_seconds", "wall_seconds", "seconds", "eval_seconds", "teacher_top_k_seconds",
         "inference_ms_per_1000_users"}


def without_times(value):
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def disturb_global_generators():
    torch.randn(7)
    np.random.rand(3)
    random.random()


def run_twice(main, argv, tmp_path):
    reports = []
    for _ in range(2):
        disturb_global_generators()
        reports.append(main([*argv, "--output", str(tmp_path / "run.json")]))
    return [without_times(r) for r in reports]


@pytest.fixture
def patched(monkeypatch, interactions_factory):
    data = interactions_factory("pattern", n_users=40, n_items=25)
    for module in (sasrec_train, interest_train, rank_experiment, mgnm_train):
        monkeypatch.setattr(module, "load_interactions", lambda name: data)
    mnist = synthetic_mnist(192, 64)
    for module in (mnist_train, mnist_experiment):
        monkeypatch.setattr(module, "mnist_tensors", lambda device=None: {k: v.clone() for k, v in mnist.items()})
    return data


def test_sasrec_train(patched, tmp_path):
    argv = ["--epochs", "2", "--maxlen", "8", "--hidden", "16", "--blocks", "1", "--batch-size", "16",
            "--eval-every", "1", "--seed", "3", "--device", "cpu", "--no-progress"]
    first, second = run_twice(sasrec_train.main, argv, tmp_path)
    assert first == second


def test_interest_train(patched, tmp_path):
    argv = ["--epochs", "2", "--maxlen", "8", "--hidden", "8", "--batch-size", "16", "--eval-every", "1",
            "--logits-init", "random", "--seed", "2", "--device", "cpu", "--no-progress"]
    first, second = run_twice(interest_train.main, argv, tmp_path)
    assert first == second


def test_capsules_mnist_train(patched, tmp_path):
    argv = ["--epochs", "1", "--batch-size", "64", "--conv-channels", "8", "--primary-types", "2",
            "--decoder-hidden", "16", "32", "--seed", "1", "--device", "cpu", "--no-progress"]
    first, second = run_twice(mnist_train.main, argv, tmp_path)
    assert first == second


def test_distill_mnist_experiment(patched, tmp_path):
    argv = ["--epochs", "1", "--batch-size", "64", "--seed", "3", "--device", "cpu", "--no-progress"]
    first, second = run_twice(mnist_experiment.main, argv, tmp_path)
    assert first == second


def test_distill_rank_experiment(patched, tmp_path):
    torch.manual_seed(0)
    teacher = SASRec(SASRecConfig(patched.n_items, 8, 16, 1, 1, 0.2))
    save_compact_model(teacher, teacher.config.to_dict(), tmp_path / "teacher.pt")
    argv = ["--teacher", str(tmp_path / "teacher.pt"), "--hidden", "8", "--epochs", "2", "--eval-every", "1",
            "--k", "3", "--seed", "4", "--device", "cpu", "--no-progress"]
    first, second = run_twice(rank_experiment.main, argv, tmp_path)
    assert first == second


@pytest.mark.parametrize("protocol", ["leave-one-out", "time-ordered"])
def test_mgnm_train(patched, tmp_path, protocol):
    argv = ["--epochs", "2", "--maxlen", "8", "--hidden", "8", "--batch-size", "16", "--eval-every", "1",
            "--levels", "2", "--cuts-per-user", "2", "--protocol", protocol, "--seed", "5", "--device", "cpu",
            "--no-progress"]
    first, second = run_twice(mgnm_train.main, argv, tmp_path)
    assert first == second
    assert first["metrics"], "the run reports test metrics"


@pytest.mark.parametrize("encoders", ["scratch", "pretrained"])
def test_mmrec_train(tmp_path, encoders):
    from lessons_src.mmrec import train as mmrec_train
    from lessons_src.mmrec.world import WorldConfig, generate_world

    world = generate_world(WorldConfig(n_users=40, articles_per_category=12, history_min=3, history_max=5,
                                       impressions_per_user=3, seed=3), tmp_path / "world")
    argv = ["--data", str(world), "--epochs", "2", "--hidden", "16", "--heads", "2", "--batch-size", "16",
            "--encoders", encoders, "--seed", "1", "--device", "cpu", "--no-progress"]
    first, second = run_twice(mmrec_train.main, argv, tmp_path)
    assert first == second

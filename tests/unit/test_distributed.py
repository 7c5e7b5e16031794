"""The training toolkit under torchrun: DDP on two CPU processes (gloo).

* one optimisation step on 2 ranks × B/2 examples moves the parameters exactly as one step on
  1 rank × B examples, when the loss is a per-example mean (DDP averages the gradients);
* ``torchrun --nproc_per_node=2 -m lessons_src.sasrec.train`` on ML-100k finishes, learns, and
  writes its report once, recording the world size and the per-rank batch size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lessons_src.training.loop import LoopConfig, Task, train_loop

BATCH = 8


def examples() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(BATCH, 5, generator=generator), torch.randn(BATCH, 3, generator=generator)


def one_step(rows: slice) -> dict[str, torch.Tensor]:
    """One SGD step of a seeded linear model on examples[rows] through :func:`train_loop`."""
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 3)
    x, y = examples()

    def loss(model, batch):
        inputs, targets = batch
        return (model(inputs) - targets).square().sum(-1).mean()  # a mean over examples

    task = Task(batches=lambda epoch: [(x[rows], y[rows])], loss=loss)
    train_loop(model, torch.optim.SGD(model.parameters(), lr=0.5), task,
               LoopConfig(epochs=1, eval_every=0, progress=False, log=False))
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _rank_main(rank: int, world_size: int, store: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world_size)
    try:
        share = BATCH // world_size
        state = one_step(slice(rank * share, (rank + 1) * share))
        torch.save(state, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


def test_two_ranks_with_half_batches_take_the_step_of_one_rank_with_the_whole_batch(tmp_path):
    single = one_step(slice(None))
    mp.spawn(_rank_main, args=(2, str(tmp_path / "store"), str(tmp_path / "state")), nprocs=2, join=True)
    for rank in range(2):
        state = torch.load(tmp_path / f"state.{rank}", weights_only=True)
        for key, value in single.items():
            torch.testing.assert_close(state[key], value, rtol=1e-6, atol=1e-7)
    # and the step did something: a half batch alone gives another update
    half = one_step(slice(0, BATCH // 2))
    assert not torch.allclose(half["weight"], single["weight"])


def test_torchrun_two_processes_sasrec_on_ml100k(real_data_dir, tmp_path):
    if not (real_data_dir / "ml-100k").exists() and not any(real_data_dir.glob("ml-100k*")):
        pytest.skip(f"{real_data_dir} has no ml-100k")
    output = tmp_path / "out" / "report.json"
    env = {**os.environ, "LESSONS_DATA_DIR": str(real_data_dir), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "lessons_src.sasrec.train", "--dataset", "ml-100k", "--epochs", "2", "--maxlen", "50",
               "--eval-every", "2", "--eval-users", "300", "--device", "cpu", "--no-progress",
               "--output", str(output)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [p.name for p in output.parent.iterdir()] == ["report.json"]  # written once, no temp files
    report = json.loads(output.read_text())
    assert report["world_size"] == 2 and report["per_rank_batch_size"] == 64
    assert [r["epoch"] for r in report["history"]] == [1, 2]
    assert report["history"][1]["loss"] < report["history"][0]["loss"]
    assert "valid" in report["history"][1] and report["metrics"]["test/full"]["users"] > 900
    assert done.stdout.count("test (full)") == 1  # rank 0 alone scores and prints

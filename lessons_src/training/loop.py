"""The one training loop of the book: epochs, evaluation, best state, patience, checkpoints.

A chapter describes its training as a :class:`Task` — where the batches come from, what the loss
is, how the model is evaluated — and :func:`train_loop` runs it:

    for epoch in 1 … epochs:
        for batch in task.batches(epoch):            # this rank's share of the epoch
            loss = task.loss(model, batch)           # a per-example mean
            zero_grad; loss.backward(); step         # DDP averages the gradients over ranks
        record = {"epoch", **task.summarise(Σ tallies, steps), "train_seconds", …}
        every eval_every epochs and at the last: record |= task.evaluate(model)   (rank 0 only)
        keep the state with the best record[select_by]; stop after `patience` evaluations without
        improvement; write a resumable checkpoint (rank 0 only)

The loop does not seed anything: seed before the model is built (:func:`~.device.seed_everything`),
so that the initial weights are part of what the seed fixes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import distributed
from .checkpoint import load_checkpoint, save_checkpoint
from .device import evaluating


@dataclass
class Task:
    """What a chapter supplies to :func:`train_loop`.

    * ``batches(epoch)`` — the batches of one epoch for this rank (anything ``loss`` accepts);
    * ``loss(model, batch)`` — the training loss, a per-example mean, or ``(loss, tally)`` where
      ``tally`` (a tensor) is summed over the epoch's steps for ``summarise``; default tally:
      the loss itself;
    * ``summarise(total, steps)`` — the epoch's training fields from the summed tallies; default
      ``{"loss": total / steps}``;
    * ``evaluate(model)`` — fields added to the record (e.g. ``{"valid": {...}}``), run in eval
      mode without gradients, on rank 0;
    * ``describe(record)`` — the log line of an epoch (None: no line); default: one line per
      evaluation;
    * ``generators`` — the random streams the batches draw from: checkpointed and restored.
    """

    batches: Callable[[int], Iterable[Any]]
    loss: Callable[[nn.Module, Any], torch.Tensor | tuple[torch.Tensor, torch.Tensor]]
    evaluate: Callable[[nn.Module], dict] | None = None
    summarise: Callable[[torch.Tensor, int], dict] | None = None
    describe: Callable[[dict], str] | None = None
    generators: Sequence[torch.Generator | np.random.Generator] = ()


@dataclass
class LoopConfig:
    epochs: int
    eval_every: int = 1  # evaluate every this many epochs and at the last; 0: never
    select_by: str | None = None  # "valid/NDCG@10": keep the state with the largest record value
    patience: int | None = None  # stop after this many evaluations without improvement
    progress: bool = True  # a tqdm bar over the steps of each epoch
    log: bool = True  # one line per epoch (task.describe), or per evaluation without it
    name: str = "epoch"  # the bar's label
    # time fields of a record: "cumulative" — "seconds", training time so far; "per_epoch" —
    # "train_seconds" of this epoch and "eval_seconds" of its evaluation; None — none
    timing: str | None = "cumulative"

    def __post_init__(self):
        if self.timing not in ("cumulative", "per_epoch", None):
            raise ValueError(f"timing must be 'cumulative', 'per_epoch' or None, got {self.timing!r}")
        check_int("epochs", self.epochs, 1)
        check_int("eval_every", self.eval_every, 0)
        if self.patience is not None:
            check_int("patience", self.patience, 1)


def check_int(name: str, value, low: int) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is an integer ≥ ``low`` (bools are not)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer ≥ {low}, got {value!r}")


@dataclass
class LoopResult:
    model: nn.Module
    history: list[dict] = field(default_factory=list)
    best: dict = field(default_factory=dict)
    seconds: float = 0.0  # training time, evaluation excluded


def metric(record: dict, path: str) -> float:
    """``record["valid"]["NDCG@10"]`` for ``path = "valid/NDCG@10"``."""
    value = record
    for key in path.split("/"):
        value = value[key]
    return value


class _LossOf(nn.Module):
    """``task.loss(model, batch)`` as a module's forward, so that DDP wraps any chapter's loss
    (DDP syncs gradients of what its forward computed; a loss may call ``model.encode`` or
    ``model.loss`` rather than ``model(...)``)."""

    def __init__(self, model: nn.Module, loss: Callable):
        super().__init__()
        self.model, self.loss_fn = model, loss

    def forward(self, batch):
        return self.loss_fn(self.model, batch)


def train_loop(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    task: Task,
    config: LoopConfig,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    scheduler_per: str = "epoch",
    checkpoint: str | Path | None = None,
    resume: bool = False,
    extra_state: dict | None = None,
) -> LoopResult:
    """Train ``model`` (already on its device) as ``task`` says.

    With ``config.select_by`` the best state is loaded back and the model is left in eval mode;
    without it, the model is the last epoch's, in the mode training left it.

    ``scheduler`` steps after every optimizer step (``scheduler_per="step"``) or after every epoch;
    ``checkpoint`` is written after every epoch and, with ``resume``, read first when it exists;
    ``extra_state`` goes into the checkpoint as it is (e.g. the model config).
    """
    if scheduler_per not in ("step", "epoch"):
        raise ValueError(f"scheduler_per must be 'step' or 'epoch', got {scheduler_per!r}")
    world = distributed.current_world()
    device = next(model.parameters()).device
    step_module = _LossOf(model, task.loss)
    if world.distributed:
        step_module = nn.parallel.DistributedDataParallel(
            step_module, device_ids=[device.index] if device.type == "cuda" else None)
    result, best_state, start = LoopResult(model), None, 1
    if resume and checkpoint and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint, device)
        best_state, start = _restore(state, model, optimizer, scheduler, task, result, world), state["epoch"] + 1
    trusted = getattr(model, "check_inputs", None)
    if trusted is not None:
        model.check_inputs = False  # the task's batches are valid by construction
    try:
        for epoch in range(start, config.epochs + 1):
            record, evaluated = _epoch(epoch, step_module, model, optimizer, task, config, scheduler,
                                       scheduler_per, result, device)
            if evaluated and config.select_by and (
                    not result.best or metric(record, config.select_by) > metric(result.best, config.select_by)):
                result.best = {"epoch": epoch, **{k: record[k] for k in evaluated}}
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            result.history.append(record)
            if checkpoint:
                _save(checkpoint, epoch, model, optimizer, scheduler, task, result, best_state, extra_state, world)
            if config.patience and config.select_by and _patience_spent(result.history, result.best, config):
                break
    finally:
        if trusted is not None:
            model.check_inputs = trusted
    if best_state is not None:  # the selected model comes back ready to use: in eval mode
        model.load_state_dict(best_state)
        model.eval()
    return result


def _epoch(epoch, step_module, model, optimizer, task, config, scheduler, scheduler_per, result, device):
    """One epoch of training, then (every ``eval_every``) an evaluation; returns the record and the
    names of the fields the evaluation added."""
    began = time.perf_counter()
    model.train()
    total, steps = None, 0
    batches = tqdm(task.batches(epoch), desc=f"{config.name} {epoch}", disable=not config.progress, leave=False)
    for batch in batches:
        out = step_module(batch)
        loss, tally = out if isinstance(out, tuple) else (out, out)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None and scheduler_per == "step":
            scheduler.step()
        tally = tally.detach()
        total = tally if total is None else total + tally  # summed on the device: no sync per step
        steps += 1
    total = distributed.mean_over_ranks(total if total is not None else torch.zeros((), device=device))
    record = {"epoch": epoch, **(task.summarise or _mean_loss)(total, max(steps, 1))}
    if scheduler is not None and scheduler_per == "epoch":
        scheduler.step()
    seconds = time.perf_counter() - began
    result.seconds += seconds
    if config.timing == "per_epoch":
        record["train_seconds"] = round(seconds, 2)
    evaluated = []
    if task.evaluate and config.eval_every and (epoch % config.eval_every == 0 or epoch == config.epochs):
        began = time.perf_counter()
        fields = None
        if distributed.current_world().is_main:
            with evaluating(model):
                fields = task.evaluate(model)
        fields = distributed.from_main(fields)  # the others wait here for rank 0's evaluation
        record.update(fields)
        if config.timing == "per_epoch":
            record["eval_seconds"] = round(time.perf_counter() - began, 2)
        evaluated = list(fields)
    if config.timing == "cumulative":
        record["seconds"] = round(result.seconds, 2)
    line = (task.describe(record) if task.describe else _describe(record, evaluated)) if config.log else None
    if line and distributed.current_world().is_main:
        tqdm.write(line)
    return record, evaluated


def _mean_loss(total: torch.Tensor, steps: int) -> dict:
    return {"loss": float(total) / steps}


def _describe(record: dict, evaluated: list[str]) -> str | None:
    if not evaluated:
        return None  # one line per evaluation
    parts = [f"epoch {record['epoch']:4d}", f"loss {record['loss']:.4f}"]
    for key in evaluated:
        value = record[key]
        if isinstance(value, dict):
            value = "  ".join(f"{k} {v:.4f}" for k, v in value.items() if k != "users")
        parts.append(f"{key} {value}")
    return "  ".join(parts)


def _patience_spent(history: list[dict], best: dict, config: LoopConfig) -> bool:
    """True after ``patience`` evaluations in a row that did not beat the best one."""
    evaluations = [r for r in history if _has(r, config.select_by)]
    return len(evaluations) > config.patience and all(
        r["epoch"] != best["epoch"] for r in evaluations[-config.patience:])


def _has(record: dict, path: str) -> bool:
    try:
        metric(record, path)
        return True
    except (KeyError, TypeError):
        return False


# ---------------------------------------------------------------- checkpoints

def _rng_state(task: Task) -> dict:
    """Every random stream of this process: the task's generators, torch (CPU, CUDA), Python, NumPy."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "task": [g.get_state() if isinstance(g, torch.Generator) else g.bit_generator.state
                 for g in task.generators],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": (kind, keys.tolist(), pos, has_gauss, gauss),
    }


def _set_rng_state(state: dict, task: Task) -> None:
    if len(state["task"]) != len(task.generators):
        raise ValueError(f"the checkpoint has {len(state['task'])} generator states, the task "
                         f"{len(task.generators)}")
    for generator, saved in zip(task.generators, state["task"]):
        if isinstance(generator, torch.Generator):
            generator.set_state(saved.cpu())  # generator states live on the CPU
        else:
            generator.bit_generator.state = saved
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():  # dropout on the GPU draws from these
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))


def _save(path, epoch, model, optimizer, scheduler, task, result, best_state, extra_state, world) -> None:
    rng = distributed.gather_to_all(_rng_state(task))  # every rank's streams, saved by rank 0
    if world.is_main:
        save_checkpoint({
            "model": model.state_dict(),
            "best_model": best_state,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": rng,
            "epoch": epoch,
            "history": result.history,
            "best": result.best,
            "seconds": result.seconds,
            **(extra_state or {}),
        }, path)
    distributed.barrier()  # nobody reads a checkpoint before it is complete


def _restore(state, model, optimizer, scheduler, task, result, world):
    """Load a checkpoint written by :func:`_save` into the objects; returns the best state."""
    if len(state["rng"]) != world.world_size:
        raise ValueError(f"the checkpoint was written by {len(state['rng'])} processes, this run has "
                         f"{world.world_size}: resume with the same world size")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    _set_rng_state(state["rng"][world.rank], task)
    result.history, result.best, result.seconds = state["history"], state["best"], state["seconds"]
    return state["best_model"]

"""The run report every CLI writes: what was run, where, with which seed, and how long it took.

    report = run_report("lessons_src.sasrec.train", argv, seed, device, batch_size=128)
    report.update(history=..., metrics=...)
    write_report(report, began, path)

The header says how to repeat the run (``command``, ``seed``, ``git_commit``) and where it ran
(``hardware``, ``torch``, ``world_size``, ``per_rank_batch_size``); :func:`write_report` adds
``wall_seconds`` and writes the file atomically (a temporary file renamed into place).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from .checkpoint import atomic_write
from .device import describe_hardware
from .distributed import current_world, per_rank_batch_size


def git_commit(folder: str | os.PathLike | None = None) -> str | None:
    """The commit checked out around ``folder`` (default: this package), ``+dirty`` if changed; None outside git."""
    folder = Path(folder or Path(__file__).resolve().parent)
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                                 capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if changed else "") if commit else None


def command_line(module: str, argv: list[str] | None) -> str:
    """``python -m module args…``, the command that repeats the run."""
    return f"python -m {module} " + " ".join(sys.argv[1:] if argv is None else argv)


def run_report(module: str, argv: list[str] | None, seed: int, device: torch.device | str,
               batch_size: int | None = None) -> dict:
    """The header every results file starts with (see the module docstring)."""
    world = current_world()
    return {
        "command": command_line(module, argv),
        "seed": seed,
        "hardware": describe_hardware(device),
        "torch": torch.__version__,
        "git_commit": git_commit(),
        "world_size": world.world_size,
        "per_rank_batch_size": None if batch_size is None else per_rank_batch_size(batch_size, world.world_size),
    }


def write_json(data: dict, path: str | os.PathLike) -> Path:
    """``data`` as indented JSON, written atomically: a reader never sees half a file."""
    text = (json.dumps(data, indent=2) + "\n").encode()
    return atomic_write(path, lambda handle: handle.write(text))


def write_report(report: dict, began: float, path: str | os.PathLike) -> dict:
    """Add ``wall_seconds`` (since ``began``, a ``time.perf_counter()``), write on rank 0 only, and
    return what the file holds (tuples become lists)."""
    report["wall_seconds"] = round(time.perf_counter() - began, 1)
    if current_world().is_main:
        write_json(report, path)
    return json.loads(json.dumps(report))


def training_fields(config, result) -> dict:
    """The report's record of a :func:`~.loop.train_loop` run: settings (a dataclass), training time,
    the selected epoch and every epoch's record."""
    return {"train": asdict(config), "train_seconds": round(result.seconds, 1), "best": result.best,
            "history": result.history}


def add_run_arguments(parser: argparse.ArgumentParser, output: str) -> argparse.ArgumentParser:
    """The flags every model-selecting CLI shares: patience, seed, device, output, save-model, progress."""
    parser.add_argument("--patience", type=int, default=None, help="stop after this many evaluations without improvement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    parser.add_argument("--output", type=Path, default=Path(output))
    parser.add_argument("--save-model", type=Path, default=None,
                        help="also write the selected model as a compact float16 checkpoint")
    parser.add_argument("--no-progress", action="store_true")
    return parser

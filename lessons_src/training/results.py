"""Results of full runs, committed to the repository: small JSON files and compact checkpoints.

Notebooks never depend on a long run happening during the build: a CLI run writes
``results/<chapter>/<name>.json`` (command, seed, hardware, wall time, every evaluation) and, when
it is small, the trained weights; the notebook loads them with the functions here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .checkpoint import load_checkpoint, save_checkpoint

RESULTS_ENV = "LESSONS_RESULTS_DIR"


def results_dir() -> Path | None:
    """``$LESSONS_RESULTS_DIR``, else the ``results/`` folder of the repository above the cwd, else
    that of the repository this package was installed from (an editable install, as on Colab, where
    the notebook runs in /content and the clone sits beside it)."""
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV])
    package_repository = Path(__file__).resolve().parents[2]
    for folder in [Path.cwd(), *Path.cwd().parents, package_repository]:
        if (folder / "results").is_dir() and (folder / "lessons_src").is_dir():
            return folder / "results"
    return None


def load_result(relative: str) -> dict | None:
    """The JSON results file ``results/<relative>``, or None when it is not there."""
    root = results_dir()
    path = root / relative if root else None
    if path is None or not path.is_file():
        return None
    return json.loads(path.read_text())


def save_compact_model(model: torch.nn.Module, config: dict, path: str | os.PathLike) -> Path:
    """Weights in float16 (half the size; scores change by < 1e-3) plus the model config."""
    state = {k: v.detach().cpu().half() if v.is_floating_point() else v.cpu() for k, v in model.state_dict().items()}
    return save_checkpoint({"config": config, "state": state}, path)


def load_compact_model(path: str | os.PathLike) -> tuple[dict, dict]:
    """(config, float32 state dict) saved by :func:`save_compact_model`; loads with weights_only=True."""
    saved = load_checkpoint(path)
    state = {k: v.float() if v.is_floating_point() else v for k, v in saved["state"].items()}
    return saved["config"], state

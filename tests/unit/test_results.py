"""Committed results: locating the folder and compact (float16) model checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lessons_src.training.results import load_compact_model, load_result, results_dir, save_compact_model
from lessons_src.sasrec.model import SASRec, SASRecConfig


def test_results_dir_prefers_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSONS_RESULTS_DIR", str(tmp_path))
    (tmp_path / "chapter").mkdir()
    (tmp_path / "chapter" / "run.json").write_text(json.dumps({"seed": 3}))
    assert results_dir() == tmp_path
    assert load_result("chapter/run.json") == {"seed": 3}
    assert load_result("chapter/missing.json") is None


def test_results_dir_falls_back_to_the_installed_repository(tmp_path, monkeypatch):
    """Colab: the notebook runs in /content, the editable clone beside it; the results are still found."""
    monkeypatch.delenv("LESSONS_RESULTS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # no results/ above this folder
    repository = Path(__file__).resolve().parents[2]
    assert results_dir() == repository / "results"
    assert load_result("sasrec/games_seed0.json") is not None


def test_compact_model_roundtrip_keeps_scores(tmp_path):
    torch.manual_seed(0)
    config = SASRecConfig(n_items=30, maxlen=8, hidden=16, n_heads=2, dropout=0.0)
    model = SASRec(config).eval()
    path = save_compact_model(model, config.to_dict(), tmp_path / "model.pt")
    loaded_config, state = load_compact_model(path)
    copy = SASRec(SASRecConfig(**loaded_config)).eval()
    copy.load_state_dict(state)
    histories = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 5]])
    torch.testing.assert_close(copy.score(histories), model.score(histories), atol=5e-3, rtol=5e-3)
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())


def test_compact_model_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"config": {}, "state": {}, "payload": object()}, path)
    with pytest.raises(ValueError, match="weights_only"):
        load_compact_model(path)

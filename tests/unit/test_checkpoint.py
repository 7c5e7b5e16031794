"""Atomic checkpoints that load with weights_only=True."""

from __future__ import annotations

import pickle

import pytest
import torch

from lessons_src.training.checkpoint import load_checkpoint, save_checkpoint


def state():
    return {
        "model": {"w": torch.randn(3, 4), "b": torch.arange(5)},
        "epoch": 7,
        "history": [{"epoch": 1, "loss": 0.5, "valid": {"NDCG@10": 0.25, "users": 3}}],
        "name": "sasrec",
        "best_model": None,
        "rng": torch.get_rng_state(),
    }


def test_roundtrip(tmp_path):
    original = state()
    path = save_checkpoint(original, tmp_path / "deep" / "run.pt")
    assert path == tmp_path / "deep" / "run.pt"
    loaded = load_checkpoint(path)
    assert loaded.keys() == original.keys()
    assert torch.equal(loaded["model"]["w"], original["model"]["w"])
    assert torch.equal(loaded["model"]["b"], original["model"]["b"])
    assert torch.equal(loaded["rng"], original["rng"])
    assert loaded["history"] == original["history"] and loaded["epoch"] == 7 and loaded["best_model"] is None


def test_no_temporary_files_are_left(tmp_path):
    save_checkpoint(state(), tmp_path / "run.pt")
    save_checkpoint(state(), tmp_path / "run.pt")  # overwrite
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path):
    path = save_checkpoint(state(), tmp_path / "run.pt")
    before = path.read_bytes()
    with pytest.raises(Exception):
        save_checkpoint({"model": lambda: None}, path)  # not picklable: fails mid-write
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]


@pytest.mark.parametrize("content", [b"", b"garbage that is not a checkpoint", "truncated"])
def test_corrupt_file_is_a_value_error_naming_it(tmp_path, content):
    path = tmp_path / "run.pt"
    if content == "truncated":
        save_checkpoint(state(), path)
        path.write_bytes(path.read_bytes()[:100])
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError) as caught:
        load_checkpoint(path)
    assert str(path) in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")


class Plain:
    """An ordinary user class: not on torch's weights-only allow-list."""

    def __init__(self):
        self.value = 3


class Payload:
    """Unpickling this would run code (here: create a marker file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickled_objects_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        torch.save({"model": Payload(marker)}, handle, pickle_module=pickle)
    with pytest.raises(ValueError, match="weights_only"):
        load_checkpoint(path)
    assert not marker.exists()


def test_arbitrary_class_instances_are_refused(tmp_path):
    path = tmp_path / "object.pt"
    torch.save({"thing": Plain()}, path)
    with pytest.raises(ValueError):
        load_checkpoint(path)


def test_atomic_files_get_the_permissions_of_a_plain_open(tmp_path):
    """mkstemp makes its file private (0600); a results file or checkpoint must be readable like any
    other file the user writes."""
    import os
    from lessons_src.training.checkpoint import save_checkpoint
    from lessons_src.training.report import write_json

    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    expected = plain.stat().st_mode & 0o777
    for path in (save_checkpoint({"a": 1}, tmp_path / "c.pt"), write_json({"a": 1}, tmp_path / "r.json")):
        assert path.stat().st_mode & 0o777 == expected
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]

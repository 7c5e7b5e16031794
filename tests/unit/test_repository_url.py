"""The repository URL has one source, book/_config.yml; every copy (setup cells, intro) follows it."""

import importlib.util
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("repository_url", ROOT / "tools" / "repository_url.py")
repository_url = importlib.util.module_from_spec(spec)
spec.loader.exec_module(repository_url)


def test_every_copy_matches_the_config():
    assert repository_url.mismatches() == []


def test_a_changed_config_is_caught_and_rewritten(tmp_path):
    shutil.copytree(ROOT / "book", tmp_path / "book", ignore=shutil.ignore_patterns("_build"))
    config = tmp_path / "book" / "_config.yml"
    config.write_text(config.read_text().replace(repository_url.configured_url(), "https://github.com/a/b"))
    problems = repository_url.mismatches(tmp_path)
    assert len(problems) == 1 + len(list((tmp_path / "book" / "notebooks").glob("*.ipynb")))
    repository_url.rewrite(tmp_path)
    assert repository_url.mismatches(tmp_path) == []
    first = json.loads((tmp_path / "book" / "notebooks" / "01_sasrec.ipynb").read_text())
    assert 'REPO = "https://github.com/a/b"' in "".join("".join(c["source"]) for c in first["cells"])

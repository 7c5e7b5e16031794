"""The book refuses to build with the placeholder repository URL unless it is a draft
(book/_ext/repository_guard.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from sphinx.errors import ExtensionError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "book" / "_ext"))
import repository_guard  # noqa: E402

PLACEHOLDER = "https://github.com/example/deep-recsys-book"


def test_the_placeholder_is_an_error_that_names_the_setting():
    with pytest.raises(ExtensionError, match=r"repository.url in book/_config.yml is the placeholder .*BOOK_DRAFT=1"):
        repository_guard.check(PLACEHOLDER, draft=False)
    with pytest.raises(ExtensionError):
        repository_guard.check("", draft=False)


def test_a_draft_builds_and_says_so():
    assert repository_guard.check(PLACEHOLDER, draft=True).startswith("DRAFT build")


def test_a_real_url_builds_without_a_word():
    assert repository_guard.check("https://github.com/someone/deep-recsys-book", draft=False) is None


def test_the_hook_reads_the_environment(monkeypatch):
    config = SimpleNamespace(html_theme_options={"repository_url": PLACEHOLDER})
    monkeypatch.delenv("BOOK_DRAFT", raising=False)
    with pytest.raises(ExtensionError):
        repository_guard._config_inited(None, config)
    monkeypatch.setenv("BOOK_DRAFT", "1")
    repository_guard._config_inited(None, config)  # a draft: no error


def test_the_config_loads_the_guard():
    config = (Path(__file__).resolve().parents[2] / "book" / "_config.yml").read_text()
    assert "repository_guard: _ext/" in config

"""Refuse to build a book whose repository links lead nowhere, unless it is a draft.

The launch buttons (Colab), the repository button and every chapter's setup cell point at
``repository.url`` in ``_config.yml``. While that is still the placeholder, a published book would
send every student to a 404. The build stops with an error naming the setting, unless the
environment variable ``BOOK_DRAFT=1`` says this is a draft (``make book`` sets it on a fresh clone,
and says so). ``make book-release`` builds without it.
"""

from __future__ import annotations

import os

from sphinx.errors import ExtensionError
from sphinx.util import logging

PLACEHOLDER_HOSTS = ("github.com/example/",)
logger = logging.getLogger(__name__)


def placeholder(url: str) -> bool:
    return not url or any(host in url for host in PLACEHOLDER_HOSTS)


def check(url: str, draft: bool) -> str | None:
    """The message to show for ``url``: an error unless ``draft``; None when the URL is real."""
    if not placeholder(url):
        return None
    message = (f"repository.url in book/_config.yml is the placeholder {url!r}: the Colab and repository "
               "links would be 404s. Set it to the book's public repository and run "
               "`.venv/bin/python tools/repository_url.py` (it copies the URL into the setup cells)")
    if not draft:
        raise ExtensionError(message + ", or build a draft with BOOK_DRAFT=1.")
    return "DRAFT build — " + message + "."


def _config_inited(app, config):
    url = config.html_theme_options.get("repository_url", "")
    note = check(url, os.environ.get("BOOK_DRAFT") == "1")
    if note:
        logger.info(note)  # not a warning: the build runs with -W


def setup(app):
    app.connect("config-inited", _config_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

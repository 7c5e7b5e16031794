"""The book's repository URL lives in one place, `book/_config.yml` (`repository.url`, which the
launch buttons read); this script copies it to the places that cannot read the config — each
chapter's Colab setup cell (it runs before the repository is cloned) and the clone command in
`book/intro.md`.

    .venv/bin/python tools/repository_url.py           # rewrite them from the config
    .venv/bin/python tools/repository_url.py --check   # exit 1 and list what disagrees

`tests/unit/test_repository_url.py` runs the check, so a changed config cannot go stale silently.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SETUP_LINE = re.compile(r'^REPO = "([^"]*)"', re.M)  # in each notebook's setup cell
CLONE_LINE = re.compile(r"^git clone (\S+) ", re.M)  # in book/intro.md


def configured_url(root: Path = ROOT) -> str:
    return yaml.safe_load((root / "book" / "_config.yml").read_text())["repository"]["url"]


def _places(root: Path):
    """(path, pattern) of every copy of the URL."""
    yield root / "book" / "intro.md", CLONE_LINE
    for notebook in sorted((root / "book" / "notebooks").glob("*.ipynb")):
        yield notebook, SETUP_LINE


def mismatches(root: Path = ROOT) -> list[str]:
    """'<file>: <url found>' for every copy that differs from the config, or files with no copy."""
    url, problems = configured_url(root), []
    for path, pattern in _places(root):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            text = "".join("".join(c["source"]) + "\n" for c in json.loads(text)["cells"] if c["cell_type"] == "code")
        found = pattern.findall(text)
        if not found:
            problems.append(f"{path.relative_to(root)}: no copy of the repository URL")
        problems += [f"{path.relative_to(root)}: {other} (config: {url})" for other in found if other != url]
    return problems


def rewrite(root: Path = ROOT) -> None:
    url = configured_url(root)
    for path, pattern in _places(root):
        if path.suffix == ".ipynb":
            notebook = json.loads(path.read_text(encoding="utf-8"))
            for cell in notebook["cells"]:
                if cell["cell_type"] == "code":
                    cell["source"] = [SETUP_LINE.sub(f'REPO = "{url}"', line) for line in cell["source"]]
            text = json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
        else:
            text = CLONE_LINE.sub(f"git clone {url} ", path.read_text(encoding="utf-8"))
        path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if "--check" in sys.argv[1:]:
        problems = mismatches()
        print("\n".join(problems) or "every copy matches book/_config.yml")
        sys.exit(1 if problems else 0)
    rewrite()

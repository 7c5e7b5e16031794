"""Colab, simulated: a fresh virtual environment that has torch (and a Jupyter kernel) but not
`lessons_src`, a working folder like /content, and the chapters' own setup cells pointed at a
`file://` clone of this repository instead of the public one.

What must hold: the setup cell installs the package, leaves the installed torch where and what it
was, and the chapter's first cells then run; a second chapter opened in the same machine (package
already installed) runs too, and both find the committed results.

Run by `make test-colab` (part of `make test`); it needs the package index for the dependencies
(pinned by requirements/constraints.txt) and takes a few minutes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"
TORCH = re.search(r"^torch==(\S+)$", CONSTRAINTS.read_text(), re.M).group(1)
FIRST_CODE_CELLS = 4  # the setup cell and the next three
PROBE = """\
import json, torch, lessons_src
from lessons_src.training.results import load_result, results_dir
print("PROBE " + json.dumps({"torch": torch.__version__, "torch_file": torch.__file__,
      "package": lessons_src.__file__, "results": str(results_dir()), "found": load_result(RESULT) is not None}))
"""


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """(python of the fresh environment, its kernel name, environment variables, /content)."""
    base = tmp_path_factory.mktemp("colab")
    prefix = base / "venv"
    venv.EnvBuilder(with_pip=True).create(prefix)
    python = prefix / "bin" / "python"
    env = dict(os.environ, PIP_CONSTRAINT=str(CONSTRAINTS), PIP_DISABLE_PIP_VERSION_CHECK="1",
               JUPYTER_PATH=str(prefix / "share" / "jupyter"))
    env.pop("LESSONS_RESULTS_DIR", None)
    env.pop("VIRTUAL_ENV", None)
    # what Colab has before the first cell: torch and a kernel
    run([python, "-m", "pip", "install", "-q", f"torch=={TORCH}", "ipykernel"], env=env)
    run([python, "-m", "ipykernel", "install", "--prefix", prefix, "--name", "colab-sim"], env=env)
    content = base / "content"
    content.mkdir()
    return python, "colab-sim", env, content


def torch_identity(python: Path, env: dict, content: Path) -> tuple[str, str]:
    done = run([python, "-c", "import torch; print(torch.__version__); print(torch.__file__)"], env=env, cwd=content)
    version, location = done.stdout.split()
    return version, location


def chapter_start(name: str, result: str) -> nbformat.NotebookNode:
    """The chapter's first code cells, its setup cell pointed at file://<this repository>, then a probe."""
    book = nbformat.read(ROOT / "book" / "notebooks" / name, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"][:FIRST_CODE_CELLS]
    assert 'REPO = "' in code[0].source, f"{name}: the first code cell is not the setup cell"
    code[0].source = re.sub(r'^REPO = "[^"]*"', f'REPO = "file://{ROOT}"', code[0].source, flags=re.M)
    cells = [nbformat.v4.new_code_cell(c.source) for c in code]
    cells.append(nbformat.v4.new_code_cell(PROBE.replace("RESULT", repr(result))))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "colab-sim", "display_name": "Colab (simulated)", "language": "python"}
    return notebook


def execute(notebook, kernel: str, env: dict, content: Path) -> dict:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(notebook, kernel_name=kernel, timeout=1800, resources={"metadata": {"path": str(content)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    printed = "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
    return json.loads(printed.split("PROBE ", 1)[1])


def test_setup_cell_installs_the_book_and_keeps_torch(colab):
    python, kernel, env, content = colab
    found = run([python, "-c", "import importlib.util as u; print(u.find_spec('lessons_src'))"], env=env, cwd=content)
    assert found.stdout.strip() == "None", "the fresh environment must not see lessons_src"
    before = torch_identity(python, env, content)

    probe = execute(chapter_start("01_sasrec.ipynb", "sasrec/games_seed0.json"), kernel, env, content)

    assert torch_identity(python, env, content) == before, "the setup cell replaced the installed torch"
    assert (probe["torch"], probe["torch_file"]) == before
    assert Path(probe["package"]).is_relative_to(content / "recsys-book"), probe["package"]
    assert probe["found"] and Path(probe["results"]) == content / "recsys-book" / "results"


def test_a_second_chapter_in_the_same_machine_finds_the_results(colab):
    python, kernel, env, content = colab
    if not (content / "recsys-book").is_dir():
        pytest.skip("needs the installation of the previous test")
    probe = execute(chapter_start("04_mmrec.ipynb", "mmrec/world_full_seed0.json"), kernel, env, content)
    assert probe["found"], f"results not found from {content} (results_dir: {probe['results']})"

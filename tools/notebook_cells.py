"""What the chapter builders (``tools/build_notebook_0N.py``) share: a notebook assembled cell by
cell, with nbgrader metadata, and its results-dependent prose filled in from a text file.

A builder calls ``md`` and ``code`` in reading order, then ``main(sys.argv[1:])``:

* no argument: write the notebook without outputs (execute it afterwards with
  ``jupyter nbconvert --to notebook --execute --inplace``; the committed notebook carries outputs);
* ``--fill-texts``: only refresh the prose of the committed (executed) notebook, keeping outputs
  (every code cell must be as it was executed).

The text file holds blocks ``=== KEY`` followed by text; each replaces ``KEY`` in the markdown cells.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from repository_url import configured_url


# The first two code cells of every chapter: installing the book where it is missing (Colab), and
# the imports and print settings the chapter's cells rely on.
_COLAB_SETUP = r'''
# Setup for Colab (or any machine without the package): fetch the book's repository
# (code + committed results) and install it. An installed torch is kept as it is.
import importlib.util, os, subprocess, sys
REPO = "{url}"
if importlib.util.find_spec("lessons_src") is None:
    if not os.path.isdir("recsys-book"):
        subprocess.run(["git", "clone", "-q", "--depth", "1", REPO, "recsys-book"],
                       check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "recsys-book"],
                   check=True)
    sys.path.insert(0, os.path.abspath("recsys-book"))  # this kernel; a new one finds the install
'''

# the URL lives in book/_config.yml (tools/repository_url.py keeps every copy in line)
COLAB_SETUP = _COLAB_SETUP.replace("{url}", configured_url())

IMPORTS = r'''
import time
import numpy as np
import pandas as pd
import torch
import matplotlib.pyplot as plt
import seaborn as sns

from lessons_src.training.device import describe_hardware, pick_device
from lessons_src.training.results import load_result

torch.set_printoptions(precision=3, sci_mode=False, linewidth=110)
np.set_printoptions(precision=3, suppress=True, linewidth=110)
plt.rcParams.update({"figure.dpi": 100, "axes.titlesize": 11})
device = pick_device()
print("device:", device.type)
'''


class NotebookBuilder:
    def __init__(self, out: Path, texts: Path):
        self.out, self.texts, self.cells = out, texts, []

    def _add(self, make, cid: str, text: str, tags: list[str] | None, nbgrader: dict | None):
        cell = make(text.strip("\n"), id=cid)
        if tags:
            cell.metadata["tags"] = tags
        if nbgrader:
            cell.metadata["nbgrader"] = nbgrader
        self.cells.append(cell)

    def md(self, cid: str, text: str, tags: list[str] | None = None, nbgrader: dict | None = None):
        self._add(nbformat.v4.new_markdown_cell, cid, text, tags, nbgrader)

    def code(self, cid: str, text: str, tags: list[str] | None = None, nbgrader: dict | None = None):
        self._add(nbformat.v4.new_code_cell, cid, text, tags, nbgrader)

    def exercise(self, prefix: str, number: int, signature: str, answer: str, checker: str, points: int):
        """An exercise's three cells: the book's stub (``book-only``), the solution between nbgrader's
        markers (hidden input; the student edition keeps the stub's place) and the graded cell
        (``remove-cell``), all calling ``exercises.<checker>``. ``answer``: the solution's body."""
        name = signature.split("(")[0]
        check = f"exercises.{checker}({name})"
        body = "\n".join("    " + line if line else line for line in answer.strip("\n").splitlines())
        self.code(f"{prefix}-ex{number}-stub", f"def {signature}:\n    raise NotImplementedError\n\nprint({check})",
                  tags=["book-only"])
        self.code(f"{prefix}-ex{number}-solution",
                  f"def {signature}:\n    ### BEGIN SOLUTION\n{body}\n    ### END SOLUTION\n\n"
                  f"result = {check}\nprint(result)",
                  tags=["remove-cell"], nbgrader=solution(f"ex{number}_{name}_solution"))
        self.code(f"grade-ex{number}", f"# Graded ({points} points): the checker's message says what is wrong.\n"
                  f"exercises.assert_correct({check})", tags=["remove-cell"], nbgrader=graded(f"ex{number}_{name}", points))

    def references(self, keyprefix: str):
        """The closing "References" cell: the chapter's entries of book/references.bib, whose
        citations in this chapter carry ``keyprefix`` (one bibliography per page, sphinxcontrib-bibtex)."""
        self.md("references", "## References\n\n```{bibliography}\n:filter: docname in docnames\n"
                f":keyprefix: {keyprefix}\n```")

    def fill_texts(self, notebook) -> None:
        """Replace the placeholders of the results-dependent prose by their blocks in ``texts``."""
        if not self.texts.is_file():
            return
        parts = dict(block.split("\n", 1) for block in self.texts.read_text().split("\n=== ")[1:])
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                for key, text in parts.items():
                    cell.source = cell.source.replace(key.strip(), text.strip())

    def refresh_prose(self) -> None:
        """Rewrite the committed notebook's markdown from the builder and the text file, keeping
        every code cell's outputs and the widget state; a changed code cell needs a re-execution."""
        executed = nbformat.read(self.out, as_version=4)
        ran = {cell.id: cell for cell in executed.cells if cell.cell_type == "code"}
        fresh = nbformat.v4.new_notebook(cells=self.cells, metadata=executed.metadata)
        self.fill_texts(fresh)
        for cell in fresh.cells:
            if cell.cell_type != "code":
                continue
            old = ran.get(cell.id)
            if old is None or old.source != cell.source:
                raise SystemExit(f"{self.out}: code cell {cell.id!r} changed — execute the notebook again")
            cell.outputs, cell.execution_count = old.outputs, old.execution_count
            cell.metadata = {**old.metadata, **cell.metadata}  # the builder's tags and nbgrader win
        nbformat.write(fresh, self.out)
        print("refreshed the prose of", self.out)

    def main(self, argv: list[str]) -> None:
        if argv == ["--fill-texts"]:
            self.refresh_prose()
            return
        notebook = nbformat.v4.new_notebook(cells=self.cells)
        notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
        notebook.metadata["language_info"] = {"name": "python"}
        self.fill_texts(notebook)
        nbformat.write(notebook, self.out)
        print("wrote", self.out)


def solution(grade_id: str) -> dict:
    """nbgrader metadata of a cell holding a solution region."""
    return {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3, "solution": True}


def graded(grade_id: str, points: int) -> dict:
    """nbgrader metadata of an autograded test cell."""
    return {"grade": True, "grade_id": grade_id, "locked": True, "points": points, "schema_version": 3,
            "solution": False}

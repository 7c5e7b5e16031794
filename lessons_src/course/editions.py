"""The course editions of a chapter notebook, and the checks that keep them honest.

The book's notebooks carry their exercises in nbgrader's format (https://nbgrader.readthedocs.io):

- a **solution cell** (metadata ``nbgrader.solution``) with the answer between ``### BEGIN SOLUTION``
  and ``### END SOLUTION``; nbgrader's student edition replaces that region by a stub, and the
  cell still prints the chapter's checker, so a student gets feedback while working;
- a **graded cell** right after it (``nbgrader.grade``, ``points``; tag ``remove-cell``, so the
  book does not show it) that calls the same checker through ``assert_correct``;
- for the open exercise, a **hand-graded answer cell** (markdown, solution + grade) whose source in
  the book notebook is the rubric: the instructor edition shows it, the student edition gets
  "YOUR ANSWER HERE", the book does not show it (tag ``remove-cell``).

Cells tagged ``book-only`` (the visible stubs the book's reader sees before the hidden solution)
are dropped from both course editions. This module only reads and filters notebooks (dicts in
nbformat 4 layout); ``kit.py`` runs nbgrader on them.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from html import unescape

BOOK_ONLY = "book-only"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


@dataclass(frozen=True)
class GradedCell:
    grade_id: str
    points: float
    by_hand: bool  # markdown answer cells are graded by the teacher, code cells by the checkers


def source(cell: dict) -> str:
    text = cell.get("source", "")
    return text if isinstance(text, str) else "".join(text)


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def instructor_edition(notebook: dict) -> dict:
    """The book notebook without its ``book-only`` cells (solutions, rubric and outputs kept)."""
    edition = copy.deepcopy(notebook)
    edition["cells"] = [c for c in edition["cells"] if BOOK_ONLY not in c.get("metadata", {}).get("tags", [])]
    return edition


def graded_cells(notebook: dict) -> list[GradedCell]:
    """Every cell that earns points, in notebook order."""
    cells = []
    for cell in notebook["cells"]:
        meta = _nbgrader(cell)
        if meta.get("grade"):
            cells.append(GradedCell(meta["grade_id"], float(meta.get("points", 0)), cell["cell_type"] == "markdown"))
    return cells


def solution_texts(notebook: dict) -> list[str]:
    """The text a student must not see: each solution region of a code cell, each rubric."""
    texts = []
    for cell in notebook["cells"]:
        if not _nbgrader(cell).get("solution"):
            continue
        text = source(cell)
        if cell["cell_type"] == "markdown":
            texts.append(text)
            continue
        inside, region = False, []
        for line in text.splitlines():
            if line.strip() == BEGIN:
                inside, region = True, []
            elif line.strip() == END:
                inside = False
                texts.append("\n".join(region))
            elif inside:
                region.append(line)
    return texts


def public_text(notebook: dict) -> str:
    """Every source of ``notebook`` with its solution regions and rubrics taken out."""
    kept = []
    for cell in notebook["cells"]:
        solution = _nbgrader(cell).get("solution")
        if solution and cell["cell_type"] == "markdown":
            continue
        inside = False
        for line in source(cell).splitlines():
            if solution and line.strip() in (BEGIN, END):
                inside = line.strip() == BEGIN
            elif not inside:
                kept.append(line)
    return "\n".join(kept)


def leaks(instructor: dict, student: dict) -> list[str]:
    """Solution lines of ``instructor`` that appear in ``student`` (sources or outputs).

    A line counts when it is more than a bracket or a bare keyword (``return u`` does count), is not
    cut off inside a word (``return u`` is not found in ``return user``) and the book does not also
    print it outside the solutions (a loop the chapter shows elsewhere is public)."""
    student_text = "\n".join(source(c) for c in student["cells"])
    student_text += "\n".join(str(c.get("outputs", "")) for c in student["cells"])
    public = set(line.strip() for line in public_text(instructor).splitlines())
    found = []
    for text in solution_texts(instructor):
        for line in text.splitlines():
            line = line.strip()
            if len(line) > 6 and line not in public and _shown(line, student_text):
                found.append(line)
    return found


def _shown(line: str, text: str) -> bool:
    """Whether ``text`` holds ``line`` with its last word whole: ``return u`` is not in ``return user``.
    (Only the end is checked: a page's text, its tags dropped, may glue a word before a code line.)"""
    pattern = re.escape(line) + (r"(?!\w)" if re.match(r"\w", line[-1]) else "")
    return re.search(pattern, text) is not None


def html_text(html: str) -> str:
    """The text of a built page: tags dropped, entities decoded (a highlighted code line is one line again)."""
    return unescape(re.sub(r"<[^>]+>", "", html))


def html_leaks(notebook: dict, html: str) -> list[str]:
    """Solution lines of the book notebook ``notebook`` that its built page ``html`` shows or hides
    (a collapsed "Show code cell source" is still in the page), by the rule of :func:`leaks`."""
    return leaks(notebook, {"cells": [{"source": html_text(html)}]})


def structure_problems(notebook: dict, name: str) -> list[str]:
    """What is wrong with a chapter's exercise markup (empty when it is fit for nbgrader)."""
    problems, ids = [], set()
    cells = notebook["cells"]
    for i, cell in enumerate(cells):
        meta = _nbgrader(cell)
        if not meta:
            continue
        grade_id = meta.get("grade_id", "")
        if grade_id in ids:
            problems.append(f"{name}: grade_id {grade_id!r} used twice")
        ids.add(grade_id)
        if meta.get("solution") and "remove-cell" not in cell.get("metadata", {}).get("tags", []):
            problems.append(f"{name}: solution cell {grade_id!r} lacks the tag 'remove-cell' "
                            "(the book's page would carry the solution)")
        if meta.get("solution") and cell["cell_type"] == "code":
            text = source(cell)
            if text.count(BEGIN) != 1 or text.count(END) != 1:
                problems.append(f"{name}: solution cell {grade_id!r} needs one {BEGIN!r} and one {END!r}")
            following = _nbgrader(cells[i + 1]) if i + 1 < len(cells) else {}
            if not (following.get("grade") and cells[i + 1]["cell_type"] == "code"):
                problems.append(f"{name}: solution cell {grade_id!r} is not followed by a graded cell")
        if meta.get("grade") and "remove-cell" not in cell.get("metadata", {}).get("tags", []):
            problems.append(f"{name}: graded cell {grade_id!r} lacks the tag 'remove-cell' (the book would show it)")
        if meta.get("grade") and not meta.get("points"):
            problems.append(f"{name}: graded cell {grade_id!r} has no points")
    graded = graded_cells(notebook)
    if sum(not g.by_hand for g in graded) < 3:
        problems.append(f"{name}: fewer than 3 exercises graded by a checker")
    if sum(g.by_hand for g in graded) != 1:
        problems.append(f"{name}: expected one open exercise graded by hand (with its rubric)")
    return problems

"""The exercise markup of the book's notebooks, and the edition filters (no nbgrader run here:
tests/course does that)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from lessons_src.course.editions import (BOOK_ONLY, graded_cells, html_leaks, instructor_edition, leaks,
                                         solution_texts, structure_problems)

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "book" / "notebooks").glob("*.ipynb"))


def tiny_notebook() -> dict:
    cells = [
        nbformat.v4.new_code_cell("def f(x):\n    raise NotImplementedError\n\nprint(check(f))",
                                  metadata={"tags": [BOOK_ONLY]}),
        nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n\nprint(check(f))",
                                  metadata={"tags": ["remove-cell"],
                                            "nbgrader": {"solution": True, "grade": False, "grade_id": "ex1_solution"}}),
        nbformat.v4.new_code_cell("assert_correct(check(f))", metadata={
            "tags": ["remove-cell"], "nbgrader": {"grade": True, "solution": False, "grade_id": "ex1", "points": 2}}),
        nbformat.v4.new_markdown_cell("Rubric: 1 point for a table", metadata={
            "tags": ["remove-cell"], "nbgrader": {"grade": True, "solution": True, "grade_id": "open", "points": 4}}),
    ]
    return json.loads(nbformat.writes(nbformat.v4.new_notebook(cells=cells)))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_is_fit_for_nbgrader(path):
    notebook = json.loads(path.read_text())
    assert structure_problems(notebook, path.name) == []
    cells = graded_cells(notebook)
    assert sum(not c.by_hand for c in cells) >= 3 and sum(c.by_hand for c in cells) == 1


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_book_hides_what_only_the_course_needs(path):
    """Graded cells, rubrics and solutions carry remove-cell: the pages show the stub and its checker."""
    for cell in json.loads(path.read_text())["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        tags = cell["metadata"].get("tags", [])
        if meta.get("grade") or meta.get("solution"):
            assert "remove-cell" in tags


def test_instructor_edition_drops_book_only_cells_and_keeps_solutions():
    edition = instructor_edition(tiny_notebook())
    assert len(edition["cells"]) == 3
    assert "return 2 * x" in "".join(edition["cells"][0]["source"])


def test_solution_texts_are_the_regions_and_the_rubric():
    assert solution_texts(tiny_notebook()) == ["    return 2 * x", "Rubric: 1 point for a table"]


def test_leaks_are_found_in_any_cell():
    book = tiny_notebook()
    student = instructor_edition(book)
    student["cells"][0]["source"] = "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    student["cells"][2]["source"] = "YOUR ANSWER HERE"
    assert leaks(book, student) == []
    student["cells"][2]["source"] = "see: return 2 * x"
    assert leaks(book, student) == ["return 2 * x"]
    student["cells"][2]["source"] = "see: return 2 * xs"  # another word, not the solution line
    assert leaks(book, student) == []
    student["cells"][2]["source"] = "see: return 2 * x"
    book["cells"].append(nbformat.v4.new_code_cell("y = 3\nreturn 2 * x"))  # the book shows it elsewhere
    assert leaks(book, student) == []


def test_a_page_that_carries_a_solution_line_is_caught_even_behind_a_toggle():
    book = tiny_notebook()
    stub_only = '<pre><span class="k">def</span> f(x):\n    <span class="k">raise</span> NotImplementedError</pre>'
    assert html_leaks(book, stub_only) == []
    toggled = ('<details><summary>Show code cell source</summary><pre><span class="k">return</span> '
               '<span class="mi">2</span> <span class="o">*</span> x</pre></details>')
    assert html_leaks(book, toggled) == ["return 2 * x"]
    assert html_leaks(book, "<p>Rubric: 1 point for a table</p>") == ["Rubric: 1 point for a table"]


def test_broken_markup_is_named():
    book = tiny_notebook()
    book["cells"][1]["source"] = "def f(x):\n    return 2 * x"  # markers gone
    del book["cells"][2]["metadata"]["nbgrader"]["points"]
    problems = structure_problems(book, "ch.ipynb")
    assert any("BEGIN SOLUTION" in p for p in problems)
    assert any("has no points" in p for p in problems)
    assert any("fewer than 3" in p for p in problems)


def test_kit_names_bad_arguments(tmp_path, capsys):
    from lessons_src.course import kit

    with pytest.raises(SystemExit, match="no such file"):
        kit.main(["--out", str(tmp_path), "grade", "--chapter", "01_sasrec", "alice=missing.ipynb"])
    with pytest.raises(SystemExit, match="--notebooks"):
        kit.main(["--out", str(tmp_path), "build", "--notebooks", str(tmp_path / "nowhere")])
    with pytest.raises(SystemExit, match="no notebook named"):
        kit.main(["--out", str(tmp_path), "build", "--notebooks", str(ROOT / "book" / "notebooks"),
                  "--chapters", "07_nothing"])
    not_a_notebook = tmp_path / "essay.ipynb"
    not_a_notebook.write_text("my answers")
    (tmp_path / "source" / "01_sasrec").mkdir(parents=True)
    with pytest.raises(ValueError, match="essay.ipynb: not a readable notebook"):
        kit.grade(tmp_path, "01_sasrec", {"alice": not_a_notebook})
    with pytest.raises(ValueError, match="no kit for chapter"):
        kit.grade(tmp_path, "02_distillation", {"alice": not_a_notebook})


def test_kit_refuses_markup_nbgrader_cannot_use(tmp_path):
    from lessons_src.course import kit

    broken = tiny_notebook()
    broken["cells"][1]["source"] = "def f(x):\n    return 2 * x"
    path = tmp_path / "book" / "notebooks" / "ch.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(broken))
    with pytest.raises(ValueError, match="ch.ipynb: solution cell 'ex1_solution' needs one"):
        kit.build(tmp_path / "course", [path])

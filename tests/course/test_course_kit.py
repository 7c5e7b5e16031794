"""The course kit end to end: nbgrader builds the editions and grades real executions of them.

- the instructor edition of every chapter earns every checker point (its open exercise waits for
  the teacher);
- the blank student edition of every chapter earns zero — and the grader does not crash on it;
- a submission with one deliberately wrong answer earns all but that exercise's points, and the
  checker's message reaches the grades;
- no solution line and no rubric reaches a student file.

Run by `make test-course` (part of `make test`). Every graded notebook is executed by nbgrader. In
`make test`, the native notebook run has recorded each chapter's slow cells (its quick runs) and
`LESSONS_TEST_REPLAY` names that folder: the gradings replay them instead of training again (the
exercises never read them; nbval has just compared their outputs). Without it every quick run trains
again, about two executions of the book.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from lessons_src.course import kit
from lessons_src.course.editions import BEGIN, END, graded_cells, leaks, solution_texts

ROOT = Path(__file__).resolve().parents[2]
REPLAY = Path(os.environ["LESSONS_TEST_REPLAY"]) if os.environ.get("LESSONS_TEST_REPLAY") else None
CHAPTERS = sorted((ROOT / "book" / "notebooks").glob("*.ipynb"))
# the chapter whose wrong submission is graded (the quickest to execute), the exercise, a wrong body
WRONG = ("02_distillation", "ex2_kd_loss", """\
    soft = F.kl_div(F.log_softmax(z / T, dim=-1), F.softmax(v / T, dim=-1), reduction="batchmean")
    return alpha * soft + (1 - alpha) * F.cross_entropy(z, y)   # forgot the T²""")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    out = tmp_path_factory.mktemp("course")
    students = kit.build(out, CHAPTERS)
    return out, students


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_chapter_has_both_editions_and_no_leak(course):
    out, students = course
    assert sorted(students) == [p.stem for p in CHAPTERS]
    for path in CHAPTERS:
        book, student = read(path), read(students[path.stem])
        student_text = "\n".join("".join(c["source"]) for c in student["cells"])
        assert leaks(book, student) == []
        for text in solution_texts(book):  # no solution, as a whole, whatever the line filter says
            assert text.strip() and text.strip() not in student_text, f"{path.stem}: {text!r} leaked"
        assert BEGIN not in student_text and END not in student_text
        assert student_text.count("raise NotImplementedError()") >= 3
        assert all(not c.get("outputs") for c in student["cells"] if c["cell_type"] == "code")
        assert "book-only" not in json.dumps(student)
        instructor = read(out / "source" / path.stem / f"{path.stem}.ipynb")
        assert "Rubric" in json.dumps(instructor) and "Rubric" not in student_text


def graded(out: Path, chapter: str, submissions: dict) -> dict:
    """{student: {grade_id: CellScore}}."""
    scores = kit.grade(out, chapter, submissions, replay=REPLAY)
    table = {}
    for s in scores:
        table.setdefault(s.student, {})[s.grade_id] = s
    return table


@pytest.mark.parametrize("chapter", [p.stem for p in CHAPTERS])
def test_instructor_full_marks_and_blank_student_zero(course, chapter):
    out, students = course
    instructor = out / "source" / chapter / f"{chapter}.ipynb"
    table = graded(out, chapter, {"instructor": instructor, "blank": students[chapter]})
    for cell in graded_cells(read(instructor)):
        mine, blank = table["instructor"][cell.grade_id], table["blank"][cell.grade_id]
        if cell.by_hand:
            assert mine.score is None, "the rubric answer must wait for hand grading"
            assert blank.score == 0, "an unanswered open exercise earns nothing"
        else:
            assert mine.score == cell.points, f"{chapter} {cell.grade_id}: {mine.message}"
            assert blank.score == 0 and "not attempted yet" in blank.message, (cell.grade_id, blank.message)
    # every cell of the instructor edition ran (a replayed slow cell must leave what later cells need)
    autograded = read(out / "autograded" / "instructor" / chapter / f"{chapter}.ipynb")
    errors = [(i, o["ename"], o["evalue"]) for i, c in enumerate(autograded["cells"])
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == [], f"{chapter}: cells of the instructor edition raised {errors}"


def test_one_wrong_answer_gives_partial_marks_with_the_checkers_message(course, tmp_path):
    out, _ = course
    chapter, exercise, wrong_body = WRONG
    notebook = read(out / "source" / chapter / f"{chapter}.ipynb")
    solution = next(c for c in notebook["cells"]
                    if c["metadata"].get("nbgrader", {}).get("grade_id") == f"{exercise}_solution")
    text = "".join(solution["source"])
    solution["source"] = re.sub(rf"[ ]*{BEGIN}\n.*?{END}", wrong_body, text, flags=re.S)
    assert solution["source"] != text
    submission = tmp_path / "wrong.ipynb"
    submission.write_text(json.dumps(notebook))

    scores = graded(out, chapter, {"wrong": submission})["wrong"]
    auto = [s for s in scores.values() if not s.by_hand]
    assert scores[exercise].score == 0
    assert "T² factor is missing" in scores[exercise].message, scores[exercise].message
    assert sum(s.score for s in auto) == sum(s.points for s in auto) - scores[exercise].points > 0
    assert "T² factor is missing" in kit.summary(list(scores.values()))
    assert (out / "feedback" / "wrong" / chapter / f"{chapter}.html").is_file()

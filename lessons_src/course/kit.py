"""The course kit: student and instructor editions of every chapter, and an autograder (nbgrader).

    python -m lessons_src.course.kit build [--out course] [--chapters 01_sasrec ...]
    python -m lessons_src.course.kit grade --chapter 01_sasrec alice=alice.ipynb bob.ipynb [--out course]
                                          [--replay FOLDER]

``build`` writes an nbgrader course folder: ``source/<chapter>/<chapter>.ipynb`` (the instructor
edition: solutions, rubric, outputs), ``release/<chapter>/<chapter>.ipynb`` (the student edition that
nbgrader generates: solutions replaced by stubs, outputs cleared) and the gradebook, then refuses the
kit if any solution line leaked into a student file. ``grade`` copies submissions in as
``submitted/<student>/<chapter>/``, lets nbgrader execute and score them (the graded cells call the
chapter's checkers; a wrong answer fails with the checker's message), writes HTML feedback per
student and prints a table; ``grades.csv`` keeps every graded cell. The open exercise is graded by
hand (``nbgrader formgrader``, or by reading the rubric in the instructor edition).

Grading a class executes every submission in full, quick runs included. ``--replay FOLDER`` replays
the slow cells recorded in FOLDER instead (``replay.py``: record them once by executing the
instructor edition under ``python -m lessons_src.course.replay env record FOLDER``): the graded cells
still run, the quick runs they never read are restored from the recording.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import replay as replay_cells
from .editions import graded_cells, instructor_edition, leaks, structure_problems

CONFIG = """\
# nbgrader configuration written by `python -m lessons_src.course.kit build`
c = get_config()
c.CourseDirectory.course_id = "deep-recsys-book"
c.CourseDirectory.root = {root!r}
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# A chapter's quick runs take minutes: let a cell run up to {timeout} s when grading.
c.Execute.timeout = {timeout}
"""


@dataclass(frozen=True)
class CellScore:
    student: str
    chapter: str
    grade_id: str
    score: float | None  # None: waits for the teacher (hand-graded answer)
    points: float
    by_hand: bool  # the open exercise
    message: str  # the checker's verdict when the cell failed, else ""


def _nbgrader(args: list[str], root: Path, kernel_env: dict[str, str] | None = None) -> None:
    """Run one nbgrader command in the course folder; its output is shown only if it fails."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               **(kernel_env or {}))
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0 or "[ERROR]" in done.stdout + done.stderr:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed in {root}:\n{done.stdout}\n{done.stderr}")


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable notebook ({error})") from error


def _write(notebook: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def build(out: Path, notebooks: list[Path], timeout: int = 1800) -> dict[str, Path]:
    """Write the kit for ``notebooks`` into ``out``; {chapter: student edition path}."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(CONFIG.format(root=str(out), timeout=timeout))
    students = {}
    for edition in ("source", "release"):  # the chapters' figures, at the ../images/ they point to
        for folder in {p.parent.parent / "images" for p in notebooks}:
            if folder.is_dir():
                shutil.copytree(folder, out / edition / "images", dirs_exist_ok=True)
    for path in notebooks:
        chapter = path.stem
        book = _read(path)
        problems = structure_problems(book, path.name)
        if problems:
            raise ValueError("exercise markup is not fit for nbgrader:\n  " + "\n  ".join(problems))
        _write(instructor_edition(book), out / "source" / chapter / f"{chapter}.ipynb")
        _nbgrader(["generate_assignment", chapter, "--force"], out)
        student = out / "release" / chapter / f"{chapter}.ipynb"
        leaked = leaks(book, _read(student))
        if leaked:
            raise RuntimeError(f"{student}: solution text leaked into the student edition: {leaked[:3]}")
        students[chapter] = student
    return students


def _failure_messages(autograded: Path) -> dict[str, str]:
    """{grade_id: the error's message} for the graded cells that failed in an autograded notebook."""
    messages = {}
    for cell in _read(autograded)["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        for output in cell.get("outputs", []):
            if grade_id and output.get("output_type") == "error":
                messages[grade_id] = f"{output.get('ename')}: {output.get('evalue')}"
    return messages


def grade(out: Path, chapter: str, submissions: dict[str, Path], replay: Path | None = None) -> list[CellScore]:
    """Autograde ``submissions`` ({student id: notebook}) of ``chapter`` in the kit at ``out``;
    with ``replay``, the slow cells recorded there are replayed instead of run (module docstring)."""
    from nbgrader.api import Gradebook  # the course extra: pip install -e '.[course]'

    out = out.resolve()
    if not (out / "source" / chapter).is_dir():
        raise ValueError(f"{out}: no kit for chapter {chapter!r}; run `python -m lessons_src.course.kit build` first")
    for student, path in submissions.items():
        _read(path)  # a clear error for a file that is not a notebook
        target = out / "submitted" / student / chapter / f"{chapter}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    if replay is not None and not (Path(replay) / "cells").is_dir():
        raise ValueError(f"--replay {replay}: no recorded cells (expected a folder 'cells' in it)")
    kernel_env = replay_cells.kernel_environment("replay", Path(replay)) if replay is not None else None
    for student in submissions:
        _nbgrader(["autograde", chapter, "--create", "--force", f"--student={student}"], out, kernel_env)
    _nbgrader(["generate_feedback", chapter, "--force"], out)
    points = {g.grade_id: g for g in graded_cells(_read(out / "source" / chapter / f"{chapter}.ipynb"))}
    scores = []
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gradebook:
        for student in submissions:
            messages = _failure_messages(out / "autograded" / student / chapter / f"{chapter}.ipynb")
            notebook = gradebook.find_submission_notebook(chapter, chapter, student)
            for g in notebook.grades:
                waiting = g.needs_manual_grade and g.manual_score is None
                scores.append(CellScore(student, chapter, g.name, None if waiting else float(g.score),
                                        points[g.name].points, points[g.name].by_hand, messages.get(g.name, "")))
    with open(out / "grades.csv", "a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if handle.tell() == 0:
            writer.writerow(["student", "chapter", "exercise", "score", "points", "message"])
        writer.writerows([s.student, s.chapter, s.grade_id, "" if s.score is None else s.score, s.points, s.message]
                         for s in scores)
    return scores


def summary(scores: list[CellScore]) -> str:
    """One line per student: checker points, what waits for the teacher, what failed."""
    lines = []
    for student in dict.fromkeys(s.student for s in scores):
        mine = [s for s in scores if s.student == student]
        auto = [s for s in mine if not s.by_hand]
        by_hand = [s for s in mine if s.by_hand]
        line = f"{student}: {sum(s.score for s in auto):g} / {sum(s.points for s in auto):g} points from the checkers"
        waiting = [s for s in by_hand if s.score is None]
        if waiting:
            line += f"; open exercise ({sum(s.points for s in waiting):g} points) waits for hand grading"
        failed = [f"{s.grade_id}: {s.message}" for s in auto if s.score < s.points and s.message]
        lines.append(line + "".join(f"\n    {f}" for f in failed))
    return "\n".join(lines)


def _submissions(arguments: list[str]) -> dict[str, Path]:
    """``name=path`` or ``path`` (the file's stem is the student id)."""
    found = {}
    for argument in arguments:
        name, _, path = argument.rpartition("=") if "=" in argument else (Path(argument).stem, "", argument)
        if not Path(path).is_file():
            raise SystemExit(f"submission {path!r}: no such file")
        found[name] = Path(path)
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lessons_src.course.kit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("course"), help="the course folder (default: course)")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="student and instructor editions of every chapter")
    make.add_argument("--notebooks", type=Path, default=Path("book/notebooks"), help="the book's chapter folder")
    make.add_argument("--chapters", nargs="*", help="chapter names (default: every notebook in --notebooks)")
    check = commands.add_parser("grade", help="autograde submissions of one chapter")
    check.add_argument("--chapter", required=True, help="e.g. 01_sasrec")
    check.add_argument("submissions", nargs="+", help="notebooks, as path or student=path")
    check.add_argument("--replay", type=Path, help="replay the slow cells recorded in this folder")
    args = parser.parse_args(argv)
    if args.command == "build":
        if not args.notebooks.is_dir():
            raise SystemExit(f"--notebooks {args.notebooks}: not a folder (run from the repository root)")
        paths = sorted(args.notebooks.glob("*.ipynb"))
        if args.chapters:
            paths = [p for p in paths if p.stem in args.chapters]
            missing = set(args.chapters) - {p.stem for p in paths}
            if missing:
                raise SystemExit(f"--chapters: no notebook named {sorted(missing)} in {args.notebooks}")
        for chapter, student in build(args.out, paths).items():
            print(f"{chapter}: student edition {student}, instructor edition {args.out / 'source' / chapter}")
    else:
        print(summary(grade(args.out, args.chapter, _submissions(args.submissions), replay=args.replay)))


if __name__ == "__main__":
    main()

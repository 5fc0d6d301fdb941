"""The grades as files for other tools: a CSV gradebook, and Gradescope's autograder results.json.

The gradebook has one row per student: ``student``, a column per problem (its
score), ``total``, ``max_score`` and ``error``. A text cell that a spreadsheet
would read as a formula (it starts with =, +, -, @, a tab or a carriage
return) is written after a ' so that it stays text.

Gradescope's format (one student per run: the autograder grades the folder
/autograder/submission) has ``score``, ``output``, and ``tests``, one per
problem, with ``name``, ``score``, ``max_score``, ``output`` and
``visibility`` (``after_published`` for a hidden problem, else ``visible``).
A test's output says which answers are wrong and where the numbers part from
the truth, not the true numbers or the hints that write them out: the student
may submit again (a diagnosis may still say "by a factor of 2").
"""

from __future__ import annotations

import csv
import json
from typing import IO, TYPE_CHECKING, Any

from bpcli.engine.printable import printable

if TYPE_CHECKING:  # views read results, never import the analyses
    from bpcli.analyses.grade import GradeResult, ProblemMark, StudentGrade

_FORMULA_STARTS = ("=", "+", "-", "@")  # a tab or carriage return is escaped before (printable)


def write_grades(result: GradeResult, out: IO[str], fmt: str) -> None:
    """``fmt`` "csv": the gradebook; "gradescope": results.json of the one student graded."""
    if fmt == "csv":
        _gradebook(result, out)
    else:
        out.write(json.dumps(gradescope_results(result), indent=2, ensure_ascii=False) + "\n")


def _gradebook(result: GradeResult, out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *(_text(problem.name) for problem in result.problems), "total", "max_score",
                     "error"])
    for student in result.students:
        writer.writerow([_text(student.student), *(_number(mark.score) for mark in student.problems),
                         _number(student.score), _number(student.max_score), _text(student.error or "")])


def _text(text: str) -> str:
    """A cell of text, never read as a formula by a spreadsheet, its control characters escaped
    (a student id from a file name goes to a terminal with --csv -)."""
    text = printable(text, newlines=False)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _number(number: float) -> str:
    """A score as its four decimals show it, without trailing zeros: 333.3333, 2000000, 0.5 (never :g's
    six significant digits, 333.333 or 2e+06, which a spreadsheet reads as another number)."""
    return f"{number:.4f}".rstrip("0").rstrip(".")


def gradescope_results(result: GradeResult) -> dict[str, Any]:
    """Gradescope's results.json for the one student of ``result``."""
    (student,) = result.students
    return {
        "score": student.score,
        "output": _overall(student),
        "tests": [
            {
                "name": mark.name,
                "score": mark.score,
                "max_score": mark.max_score,
                "output": _feedback(mark),
                "visibility": "after_published" if mark.hidden else "visible",
            }
            for mark in student.problems
        ],
    }


def _overall(student: StudentGrade) -> str:
    lines = [f"Score: {student.score:g} of {student.max_score:g}"]
    if student.error is not None:
        lines.append(f"Your submission could not be read: {printable(student.error)}")
    lines += [printable(note) for note in student.notes]
    return "\n".join(lines)


def _feedback(mark: ProblemMark) -> str:
    """What a student is told about one problem: the answers right, the wrong ones named, no true numbers."""
    if mark.error is not None:
        return f"Not graded: {printable(mark.error)}"
    lines = [f"{mark.met} of {mark.expectations} right"]
    checked = mark.result
    for outcome in [] if checked is None else checked.outcomes:
        if outcome.passed:
            continue
        where = f" ({printable(outcome.source)}, line {outcome.line})" if outcome.line else ""
        lines.append(f"✗ {printable(outcome.key)}{where} is wrong")
        if outcome.diagnosis is not None:
            lines.append(f"  {printable(outcome.diagnosis.message)}")
    lines += [printable(note) for note in mark.notes]
    return "\n".join(lines)

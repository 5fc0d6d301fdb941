"""The scoreboard: one row per student, their score and a mark per problem, and why a zero is a zero."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bpcli.engine.printable import printable
from bpcli.views.terminal import fitted

if TYPE_CHECKING:  # views read results, never import the analyses
    from bpcli.analyses.grade import GradeResult, StudentGrade


def grade_table(result: GradeResult) -> Group:
    table = Table(title=Text(f"Grades against {printable(result.key)}: {len(result.students)} students"),
                  title_justify="left")
    table.add_column("student")
    table.add_column("score", justify="right")
    for problem in result.problems:
        # Text, not a str: rich would read a name's brackets as markup ("[/x]" even stops the run)
        table.add_column(Text(printable(problem.name) + (" (hidden)" if problem.hidden else "")), justify="right")
    table.add_column("note")
    for student in result.students:
        table.add_row(Text(printable(student.student, newlines=False)),  # a line break would fake a second row
                      f"{student.score:g} of {student.max_score:g}",
                      *(f"{mark.score:g}" for mark in student.problems), _note(student))
    summary = Text(f"Mean {result.mean_score:.4g} of {result.max_score:g}; "
                   f"{result.unreadable} submissions could not be read.")
    return Group(fitted(table, heading="{0}: {1}"), summary)


def _note(student: StudentGrade) -> Text:
    """Why the student lost marks the numbers do not show: an unreadable submission, a problem not checked."""
    if student.error is not None:
        return Text(printable(student.error), style="red")
    errors = [f"{mark.name}: {mark.error}" for mark in student.problems if mark.error is not None]
    return Text(printable("; ".join(errors)), style="red") if errors else Text("")

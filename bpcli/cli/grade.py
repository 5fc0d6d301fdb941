"""``bpcli grade``: every student's submission checked against one key, in one process."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from bpcli.cli import common
from bpcli.cli.application import app
from bpcli.engine.errors import BpcliError
from bpcli.engine.limits import Limits


@app.command(
    epilog="""\b
Examples:
  bpcli grade key.toml submissions/*
  bpcli grade key.toml submissions/* --csv gradebook.csv
  bpcli grade key.toml /autograder/submission --gradescope /autograder/results/results.json
""",
)
@common.reporting_errors
def grade(
    key: Path = typer.Argument(..., metavar="KEY", help="The grader's key: a TOML file of [[problem]] tables."),
    submissions: list[Path] = typer.Argument(
        ..., metavar="SUBMISSIONS...",
        help="One per student: an answers file (the student id is its stem) or a folder holding answers.toml "
        "and code files (the id is its name).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the bpcli.grade/1 JSON document."),
    csv_path: Optional[Path] = typer.Option(
        None, "--csv", metavar="PATH", help="Also write a gradebook: a row per student, a column per problem, total.",
    ),
    gradescope: Optional[Path] = typer.Option(
        None, "--gradescope", metavar="PATH",
        help="Also write Gradescope's results.json for the one submission given.",
    ),
    max_elements: common.MaxElements = common.DEFAULT_MAX_ELEMENTS,
    max_total_elements: common.MaxTotalElements = common.DEFAULT_MAX_TOTAL_ELEMENTS,
    max_length: common.MaxLength = common.DEFAULT_MAX_LENGTH,
) -> int:
    """Grade students: every submission against one key, a score per student.

    The key's [[problem]] tables have name, expr, inputs, and answers (the
    values and gradients a student must give, such as ["dx", "dw"]) or
    backward = "@backward.py" (the student's backward pass, that file in
    their folder); optionally points (default 1), hidden, rtol (default
    0.01), atol (default 1e-6), upstream, seed.

    A submission's [[problem]] tables give name and expect (and backward,
    a file in their folder); anything else is ignored with a note. A problem
    scores points × answers right / answers asked for.

    The exit status is 0 once every submission is graded: a submission that
    cannot be read is a zero with its message. It is 2 when the key or the
    command line is bad.
    """
    # only the command's own analysis (start-up)
    from bpcli.analyses.grade import grade as grade_all

    if gradescope is not None and len(submissions) != 1:
        raise BpcliError("--gradescope writes the results of one submission (Gradescope grades one student per "
                         f"run, in /autograder/submission); {len(submissions)} were given")
    result = grade_all(key, submissions, limits=Limits(max_elements, max_total_elements), max_length=max_length)
    if csv_path is not None:
        _write(result, csv_path, "csv")
    if gradescope is not None:
        _write(result, gradescope, "gradescope")
    if json_output:
        common.print_json(result.to_json())
    else:
        common.console().print(result.__rich__())
    return result.exit_code


def _write(result: Any, path: Path, fmt: str) -> None:
    """A file of the grades (whole or not at all), or standard output for -."""
    from bpcli import views  # the file's view, only when one is written (start-up)

    target = common.out_path(path)
    if target is None:
        views.write(result, sys.stdout, fmt)
        return
    from bpcli.cli.atomic import atomic_output  # only when a file is written (start-up)

    with atomic_output(target) as handle:
        views.write(result, handle, fmt)

"""``bpcli grade``: every student's submission checked against one key, in one process."""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any, Optional

from bpcli.cli import common
from bpcli.cli.declare import Argument, Option, Path, command
from bpcli.engine.errors import BpcliError
from bpcli.engine.limits import Limits
from bpcli.engine.paths import is_directory, joined, path_parent, path_text
from bpcli.engine.printable import printable

if TYPE_CHECKING:
    from bpcli.engine.paths import FilePath


@command(
    epilog="""\b
Examples:
  bpcli grade --init course
  bpcli grade course/key.toml course/ada course/bob.toml --csv gradebook.csv
  bpcli grade course/key.toml course/ada --gradescope results.json
""",
)
def grade(
    key: Optional[Path] = Argument(
        None, metavar="KEY", help="The grader's key: a TOML file of [[problem]] tables.", show_default=False,
    ),
    submissions: Optional[list[Path]] = Argument(
        None, metavar="SUBMISSIONS...", show_default=False,
        help="One per student: an answers file (the student id is its stem), a folder holding answers.toml "
        "and code files (the id is its name), or a .py file (their layers.py; the id is its stem).",
    ),
    json_output: bool = Option(False, "--json", help="Print the bpcli.grade/1 JSON document."),
    csv_path: Optional[Path] = Option(
        None, "--csv", metavar="PATH", help="Also write a gradebook: a row per student, a column per problem, total.",
    ),
    gradescope: Optional[Path] = Option(
        None, "--gradescope", metavar="PATH",
        help="Also write Gradescope's results.json for the one submission given.",
    ),
    init: Optional[Path] = Option(
        None, "--init", metavar="DIR",
        help="Write an example key and two students' submissions into the new folder DIR, to start from.",
    ),
    max_elements: common.MaxElements = common.DEFAULT_MAX_ELEMENTS,
    max_total_elements: common.MaxTotalElements = common.DEFAULT_MAX_TOTAL_ELEMENTS,
    max_length: common.MaxLength = common.DEFAULT_MAX_LENGTH,
) -> int:
    """Grade students: every submission against one key, a score per student.

    The key's [[problem]] tables have name, expr, inputs, and answers (the
    values and gradients a student must give, such as ["dx", "dw"]) or
    backward = "@backward.py" (the student's backward pass, that file in
    their folder) or backward = "@layers.py:affine_backward" (the function of
    their layers.py, paired with the forward function expr picks in the key's
    folder: expr = "@reference.py:affine_forward"); optionally points
    (default 1), hidden, gradients, rtol (default 0.01), atol (default 1e-6),
    upstream, seed (of random inputs and upstream, as check's --seed).

    A submission's [[problem]] tables give name and expect (and backward,
    a file in their folder); anything else is ignored with a note. A problem
    scores points × answers right / answers asked for.

    --csv - or --gradescope - writes that file to standard output, alone.

    The exit status is 0 once every submission is graded: a submission that
    cannot be read is a zero with its message. It is 2 when the key or the
    command line is bad.
    """
    if init is not None:
        if key is not None or submissions:
            raise BpcliError("--init writes an example into a new folder; give no KEY or SUBMISSIONS with it")
        return _init(init)
    if key is None or not submissions:
        raise BpcliError("give the key and one or more submissions: bpcli grade KEY.toml SUBMISSIONS...")
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
    if "-" in (str(csv_path), str(gradescope)):
        return result.exit_code  # standard output is that file's, and nothing else's
    if json_output:
        common.print_json(result.to_json())
    else:
        common.console().print(result.__rich__())
    return result.exit_code


EXAMPLE = {  # what --init writes: a key, a student's folder, a student's lone answers file
    "key.toml": """\
# The grader's key: what each student must answer (bpcli grade --help).
[[problem]]
name = "fork"
expr = "f = x*y + x"
inputs = { x = 3, y = 2 }
answers = ["dx", "dy"]
points = 2

[[problem]]
name = "staged"
expr = "q = x + y; f = q * z"
inputs = { x = -2, y = 5, z = -4 }
backward = "@backward.py"
hidden = true
""",
    "ada/answers.toml": """\
[[problem]]
name = "fork"
expect = { dx = 3, dy = 3 }
""",
    "ada/backward.py": """\
dq = z
dz = q
dx = dq
dy = dq
""",
    "bob.toml": """\
[[problem]]
name = "fork"
expect = { dx = 2, dy = 3 }
""",
}


def _init(written: FilePath) -> int:
    """Write the example into the folder ``written`` names, which must not exist yet (nothing of the user's
    is replaced)."""
    folder = path_text(written)
    try:
        _made_with_parents(folder)
        os.mkdir(joined(folder, "ada"))
    except FileExistsError:
        raise BpcliError(f"{folder} exists: --init writes its example into a new folder") from None
    except OSError as error:
        raise BpcliError(f"cannot write {folder}: {error.strerror or error}") from None
    for name, text in EXAMPLE.items():
        common.write_output(text, joined(folder, name))
    shown = printable(folder, newlines=False)  # the user's path goes to the terminal
    print(f"Wrote {shown}/key.toml and two submissions, {shown}/ada (a folder) and {shown}/bob.toml; grade them:")
    print(f"  bpcli grade {shown}/key.toml {shown}/ada {shown}/bob.toml")
    return 0


def _made_with_parents(folder: str) -> None:
    """A new folder, and the folders missing above it, as ``pathlib.Path.mkdir(parents=True)`` makes them: the
    folder itself is tried first (a path longer than the system takes is refused at once), and the missing
    ones are made in a loop, not by recursion (os.makedirs's recursion overflows Python's stack on a path of
    a thousand segments, an internal error)."""
    missing: list[str] = []  # the folder, then each parent that is not there, upwards
    path = folder
    while True:
        try:
            os.mkdir(path)
            break
        except FileNotFoundError:
            if path_parent(path) == path:
                raise
            missing.append(path)
            path = path_parent(path)
        except OSError:
            if not missing or not is_directory(path):  # a parent may be there already; the folder may not
                raise
            break
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except OSError:
            if path == folder or not is_directory(path):
                raise


def _write(result: Any, path: FilePath, fmt: str) -> None:
    """A file of the grades (whole or not at all), or standard output for -."""
    from bpcli import views  # the file's view, only when one is written (start-up)

    text = io.StringIO()
    views.write(result, text, fmt)
    common.write_output(text.getvalue(), common.out_path(path))

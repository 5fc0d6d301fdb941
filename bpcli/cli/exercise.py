"""``bpcli exercise``: problem sheets with blanks and their answers files, one variant per student."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional, Sequence

from bpcli.cli import common
from bpcli.cli.declare import Option, Path, command
from bpcli.engine.errors import BpcliError
from bpcli.engine.paths import is_directory, joined, path_parent, path_stem, path_text

if TYPE_CHECKING:
    from bpcli.engine.paths import FilePath

SHEET, TEMPLATE = ".md", ".toml"
ONE = "exercise"  # the files' name in a folder, for a sheet of no one's


@command(
    epilog="""\b
Examples:
  bpcli exercise "q = x + y; f = q * z" --seed 7
  bpcli exercise "sigmoid(w0*x0 + w1*x1 + w2)" --seed 7 --blank upstream,downstream
  bpcli exercise "x * y + x" --seed 7 --json
""",
)
def exercise(
    expression: common.Expression = None,
    file: common.File = None,
    problem_set: Optional[Path] = Option(
        None, "--set", metavar="PATH",
        help="A problem set: a TOML file of [[problem]] tables (expr, and optionally name and blank), "
        "perhaps with a seed and a blank for all.",
    ),
    seed: Optional[int] = Option(
        None, "--seed", min=0, help="The seed the inputs are drawn from (with each student's id); default 0, "
        "or the problem set's.",
    ),
    blank: Optional[list[str]] = Option(
        None, "--blank", metavar="KINDS",
        help="The cells to blank: forward, local, upstream, downstream (comma-separated or repeated; "
        "default all four).",
    ),
    students: Optional[Path] = Option(
        None, "--students", metavar="ROSTER.csv",
        help="One variant per student of a CSV roster (a header row with an id column); needs --out DIR.",
    ),
    id_column: str = Option("id", "--id-column", metavar="NAME", help="The roster's column of student ids."),
    out: Optional[str] = Option(  # text, not a Path: a Path drops the trailing / that asks for a new folder
        None, "--out", "-o", metavar="PATH",
        help="Write the files: a folder (ID.md and ID.toml per student, or exercise.md and exercise.toml), "
        "or FILE.md (its answers file beside it, FILE.toml).",
    ),
    json_output: bool = Option(
        False, "--json", help="Print the bpcli.exercise/1 document: every variant's inputs, blanks and answers "
        "(the grader's view, not the students')."),
    precision: common.Precision = 4,
    max_length: common.MaxLength = common.DEFAULT_MAX_LENGTH,
) -> None:
    """Problem sheets: the circuit and its stage table with cells to fill in.

    The inputs are whole numbers from -5 to 5 (never 0) drawn from the seed
    and the student's id (a sha256 hash), drawn again where a cell would sit
    on a kink or a tie or be too large or too small to compute by hand. The
    blanked cells (--blank) follow from the cells shown by the lecture's
    rules. Each sheet (Markdown) comes with its answers file (TOML) for
    bpcli check --answers, one key per blank; bpcli grade makes each
    student's key again from the seed, so no key needs storing.

    \b
    One per student:  bpcli exercise EXPR --seed S --students roster.csv --out sheets/
    A problem set:    bpcli exercise --set problems.toml --out week3.md
    """
    from bpcli.analyses.exercise import (  # only the command's own analysis (start-up)
        DEFAULT_BLANK,
        Spec,
        blank_kinds,
        exercise as make_exercise,
        read_problem_set,
        read_roster,
    )

    if problem_set is not None:
        if expression is not None or file is not None:
            raise BpcliError("--set gives the problems; give no expression or --file with it")
        specs, set_seed = read_problem_set(problem_set)
        if blank:
            kinds = blank_kinds(blank)
            specs = [Spec(spec.expression, kinds, spec.name) for spec in specs]
        seed = set_seed if seed is None else seed
    else:
        text, extra = common.read_expression(expression, file, [], max_length, command="exercise")
        specs = [Spec(text, blank_kinds(blank or DEFAULT_BLANK))]
    # ./- is - as every --out reads it (pathlib's spelling); the text itself is kept: a trailing / asks for a folder
    target = None if out is None or common.out_path(path_text(out)) is None else out
    if students is not None and target is None:
        raise BpcliError("--students makes a sheet and an answers file per student: give the folder to write "
                         "them to with --out DIR")
    roster = None if students is None else read_roster(students, id_column)
    result = make_exercise(specs, seed or 0, roster)
    if json_output:
        common.print_json(result.to_json())
    if target is not None:
        read = [path for path in (problem_set, students, file) if path is not None and path_text(path) != "-"]
        _write(result, target, precision, read)
    elif not json_output:
        _print(result, precision)


def _print(result: Any, precision: int) -> None:
    """The sheet, then its answers file, on standard output."""
    from bpcli.views.exercise_sheet import answers_template, sheet_markdown  # a view only when shown (start-up)

    (variant,) = result.variants
    template = answers_template(variant)
    common.write_output(f"{sheet_markdown(variant, precision)}\n## Answers file\n\n```toml\n{template}```\n", None)


def _write(result: Any, written: str, precision: int, read: Sequence[FilePath]) -> None:
    """Each variant's sheet and answers file: in the folder ``written``, or as ``written``.md and .toml; none
    over a file of ``read``, the files this run read."""
    from bpcli.views.exercise_sheet import answers_template, sheet_markdown  # a view only when written (start-up)

    roster = any(variant.student for variant in result.variants)
    out = path_text(written)
    folder = roster or _is_folder(out) or written.endswith(("/", "\\"))
    if folder:
        try:
            _made(out)
        except OSError as error:
            raise BpcliError(f"cannot make the folder {out}: {error.strerror or error}") from None
    # FOLDER/ada or, for one sheet, the path without its suffix: each file is that, and its own ending
    stems = [joined(out, variant.student or ONE) if folder else joined(path_parent(out), path_stem(out))
             for variant in result.variants]
    _refuse_replacing(read, [stem + ending for stem in stems for ending in (SHEET, TEMPLATE)])
    for variant, stem in zip(result.variants, stems):
        common.write_output(sheet_markdown(variant, precision), stem + SHEET)
        common.write_output(answers_template(variant), stem + TEMPLATE)


def _refuse_replacing(read: Sequence[FilePath], written: list[str]) -> None:
    """Nothing is written over a file this run read: --out week.md writes week.toml too, which may be the
    problem set itself (--set week.toml), and that would be gone without a word."""
    for path in written:
        for source in read:
            try:
                same = os.path.samefile(path, source)
            except OSError:  # not there (the usual file to write), or not to be asked about: no file of the input
                continue
            if same:
                raise BpcliError(f"--out would write {path} over {path_text(source)}, which it reads: give --out "
                                 "another name")


def _is_folder(out: str) -> bool:
    """Whether --out names a folder there already; where the system will not say (a name too long, a folder
    that may not be searched), the files are written as to a file's path, and their writing says why not."""
    try:
        return is_directory(out)
    except OSError:
        return False


def _made(folder: str) -> None:
    """The folder made, unless it is one already (``pathlib.Path.mkdir(exist_ok=True)``)."""
    try:
        os.mkdir(folder)
    except OSError:  # whatever the error, a folder already there is what was asked for (as pathlib)
        if not is_directory(folder):
            raise

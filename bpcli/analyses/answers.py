"""Answers files: many problems checked in one process.

A TOML file with one ``[[problem]]`` table per problem::

    [[problem]]
    name = "neuron"                                   # optional
    expr = "sigmoid(w0*x0 + w1*x1 + w2)"              # or "@forward.py"
    inputs = { w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3 }
    expect = { f = 0.7311, dx0 = 0.3932, dw0 = -0.1966 }
    backward = "@mine.py"                             # optional: a backward pass, inline or @file

Numbers keep the digits they were written with (TOML floats are read from
their text), so ``0.3932`` is checked to four decimals. A string value is read
as on the command line (``"@dW.npy"``, ``"[1, 2]"``, ``"randn:3"``).

Every ``@`` path (``expr``, ``backward``, ``inputs``, ``expect``, ``upstream``)
is relative to the answers file's folder and must stay inside it once symbolic
links are resolved (``--allow-paths DIR`` adds folders): a file written by a
student reads no other file on the machine. A path outside is refused for its
problem, without being opened. ``upstream``, ``rtol``, ``atol`` and ``seed``
may be given per problem; the grader's ``--rtol``/``--atol`` replace a
problem's own tolerances. A malformed file is bad input as a whole; a problem
that cannot be checked (a parse error, an unbound variable) is reported as an
error of its own and the others are still checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from bpcli.analyses.check import CheckResult, Problem, ProblemResult, check_problem
from bpcli.analyses.expected import Rule, Written, read_expected, tolerance
from bpcli.engine.errors import BpcliError
from bpcli.engine.limits import DEFAULT_MAX_LENGTH, Limits
from bpcli.engine.paths import is_inside, joined, path_parent, path_text, resolved_path
from bpcli.engine.record import Record, replace
from bpcli.engine.values import ValueReader, read_text_file, toml_table

if TYPE_CHECKING:
    from bpcli.analyses.student_code import StudentCode
    from bpcli.engine.paths import FilePath

KEYS = {
    "name": "a label for the report",
    "expr": "the expression or staged program (or @file, or @FILE.py:NAME, a forward function)",
    "inputs": "a table of input values",
    "expect": "a table of expected values (NAME) and gradients (dNAME)",
    "backward": "a backward pass in the notes' style (or @file, or @FILE.py:NAME, a backward function)",
    "upstream": "the gradient flowing into a non-scalar output",
    "rtol": "relative tolerance for this problem (the grader's --rtol/--atol replace it)",
    "atol": "absolute tolerance for this problem (the grader's --rtol/--atol replace it)",
    "seed": "the seed of random fills in inputs",
}


class Folders(Record, frozen=True):
    """Where the @ paths of an answers file may lead: its own folder, and the folders a grader allows."""

    base: str  # the answers file's folder, which relative paths start from
    allowed: tuple[str, ...]  # every folder a path may resolve into, symbolic links resolved
    advice: str = " (a grader can allow another folder with --allow-paths DIR)"  # ends a refusal

    @classmethod
    def of(cls, answers: FilePath, allow: Iterable[FilePath] = (), advice: str | None = None) -> Folders:
        base = path_parent(answers)
        allowed = tuple(resolved_path(folder) for folder in (base, *allow))
        return cls(base, allowed) if advice is None else cls(base, allowed, advice)

    def resolve(self, written: str) -> str:
        """The file an @ path names (``written`` without the @), or a BpcliError if it leads outside."""
        try:
            resolved = resolved_path(joined(self.base, written))  # an absolute path stays itself; links are followed
        except (OSError, RuntimeError, ValueError):  # a loop of links, a NUL byte, a name too long
            raise BpcliError(f"@{written} is not a path bpcli can follow") from None
        if not any(is_inside(resolved, folder) for folder in self.allowed):
            raise BpcliError(
                f"@{written} is outside the answers file's folder {self.allowed[0]}: bpcli reads only files "
                f"inside it{self.advice}"
            )
        return resolved


class Entry(Record):
    """A problem as the file gives it: value texts ("randn:3", "@W.npy") are read when it is checked."""

    problem: Problem
    folders: Folders  # where its @ paths may lead
    seed: int = 0


# The longest answers file (a problem's expr or backward is bounded by --max-length, limits.DEFAULT_MAX_LENGTH).
MAX_ANSWERS_BYTES = 64_000_000  # some 100,000 problems with small arrays inline


def check_answers(
    path: FilePath, rtol: float | None = None, atol: float | None = None, limits: Limits = Limits(),
    allow_paths: Iterable[FilePath] = (), max_length: int = DEFAULT_MAX_LENGTH,
) -> CheckResult:
    """Check every problem of an answers file; ``rtol``/``atol``, when given, replace every problem's own.

    A problem that cannot be checked is reported with its error (and the
    result's exit code is 2); the others are still checked. ``allow_paths``
    are folders, besides the answers file's own, that its @ paths may read.

        >>> import bpcli, pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "hw.toml"
        >>> _ = path.write_text('[[problem]]\\nexpr = "x * y"\\ninputs = { x = 3, y = 2 }\\n'
        ...                     'expect = { dx = 2, dy = 4 }\\n')
        >>> r = bpcli.check_answers(path)
        >>> r.score, r.exit_code
        ({'problems': 1, 'passed': 0, 'expectations': 2, 'met': 1}, 1)
    """
    path = path_text(path)
    grader = Rule(rtol, atol)
    entries = load_answers(path, grader, allow_paths)
    return CheckResult([_checked(entry, index, limits, max_length) for index, entry in enumerate(entries, start=1)],
                       grader, answers=path)


def check_answers_files(
    paths: Iterable[FilePath], rtol: float | None = None, atol: float | None = None, limits: Limits = Limits(),
    allow_paths: Iterable[FilePath] = (), max_length: int = DEFAULT_MAX_LENGTH,
) -> CheckResult:
    """Check several answers files in one process, each scored on its own (``files``).

    A file that cannot be read at all (not TOML, no problems) is reported as
    that file's error, and the others are still checked.
    """
    grader = Rule(rtol, atol)
    allow_paths = tuple(allow_paths)
    files = [_file_checked(path_text(path), grader, limits, allow_paths, max_length) for path in paths]
    return CheckResult([problem for file in files for problem in file.problems], grader, files=files)


def _file_checked(
    path: str, grader: Rule, limits: Limits, allow_paths: tuple[FilePath, ...], max_length: int
) -> CheckResult:
    try:
        result = check_answers(path, grader.rtol, grader.atol, limits, allow_paths, max_length)
    except BpcliError as error:
        return CheckResult([], grader, answers=path, error=error.render())
    for problem in result.problems:
        problem.file = path
    return result


def load_answers(path: FilePath, grader: Rule = Rule(), allow_paths: Iterable[FilePath] = ()) -> list[Entry]:
    """The problems of an answers file (a BpcliError for a malformed file).

    ``grader`` is the command line's tolerance: when it gives one, it replaces
    what every problem sets.
    """
    path = path_text(path)
    document = read_toml(path, MAX_ANSWERS_BYTES)
    extra = set(document) - {"problem"}
    if extra:
        raise BpcliError(f"{path}: unknown top-level key {sorted(extra)[0]!r}; problems are [[problem]] tables")
    tables = document.get("problem")
    if not isinstance(tables, list) or not tables:
        raise BpcliError(f"{path} has no problems: write each one as a [[problem]] table with expr, inputs and expect")
    folders = Folders.of(path, allow_paths)
    return [_problem(path, index, table, grader, folders) for index, table in enumerate(tables, start=1)]


def read_toml(path: str, limit: int, raise_with: str = "--max-length") -> dict[str, Any]:
    """A TOML file of at most ``limit`` bytes, its floats Written (with their digits); a BpcliError if not TOML."""
    import tomllib  # only for answers files (start-up)

    try:
        return tomllib.loads(read_text_file(path, limit, raise_with), parse_float=Written)
    except tomllib.TOMLDecodeError as error:
        raise BpcliError(f"{path} is not valid TOML: {error}") from None
    except ValueError:  # Python's int refuses a whole number of more than 4,300 digits
        raise BpcliError(f"{path} holds a whole number of more than 4,300 digits") from None
    except RecursionError:
        raise BpcliError(f"{path} is nested too deeply") from None


def _problem(path: str, index: int, table: Any, grader: Rule, folders: Folders) -> Entry:
    where = f"{path}, problem {index}"
    table = toml_table(table, where, KEYS, "a problem",
                       "write each problem as a [[problem]] table with expr, inputs and expect")
    if not isinstance(table.get("expr"), str):
        raise BpcliError(f"{where}: expr, the expression, is missing or not a string")
    for key in ("inputs", "expect"):
        if not isinstance(table.get(key, {}), dict):
            raise BpcliError(f"{where}: {key} must be a table, such as {key} = {{ x = 3 }}")
    if not table.get("expect") and "backward" not in table:
        raise BpcliError(f"{where}: nothing to check: give expect (or backward)")
    backward = table.get("backward")
    if backward is not None and not isinstance(backward, str):
        raise BpcliError(f"{where}: backward must be a string: the backward pass, or @file")
    seed = table.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise BpcliError(f"{where}: seed must be a whole number")
    problem = Problem(
        expression=table["expr"],
        values=table.get("inputs", {}),
        expect=table.get("expect", {}),
        backward=backward,
        backward_label=backward.strip()[1:] if backward and backward.strip().startswith("@") else "backward",
        upstream=table.get("upstream"),
        rule=grader if not grader.digits else _own_rule(where, table),
        name=str(table["name"]) if "name" in table else None,
    )
    return Entry(problem, folders, seed)


def _own_rule(where: str, table: dict[str, Any]) -> Rule:
    """A problem's own tolerance (the digits rule unless it sets rtol or atol)."""
    try:
        return Rule(tolerance("rtol", table.get("rtol")), tolerance("atol", table.get("atol")))
    except BpcliError as error:
        raise BpcliError(f"{where}: {error.message}") from None


def _checked(entry: Entry, index: int, limits: Limits, max_length: int = DEFAULT_MAX_LENGTH) -> ProblemResult:
    """One problem's result; bad input in it becomes its error, and the others are still checked.

    An error names the problem as written in the file (``@forward.py``), never
    the text of a file it read, beyond the short excerpt of a parse error.
    """
    problem = entry.problem
    try:
        return check_problem(resolved(entry, limits, max_length), index, limits)
    except BpcliError as error:
        unchecked = len(problem.expect) + (problem.backward is not None)
        return ProblemResult(index, problem.name, problem.expression, error=error.render(), unchecked=unchecked)


def resolved(entry: Entry, limits: Limits = Limits(), max_length: int = DEFAULT_MAX_LENGTH) -> Problem:
    """The problem with its texts read: @ files (inside the entry's folders), value texts, random fills,
    and the student's functions when expr (and backward) pick them from a file."""
    problem = entry.problem
    reader = ValueReader(seed=entry.seed, max_elements=limits.max_elements)
    code = _code(entry, max_length)
    return replace(
        problem,
        expression=problem.expression if code is not None else read_text(entry.folders, problem.expression,
                                                                          max_length, "expr"),
        backward=None if problem.backward is None or code is not None else read_text(
            entry.folders, problem.backward, max_length, "backward"),
        values={name: input_value(entry.folders, reader, name, v) for name, v in problem.values.items()},
        expect={key: expected_value(entry.folders, reader, key, v) for key, v in problem.expect.items()},
        upstream=input_value(entry.folders, reader, "upstream", problem.upstream),
        code=code, seed=entry.seed, fills=reader,
    )


def _code(entry: Entry, max_length: int) -> StudentCode | None:
    """A student's functions, when expr (and backward) pick them: "@layers.py:affine_forward"."""
    problem = entry.problem
    forward, backward = picked(problem.expression), picked(problem.backward)
    if forward is None:
        if backward is not None:
            raise BpcliError(f"backward = \"@{backward}\" picks a backward function: expr must pick its forward "
                             "function (expr = \"@layers.py:affine_forward\")")
        return None
    if problem.backward is not None and backward is None:
        raise BpcliError(f"expr = \"@{forward}\" picks a forward function: backward must pick its backward function "
                         "(backward = \"@layers.py:affine_backward\")")

    def read(path: str) -> str:  # inside the answers file's folder, as every @ path
        return read_text_file(entry.folders.resolve(path), max_length)

    from bpcli.analyses.student_code import read_code  # only for an answer that picks functions (start-up)

    return read_code(forward, backward, read)


def picked(text: str | None) -> str | None:
    """FILE.py:NAME for "@FILE.py:NAME", a function picked from a file; None for anything else."""
    stripped = (text or "").strip()
    if not stripped.startswith("@"):
        return None
    from bpcli.engine.syntax.function_spec import is_spec  # only for an answer that picks a function (start-up)

    return stripped[1:] if is_spec(stripped[1:]) else None


def input_value(folders: Folders, reader: Any, name: str, value: Any) -> Any:
    """An input (or upstream) value: a value text is read as on the command line, its @file inside ``folders``."""
    if not isinstance(value, str) or value == "ones":
        return value
    return reader.read(name, _located(folders, value))


def expected_value(folders: Folders, reader: Any, key: str, value: Any) -> Any:
    """An expected value: a value text is read now, its @file inside ``folders`` and shown as written."""
    if not isinstance(value, str):
        return value
    return replace(read_expected(key, _located(folders, value), reader), text=value.strip())


def _located(folders: Folders, text: str) -> str:
    """A value text, with an @ path replaced by the file it names inside ``folders``."""
    stripped = text.strip()
    return "@" + folders.resolve(stripped[1:]) if stripped.startswith("@") else text


def read_text(folders: Folders, text: str, max_length: int, key: str) -> str:
    """Inline text, or the contents of @file (inside ``folders``), at most ``max_length`` bytes."""
    stripped = text.strip()
    if stripped.startswith("@"):
        return read_text_file(folders.resolve(stripped[1:]), max_length)
    if len(text.encode("utf-8")) > max_length:
        raise BpcliError(f"{key} holds more than {max_length:,} bytes, the most bpcli reads as an expression "
                         "(raise the limit with --max-length)")
    return text



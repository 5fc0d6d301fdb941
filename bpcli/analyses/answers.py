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
as on the command line (``"@dW.npy"``, ``"[1, 2]"``, ``"randn:3"``); ``@`` paths
are relative to the answers file. ``upstream``, ``rtol``, ``atol`` and ``seed``
may be given per problem. A malformed file is bad input as a whole; a problem
that cannot be checked (a parse error, an unbound variable) is reported as an
error of its own and the others are still checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bpcli.analyses.check import CheckResult, Problem, ProblemResult, check_problem
from bpcli.analyses.expected import Rule, Written
from bpcli.engine.errors import BpcliError
from bpcli.engine.limits import Limits
from bpcli.engine.values import ValueReader, read_bytes, utf8_text

KEYS = {
    "name": "a label for the report",
    "expr": "the expression or staged program (or @file)",
    "inputs": "a table of input values",
    "expect": "a table of expected values (NAME) and gradients (dNAME)",
    "backward": "a backward pass in the notes' style (or @file)",
    "upstream": "the gradient flowing into a non-scalar output",
    "rtol": "relative tolerance for this problem",
    "atol": "absolute tolerance for this problem",
    "seed": "the seed of random fills in inputs",
}


@dataclass
class Entry:
    """A problem as the file gives it: value texts ("randn:3", "@W.npy") are read when it is checked."""

    problem: Problem
    base: Path  # the answers file, which @ paths are relative to
    seed: int = 0


def check_answers(
    path: str | Path, rtol: float | None = None, atol: float | None = None, limits: Limits = Limits()
) -> CheckResult:
    """Check every problem of an answers file; ``rtol``/``atol`` apply where a problem sets none.

    A problem that cannot be checked is reported with its error (and the
    result's exit code is 2); the others are still checked.

        >>> import bpcli, pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "hw.toml"
        >>> _ = path.write_text('[[problem]]\\nexpr = "x * y"\\ninputs = { x = 3, y = 2 }\\nexpect = { dx = 2, dy = 4 }\\n')
        >>> r = bpcli.check_answers(path)
        >>> r.score, r.exit_code
        ({'problems': 1, 'passed': 0, 'expectations': 2, 'met': 1}, 1)
    """
    path = Path(path)
    entries = load_answers(path, Rule(rtol, atol))
    return CheckResult([_checked(entry, index, limits) for index, entry in enumerate(entries, start=1)],
                       Rule(rtol, atol), answers=str(path))


def load_answers(path: Path, rule: Rule = Rule()) -> list[Entry]:
    """The problems of an answers file (a BpcliError for a malformed file)."""
    import tomllib  # only for answers files (start-up)

    try:
        document = tomllib.loads(_read(path), parse_float=Written)
    except tomllib.TOMLDecodeError as error:
        raise BpcliError(f"{path} is not valid TOML: {error}") from None
    except ValueError:  # Python's int refuses a whole number of more than 4,300 digits
        raise BpcliError(f"{path} holds a whole number of more than 4,300 digits") from None
    except RecursionError:
        raise BpcliError(f"{path} is nested too deeply") from None
    extra = set(document) - {"problem"}
    if extra:
        raise BpcliError(f"{path}: unknown top-level key {sorted(extra)[0]!r}; problems are [[problem]] tables")
    tables = document.get("problem")
    if not isinstance(tables, list) or not tables:
        raise BpcliError(f"{path} has no problems: write each one as a [[problem]] table with expr, inputs and expect")
    return [_problem(path, index, table, rule) for index, table in enumerate(tables, start=1)]


def _problem(path: Path, index: int, table: dict[str, Any], rule: Rule) -> Entry:
    where = f"{path}, problem {index}"
    unknown = set(table) - set(KEYS)
    if unknown:
        known = "; ".join(f"{key}: {meaning}" for key, meaning in KEYS.items())
        raise BpcliError(f"{where}: unknown key {sorted(unknown)[0]!r} (a problem has {known})")
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
        expect={key: _relative(path, value) for key, value in table.get("expect", {}).items()},
        backward=backward,
        backward_label=backward.strip()[1:] if backward and backward.strip().startswith("@") else "backward",
        upstream=_relative(path, table.get("upstream")),
        rule=Rule(_number(where, table, "rtol", rule.rtol), _number(where, table, "atol", rule.atol)),
        name=str(table["name"]) if "name" in table else None,
    )
    return Entry(problem, path, seed)


def _checked(entry: Entry, index: int, limits: Limits) -> ProblemResult:
    """One problem's result; bad input in it becomes its error, and the others are still checked."""
    problem = entry.problem
    try:
        problem.expression = _text(entry.base, problem.expression)
        if problem.backward is not None:
            problem.backward = _text(entry.base, problem.backward)
        reader = ValueReader(seed=entry.seed, max_elements=limits.max_elements)
        problem.values = {name: _value(reader, name, v) for name, v in problem.values.items()}
        problem.upstream = _value(reader, "upstream", problem.upstream)
        return check_problem(problem, index, limits)
    except BpcliError as error:
        return ProblemResult(index, problem.name, problem.expression, error=error.render())


def _value(reader: Any, name: str, value: Any) -> Any:
    if isinstance(value, str) and value != "ones":
        return reader.read(name, value)
    return value


def _text(path: Path, text: str) -> str:
    """Inline text, or the contents of @file (relative to the answers file)."""
    stripped = text.strip()
    if stripped.startswith("@"):
        return _read(path.parent / stripped[1:])
    return text


def _read(path: Path) -> str:
    return utf8_text(path, read_bytes(path))


def _relative(path: Path, value: Any) -> Any:
    """A value text naming @file, with the file found beside the answers file."""
    if isinstance(value, str) and value.strip().startswith("@"):
        return "@" + str(path.parent / value.strip()[1:])
    return value


def _number(where: str, table: dict[str, Any], key: str, default: float | None) -> float | None:
    value = table.get(key, default)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
        raise BpcliError(f"{where}: {key} must be a number at least 0")
    return None if value is None else float(value)

"""bpcli exercise: problem sheets with blanks, one variant per student, regenerated from a seed.

A variant is a problem's stage table (``bpcli grad``'s GradResult, read as it
is) at inputs drawn from the seed and the student's id, with the cells of the
chosen kinds blanked: forward values, local gradients, upstream gradients (a
stage's, and each input's ∂f/∂input), downstream gradients. Each blank is
named by the key that ``bpcli check`` reads it with, so the answers template
is an answers file. ``bpcli grade`` makes the same variant again (``variant``)
to get a student's key: nothing but the seed needs to be stored.

Why every blank can be worked out by hand from the cells shown: the inputs
and the output's upstream gradient (1) are always shown, and the lecture's
rules then give every cell in turn (a forward value is its gate applied to
its inputs; a local gradient follows from forward values; downstream = local
× upstream; an upstream gradient is the sum of the downstream gradients at
the value's uses). Inputs are drawn again where a cell would need a
convention rather than a rule (a kink, a tie: any warning of the grad
analysis), would not be a number, or would be too large to compute by hand.
A local or downstream cell of an input that a stage reads twice (``x * x``)
is never blanked: check cannot name one use.

    >>> import bpcli
    >>> sheet = bpcli.exercise("q = x + y; f = q * z", seed=7, blank=("upstream",))
    >>> problem = sheet.variants[0].problems[0]
    >>> [blank.key for blank in problem.blanks]
    ['dq', 'dx', 'dy', 'dz']
    >>> problem.inputs == bpcli.exercise("q = x + y; f = q * z", seed=7).variants[0].problems[0].inputs
    True
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from bpcli.analyses.grad import differentiate
from bpcli.analyses.result import GradResult, Result, Stage
from bpcli.engine.errors import BpcliError
from bpcli.engine.limits import Limits
from bpcli.engine.problem import Problem, build, collector_paused
from bpcli.engine.record import Record, field
from bpcli.engine.values import read_bytes, toml_table, utf8_text

if TYPE_CHECKING:
    from bpcli.engine.paths import FilePath  # a roster's or problem set's path, as text or a pathlib.Path

KINDS = ("forward", "local", "upstream", "downstream")
DEFAULT_BLANK = KINDS  # the whole table, from the inputs: the forward pass and the backward pass by hand
# Inputs a student multiplies and adds by hand: whole numbers from -5 to 5, never 0 (0 sits on the kink
# of relu, abs and max, and makes a product say nothing about its other factor).
CHOICES = tuple(n for n in range(-5, 6) if n != 0)
LARGEST = 1e4  # a cell larger than this is not for hand computation: the inputs are drawn again
SMALLEST = 1e-3  # nor one nearer 0 than this (a saturated sigmoid's 7.6e-10), unless it is 0
ATTEMPTS = 100  # draws per variant before the expression is declared unfit for hand computation
MAX_STUDENTS = 10_000
MAX_ROSTER_BYTES = 4_000_000
MAX_SET_BYTES = 1_000_000
SCHEME = "bpcli-exercise/1"  # part of every hash: a new drawing scheme changes it
UNFILLED = "?"  # a blank in the answers file until the student writes a number (views/exercise_sheet.BLANK)


class Spec(Record, frozen=True):
    """One problem of a sheet as the teacher gives it."""

    expression: str
    blank: tuple[str, ...] = DEFAULT_BLANK
    name: str | None = None


class Blank(Record, frozen=True):
    """One cell to fill in: its kind, the key that ``bpcli check`` reads it with, and the true number."""

    kind: str  # forward, local, upstream or downstream
    key: str  # t1, dt1/dx, dt1, dx via t1; dx for an input's gradient
    stage: int | None  # the stage's index (from 1); None for an input's gradient
    position: int | None  # the stage's input, for local and downstream
    answer: float


class ExerciseProblem(Record):
    """A problem of one variant: its inputs, its stage table (the grad analysis's result) and its blanks."""

    spec: Spec
    name: str  # the spec's name, or "problem N": what an answers file (and bpcli grade) calls it
    inputs: dict[str, float]
    result: GradResult
    blanks: list[Blank]

    @property
    def answers(self) -> dict[str, float]:
        """The answers file's ``expect`` table, filled with the true numbers: the student's key."""
        return {blank.key: blank.answer for blank in self.blanks}


class Variant(Record):
    """One student's sheet (``student`` None for a sheet of no one's)."""

    student: str | None
    seed: int
    problems: list[ExerciseProblem]


class ExerciseSet(Result, Record):
    """Every variant made: one per student of a roster, or one (``student`` None).

        >>> import bpcli
        >>> sheet = bpcli.exercise("x * y", seed=3, students=["ann", "bob"], blank=["upstream"])
        >>> [(v.student, v.problems[0].answers) for v in sheet.variants]
        [('ann', {'dx': -2.0, 'dy': -5.0}), ('bob', {'dx': 3.0, 'dy': -5.0})]
    """

    seed: int
    variants: list[Variant] = field(default_factory=list)


def exercise(
    problems: str | Spec | Sequence[Spec], seed: int = 0, students: Iterable[str] | None = None,
    blank: Iterable[str] = DEFAULT_BLANK, limits: Limits = Limits(),
) -> ExerciseSet:
    """A sheet (or one per student) for an expression, a Spec or a problem set.

    ``blank`` names the kinds of cells blanked (for an expression given as
    text): forward, local, upstream, downstream. ``bpcli exercise`` writes
    each variant's sheet and answers file; ``to_json()`` is the grader's key.

        >>> import bpcli
        >>> problem = bpcli.exercise("q = x + y; f = q * z", seed=7, blank=["forward"]).variants[0].problems[0]
        >>> problem.inputs, problem.answers
        ({'x': -5.0, 'y': -5.0, 'z': -3.0}, {'q': -10.0, 'f': 30.0})
    """
    kinds = blank_kinds(blank)
    specs = [Spec(problems, kinds)] if isinstance(problems, str) else \
        [problems] if isinstance(problems, Spec) else list(problems)
    if not specs:
        raise BpcliError("an exercise needs at least one problem")
    ids: list[str | None] = [None] if students is None else list(students)
    return ExerciseSet(seed, [variant(specs, seed, student, limits) for student in ids])


def variant(specs: Sequence[Spec], seed: int, student: str | None = None, limits: Limits = Limits()) -> Variant:
    """One student's variant: the same seed and id give the same numbers, on any machine, in any Python."""
    return Variant(student, seed, [_problem(spec, spec.name or f"problem {index}", seed, student, limits)
                                   for index, spec in enumerate(specs, start=1)])


def blank_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """The kinds of cells to blank, in the table's order; an unknown one is bad input."""
    given = [kind.strip() for item in kinds for kind in item.split(",") if kind.strip()]
    unknown = [kind for kind in given if kind not in KINDS]
    if unknown or not given:
        raise BpcliError(f"--blank {unknown[0] if unknown else '(nothing)'}: blank one or more of "
                         f"{', '.join(KINDS)} (comma-separated)")
    return tuple(kind for kind in KINDS if kind in given)


# ---- drawing inputs ----------------------------------------------------------------------


def draw(name: str, expression: str, seed: int, student: str | None, attempt: int) -> float:
    """An input's value: sha256 of the scheme, seed, student, expression, name and attempt picks one of CHOICES.

    A hash of text, never Python's hash(), so that a key made again next term
    on another machine has the same numbers.
    """
    text = "\x00".join((SCHEME, str(seed), student or "", expression, name, str(attempt)))
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return float(CHOICES[int.from_bytes(digest[:8], "big") % len(CHOICES)])


def _number(value: Any) -> float:
    return float(value) + 0.0  # -0.0 (0 times a negative number) is the 0 a student writes


def _problem(spec: Spec, name: str, seed: int, student: str | None, limits: Limits) -> ExerciseProblem:
    graph = build(spec.expression)
    variables = [graph.nodes[v].name for v in graph.variables]
    if not variables:
        raise BpcliError(f"{spec.expression}: an exercise needs inputs to draw (the expression has no variables)")
    for attempt in range(ATTEMPTS):
        inputs = {v: draw(v, spec.expression, seed, student, attempt) for v in variables}
        with collector_paused():  # as grad: the graph built once serves the first draw (binding changes it)
            problem = Problem.bound(graph if attempt == 0 else build(spec.expression), inputs, limits)
            result = differentiate(problem, problem.upstream(None))
        _require_numbers(result)
        if _by_hand(result):
            return ExerciseProblem(spec, name, inputs, result, blanks(result, spec.blank))
    raise BpcliError(f"{spec.expression}: no inputs from {CHOICES[0]:g} to {CHOICES[-1]:g} in {ATTEMPTS} draws "
                     "keep every cell a finite number away from kinks and ties; it is not for computing by hand")


def _require_numbers(result: GradResult) -> None:
    """Sheets are for gates on numbers: an array or a structural gate (@, sum) has no cells to fill one by one."""
    if not result.stages:
        raise BpcliError(f"{result.source}: an exercise needs a gate (the output is the input {result.output} itself)")
    for stage in result.stages:
        if stage.shape != () or stage.structural:
            raise BpcliError(f"stage {stage.name} = {stage.expr}: exercise sheets are for numbers and gates on "
                             "numbers (no arrays, no matrix products or reductions)")


def _by_hand(result: GradResult) -> bool:
    """Whether every cell follows from the lecture's rules alone (no warning) and is a number of a sensible size.

    A forward value of 0 is left to the gates that route (relu(-3) = 0 is the
    lesson; x + y = 0 only makes every product after it 0).
    """
    if result.warnings:
        return False
    if any(stage.value == 0 and stage.role != "routes" for stage in result.stages):
        return False
    cells = [result.value, *result.gradients.values()]
    for stage in result.stages:
        cells += [stage.value, stage.upstream, *stage.local, *stage.downstream]
    return all(cell is None or cell == 0 or (math.isfinite(cell) and SMALLEST <= abs(cell) <= LARGEST)
               for cell in cells)


# ---- the blanks ------------------------------------------------------------------------------


def blanks(result: GradResult, kinds: Sequence[str]) -> list[Blank]:
    """The cells of ``kinds`` in the table's order (row by row, then the inputs' gradients)."""
    found: list[Blank] = []
    for stage in result.stages:
        found += _stage_blanks(result, stage, kinds)
    if "upstream" in kinds:
        found += [Blank("upstream", gradient_key(result, name), None, None, _number(value))
                  for name, value in result.gradients.items()]
    return found


def _stage_blanks(result: GradResult, stage: Stage, kinds: Sequence[str]) -> list[Blank]:
    cells: list[Blank] = []
    if "forward" in kinds:
        cells.append(Blank("forward", stage.name, stage.index, None, _number(stage.value)))
    once = [p for p, name in enumerate(stage.inputs) if stage.inputs.count(name) == 1]
    if "local" in kinds:
        cells += [Blank("local", f"d{stage.name}/d{stage.inputs[p]}", stage.index, p, _number(stage.local[p]))
                  for p in once if stage.local[p] is not None and stage.formulas[p] is not None]
    # The output's upstream gradient is the 1 backpropagation starts from: always shown.
    if "upstream" in kinds and stage.upstream is not None and stage.name != result.output:
        cells.append(Blank("upstream", gradient_key(result, stage.name), stage.index, None, _number(stage.upstream)))
    if "downstream" in kinds:
        cells += [Blank("downstream", f"d{stage.inputs[p]} via {stage.name}", stage.index, p,
                        _number(stage.downstream[p]))
                  for p in once if stage.downstream[p] is not None and stage.formulas[p] is not None]
    return cells


def gradient_key(result: GradResult, name: str) -> str:
    """dNAME, or d(NAME) where dNAME is itself a value of the program (check would refuse it as ambiguous)."""
    taken = {stage.name for stage in result.stages} | set(result.inputs)
    return f"d({name})" if "d" + name in taken else "d" + name


# ---- rosters and problem sets ------------------------------------------------------------------

_ID_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+-")


def read_roster(path: FilePath, column: str = "id") -> list[str]:
    """The student ids of a CSV roster with a header row: the column ``column`` (by default ``id``).

    An id names the student's files, so it is letters, digits and ``. _ @ + -``
    (not starting with a dot); ids are unique.
    """
    import csv  # only for rosters (start-up)
    import io

    text = utf8_text(path, read_bytes(path, " (the roster)", MAX_ROSTER_BYTES))
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise BpcliError(f"{path} is not a CSV file bpcli can read: {error}") from None
    if not rows:
        raise BpcliError(f"{path} is empty: a roster is a CSV file with a header row and a column {column}")
    header = [cell.strip().lower() for cell in rows[0]]
    if column.lower() not in header:
        raise BpcliError(f"{path} has no column {column!r} in its header row ({', '.join(header)[:200] or 'empty'}); "
                         "name the column of student ids with --id-column")
    at = header.index(column.lower())
    ids: list[str] = []
    earlier: dict[str, str] = {}  # each id as a file system that ignores case sees it, to the id
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(ids) == MAX_STUDENTS:
            raise BpcliError(f"{path} lists more than {MAX_STUDENTS:,} students; at most {MAX_STUDENTS:,}")
        student = row[at].strip() if at < len(row) else ""
        _check_id(path, line, student, earlier)
        earlier[student.lower()] = student
        ids.append(student)
    if not ids:
        raise BpcliError(f"{path} lists no students")
    return ids


def _check_id(path: FilePath, line: int, student: str, earlier: dict[str, str]) -> None:
    if not student or student.startswith(".") or not set(student) <= _ID_CHARACTERS or len(student) > 100:
        raise BpcliError(f"{path}, row {line}: student id {student[:100]!r} is not one bpcli can name a file "
                         "after (letters, digits and . _ @ + -, not starting with a dot, at most 100)")
    twin = earlier.get(student.lower())
    if twin == student:
        raise BpcliError(f"{path}, row {line}: student id {student!r} appears twice")
    if twin is not None:  # on macOS and Windows ADA.md would overwrite ada.md: one student's sheet for both
        raise BpcliError(f"{path}, row {line}: student ids {twin!r} and {student!r} differ only in case, "
                         "and name the same files where case is ignored (macOS, Windows)")


SET_KEYS = {"seed", "blank", "problem"}
PROBLEM_KEYS = {"name", "expr", "blank"}


def read_problem_set(path: FilePath) -> tuple[list[Spec], int | None]:
    """A problem set: ``[[problem]]`` tables (expr, optionally name and blank), and perhaps a seed and blank."""
    import tomllib  # only for problem sets (start-up)

    try:
        document = tomllib.loads(utf8_text(path, read_bytes(path, " (the problem set)", MAX_SET_BYTES)))
    except tomllib.TOMLDecodeError as error:
        raise BpcliError(f"{path} is not valid TOML: {error}") from None
    unknown = set(document) - SET_KEYS
    if unknown:
        raise BpcliError(f"{path}: unknown key {sorted(unknown)[0]!r}; a problem set has seed, blank and "
                         "[[problem]] tables")
    tables = document.get("problem")
    if not isinstance(tables, list) or not tables:
        raise BpcliError(f"{path} has no problems: write each one as a [[problem]] table with expr")
    default = kinds_of(document, str(path))
    specs = [spec_of(table, f"{path}, problem {index}", PROBLEM_KEYS, default)
             for index, table in enumerate(tables, start=1)]
    return specs, seed_of(document, str(path))


def spec_of(table: Any, where: str, keys: set[str], blank: tuple[str, ...] = DEFAULT_BLANK) -> Spec:
    """A Spec from a TOML table with ``keys`` (a problem set's [[problem]], a grading key's [exercise])."""
    table = toml_table(table, where, keys, "a problem")
    if not isinstance(table.get("expr"), str):
        raise BpcliError(f"{where}: expr, the expression, is missing or not a string")
    name = table.get("name")
    return Spec(table["expr"], kinds_of(table, where, blank), None if name is None else str(name))


def kinds_of(table: Mapping[str, Any], where: str, blank: tuple[str, ...] = DEFAULT_BLANK) -> tuple[str, ...]:
    """A table's ``blank``: a list of kinds or a comma-separated string; ``blank`` where it has none."""
    kinds = table.get("blank", blank)
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, (list, tuple)) or not all(isinstance(kind, str) for kind in kinds):
        raise BpcliError(f"{where}: blank must be a list of {', '.join(KINDS)} (or a comma-separated string)")
    try:
        return blank_kinds(kinds)
    except BpcliError as error:
        raise BpcliError(f"{where}: {error.message}") from None


def seed_of(table: Mapping[str, Any], where: str) -> int | None:
    seed = table.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise BpcliError(f"{where}: seed must be a whole number, 0 or more")
    return seed

"""Grading a class: every student's answers checked against one key, in one process.

The key is the grader's TOML file, an answers file whose problems say what a
student must answer instead of the answers themselves::

    [[problem]]
    name = "neuron"                                   # required: students answer a problem by its name
    expr = "sigmoid(w0*x0 + w1*x1 + w2)"              # or "@forward.py", in the key's folder
    inputs = { w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3 }
    answers = ["dx0", "dw0"]                          # the values and gradients the student must give
    backward = "@backward.py"                         # and/or: the student's backward pass, that file
    points = 2                                        # default 1
    hidden = false                                    # Gradescope shows it after publishing
    rtol = 0.01                                       # default 0.01, and atol 1e-6

A course whose students hand in ``layers.py`` (the assignment's functions) picks
the forward function from the grader's own copy, in the key's folder, and the
backward function from each student's file::

    [[problem]]
    name = "affine"
    expr = "@reference.py:affine_forward"             # the key's folder: the truth
    inputs = { x = "randn:4,3", w = "randn:3,2", b = "randn:2" }
    backward = "@layers.py:affine_backward"           # the student's layers.py: parsed, never run
    gradients = ["dx", "dw", "db"]                    # optional: what the backward must return (default: all)

A student's loss function (``softmax_loss(x, y)``, which returns ``loss, dx``) is
named by ``loss`` instead of ``backward``; ``expr`` is the true loss (the
reference's function, or an expression), and the student's loss and each
gradient they return (by position: the first the gradient of the first
parameter) are graded against its exact numbers::

    [[problem]]
    name = "softmax"
    expr = "@reference.py:softmax_loss"               # a number: the loss
    inputs = { x = "randn:5,3", y = [0, 2, 1, 1, 0] }
    loss = "@layers.py:softmax_loss"                  # the student's: its loss, and its dx (gradients = ["dx"])

A non-scalar output with no ``upstream`` gets check's seeded random upstream
(the key's ``seed``, as ``bpcli check --seed``), so grade and check agree.
``expr`` may be an expression instead: its inputs, in the order of ``inputs``,
are the parameters whose gradients the function returns and what its cache
holds (``x, w, b = cache``).

An ``[exercise]`` table (``expr``, or ``set = "@problems.toml"``, or
``[[exercise.problem]]`` tables; ``seed``, ``blank``) grades the sheets of
``bpcli exercise``: each student's inputs, and so their key, are made again
from the seed and their id (``bpcli.analyses.exercise.variant``), and the
blanks are the answers asked for.

A submission is a student's answers file (the student id is its stem) or a
folder (the id is its name) holding ``answers.toml`` and the code files it
or the key names, or a student's Python file (``ada.py``, the id its stem), which
stands for every file the key picks a backward (or loss) function from. Its problems give
answers only::

    [[problem]]
    name = "neuron"
    expect = { dx0 = 0.39, dw0 = -0.2 }
    backward = "@backward.py"                         # optional: where the key's backward pass is

Everything else a student writes (tolerances, expr, inputs, points, paths
outside the folder) is ignored, with a note: the key is the grader's. Each
problem is worth ``points × met / expectations``: its answers, and for a
backward pass the gradient of every input, each one expectation. A submission
that cannot be read is a zero with its message; the others are still graded.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from bpcli.analyses.answers import (
    DEFAULT_MAX_LENGTH,
    Entry,
    Folders,
    expected_value,
    picked,
    read_text,
    read_toml,
    resolved,
)
from bpcli.analyses.check import (
    Outcome,
    Problem,
    ProblemResult,
    Target,
    UpstreamUsed,
    check_against,
    check_problem,
    differentiated,
    resolve,
)
from bpcli.analyses.diagnosis import Truth
from bpcli.analyses.expected import Rule, computed, tolerance
from bpcli.analyses.result import Result
from bpcli.engine.errors import EXIT_OK, BpcliError
from bpcli.engine.limits import Limits
from bpcli.engine.paths import file_status, is_directory, is_file, joined, path_name, path_stem, path_suffix, path_text
from bpcli.engine.printable import printable
from bpcli.engine.record import Record, field, replace
from bpcli.engine.values import ValueReader, toml_table

if TYPE_CHECKING:  # at run time, imported where a key has an [exercise] or picks a student's function (start-up)
    from bpcli.analyses.exercise import ExerciseProblem, Spec
    from bpcli.analyses.student_code import StudentCode
    from bpcli.engine.paths import FilePath
    from bpcli.engine.syntax.functions import Function

SUBMISSION_ANSWERS = "answers.toml"  # the answers file of a submission handed in as a folder
PYTHON = ".py"  # a submission with this suffix is the student's code file, not an answers file
MAX_KEY_BYTES = 16_000_000
MAX_SUBMISSION_BYTES = 1_000_000  # a student's answers file: far more than any homework's answers
DEFAULT_RULE = Rule(rtol=1e-2, atol=1e-6)  # the key's tolerance when a problem sets none (never the student's digits)

KEY_KEYS = {
    "name": "the problem's name, which students answer it by (required, unique)",
    "expr": "the expression or staged program (or @file in the key's folder)",
    "inputs": "a table of input values",
    "answers": 'the values and gradients a student must give, such as ["dx", "dw"]',
    "backward": 'the student\'s backward pass: "@FILE", that file in the student\'s folder, or "@FILE.py:NAME", '
                'the function NAME of their FILE.py, paired with expr (a forward function in the key\'s folder, '
                'or an expression whose cache is its inputs)',
    "loss": 'the student\'s loss function, "@FILE.py:NAME": it returns the loss and its gradients (return loss, dx), '
            'each graded against expr\'s (the reference\'s loss function, or an expression)',
    "gradients": 'the gradients a backward pass (or loss function) must give, such as ["dx", "dw"] (default: every '
                 'input\'s; the reference loss function\'s own)',
    "points": "what the problem is worth (default 1)",
    "hidden": "true: Gradescope shows it after the grades are published",
    "rtol": "relative tolerance (default 0.01)",
    "atol": "absolute tolerance (default 1e-6)",
    "upstream": "the gradient flowing into a non-scalar output",
    "seed": "the seed of random fills in inputs",
}
STUDENT_KEYS = {"name", "expect", "backward"}
LOSS_KEYS = {"name", "loss"}  # a student's table for a loss problem: where their loss function is
TEMPLATE_KEYS = {"expr", "inputs"}  # an exercise's answers file repeats them: the key's are used, without a note
EXERCISE_KEYS = {
    "seed": "the seed the exercise's inputs were drawn from (with each student's id)",
    "blank": "the kinds of cells blanked: forward, local, upstream, downstream",
    "expr": "the expression, for an exercise of one problem",
    "name": "its name (default: problem 1)",
    "set": '"@FILE": a problem set of bpcli exercise --set, in the key\'s folder (its seed unless seed is given)',
    "problem": "[[exercise.problem]] tables (expr, and optionally name, blank, points, hidden)",
    "points": "what each problem is worth (default 1)",
    "hidden": "true: Gradescope shows the problems after the grades are published",
    "rtol": "relative tolerance (default 0.01)",
    "atol": "absolute tolerance (default 1e-6)",
}
EXERCISE_PROBLEM_KEYS = {"name", "expr", "blank", "points", "hidden"}


# ---- the key -----------------------------------------------------------------------------


class KeyProblem(Record, frozen=True):
    """One problem of the key, as written (value texts are read when it is prepared)."""

    name: str
    entry: Entry  # the expression, inputs, upstream and tolerance, with the key's folder for @ paths
    answers: tuple[str, ...]  # the keys a student must give: "dx", "d(x)", "q"
    backward: str | None  # the student's backward pass in their folder: a file name, or FILE.py:NAME (a function)
    points: float
    hidden: bool
    exercise: Spec | None = None  # a problem of an [exercise]: each student's inputs are drawn for them
    gradients: tuple[str, ...] = ()  # the gradients a backward pass must give, as written (none: every input's)
    loss: str | None = None  # FILE.py:NAME, the student's loss function that returns its gradients (return loss, dx)

    @property
    def picks(self) -> str | None:
        """What the problem reads from the student's folder: their loss function, or their backward pass."""
        return self.loss if self.loss is not None else self.backward

    @property
    def field(self) -> str:
        """The key (and a student's answers file) names what it picks by this."""
        return "backward" if self.loss is None else "loss"

    @property
    def function(self) -> tuple[str, str] | None:
        """(FILE.py, NAME) when the student's backward pass, or loss, is a function of their file."""
        from bpcli.engine.syntax.function_spec import split_spec  # only for a problem that picks (start-up)

        return None if self.picks is None else split_spec(self.picks)


class Prepared(Record):
    """A key problem ready to grade: its expression differentiated once, for every student."""

    problem: KeyProblem
    checked: Problem  # the key's problem with its texts read (no expectations)
    truth: Truth
    targets: dict[Target, str]  # what each required answer checks -> its key in the key
    upstream: UpstreamUsed | None = None  # the upstream gradient the truth was made with (None: as checked says)
    required: tuple[str, ...] = ()  # the inputs the key's gradients names (none: every input)

    @property
    def gradients(self) -> tuple[str, ...]:
        """The inputs a backward pass must give the gradient of."""
        return self.required or tuple(self.truth.result.gradients)

    @property
    def expectations(self) -> int:
        return len(self.targets) + (len(self.gradients) if self.problem.backward else 0)


class Key(Record):
    """The grader's key: its problems, and (lazily) those problems prepared once for everyone."""

    path: str
    problems: list[KeyProblem]
    limits: Limits = Limits()
    max_length: int = DEFAULT_MAX_LENGTH
    shared: list[Prepared] | None = None
    seed: int = 0  # the seed of the exercise's problems, if it has any


def load_key(path: FilePath, limits: Limits = Limits(), max_length: int = DEFAULT_MAX_LENGTH) -> Key:
    """The key's problems (a BpcliError for a malformed key: the whole run is bad input)."""
    path = path_text(path)
    document = read_toml(path, MAX_KEY_BYTES)
    extra = set(document) - {"problem", "exercise"}
    if extra:
        raise BpcliError(f"{path}: unknown top-level key {sorted(extra)[0]!r}; problems are [[problem]] tables "
                         "(and an [exercise])")
    tables = document.get("problem", [])
    if not isinstance(tables, list) or not (tables or "exercise" in document):
        raise BpcliError(f"{path} has no problems: write each one as a [[problem]] table with name, expr, inputs "
                         "and answers or backward")
    folders = Folders.of(path, advice=" (grade has no --allow-paths: copy the file into the key's folder)")
    problems = [_key_problem(f"{path}, problem {index}", table, folders)
                for index, table in enumerate(tables, start=1)]
    seed = 0
    if "exercise" in document:
        exercise_problems, seed = _exercise(f"{path}, [exercise]", document["exercise"], folders, limits)
        problems += exercise_problems
    names = [problem.name for problem in problems]
    for name in names:
        if names.count(name) > 1:
            raise BpcliError(f"{path}: two problems are named {name!r}; students answer each problem by its name")
    return Key(path, problems, limits, max_length, seed=seed)


def _exercise(where: str, table: Any, folders: Folders, limits: Limits) -> tuple[list[KeyProblem], int]:
    """The problems of an [exercise]: what every student must fill in; their numbers come with each student."""
    table = toml_table(table, where, EXERCISE_KEYS, "an [exercise]",
                       "write [exercise] with seed, blank and expr (or set, or [[exercise.problem]] tables)")
    from bpcli.analyses.exercise import kinds_of, read_problem_set, seed_of, spec_of, variant  # a key's [exercise]

    given = [key for key in ("expr", "set", "problem") if key in table]
    if len(given) != 1:
        raise BpcliError(f"{where}: give the problems once: expr (one problem), set = \"@FILE\" or "
                         "[[exercise.problem]] tables")
    seed = seed_of(table, where)
    kinds = kinds_of(table, where)
    if "set" in table:
        if not isinstance(table["set"], str) or not table["set"].strip().startswith("@"):
            raise BpcliError(f'{where}: set must name the problem set, such as set = "@problems.toml"')
        specs, set_seed = read_problem_set(folders.resolve(table["set"].strip()[1:]))
        if "blank" in table:
            specs = [replace(spec, blank=kinds) for spec in specs]
        tables: list[Any] = [{} for _ in specs]
        seed = set_seed if seed is None else seed
    else:
        single = "expr" in table  # [exercise] expr = ...: one problem, and the table's other keys are the exercise's
        tables = [{key: table[key] for key in ("name", "expr") if key in table}] if single else table["problem"]
        if not isinstance(tables, list) or not tables:
            raise BpcliError(f"{where}: problem must be [[exercise.problem]] tables with expr")
        specs = [spec_of(sub, f"{where}, problem {index}", EXERCISE_PROBLEM_KEYS, kinds)
                 for index, sub in enumerate(tables, start=1)]
    rule = _rule(where, table)
    made = variant(specs, seed or 0, None, limits)  # the key is checked now, before any student is graded
    problems = []
    for sub, spec, problem in zip(tables, specs, made.problems):
        points = _points(where, sub.get("points", table.get("points", 1)))
        hidden = _hidden(where, sub.get("hidden", table.get("hidden", False)))
        entry = Entry(Problem(expression=spec.expression, rule=rule, name=problem.name), folders)
        problems.append(KeyProblem(problem.name, entry, tuple(problem.answers), None, points, hidden, spec))
    return problems, seed or 0


def _key_problem(where: str, table: Any, folders: Folders) -> KeyProblem:
    table = toml_table(table, where, KEY_KEYS, "a key's problem", "write each problem as a [[problem]] table")
    name, expression = table.get("name"), table.get("expr")
    if not isinstance(name, str) or not name.strip():
        raise BpcliError(f"{where}: name is missing: students answer each problem by its name")
    if not isinstance(expression, str):
        raise BpcliError(f"{where}: expr, the expression, is missing or not a string")
    if not isinstance(table.get("inputs", {}), dict):
        raise BpcliError(f"{where}: inputs must be a table, such as inputs = {{ x = 3 }}")
    answers = table.get("answers", [])
    if not isinstance(answers, list) or not all(isinstance(answer, str) for answer in answers):
        raise BpcliError(f'{where}: answers must be a list of names, such as answers = ["dx", "dw"]')
    backward = _backward_file(where, table.get("backward"))
    loss = _loss_function(where, table.get("loss"), backward, answers)
    if loss is not None and "upstream" in table:  # the student's gradient lines start from 1, as a loss's do
        raise BpcliError(f"{where}: a loss is differentiated as it is: give no upstream with loss")
    if not answers and backward is None and loss is None:
        raise BpcliError(f"{where}: nothing to grade: give answers (the names a student must give), backward or "
                         "loss")
    gradients = table.get("gradients", [])
    if not isinstance(gradients, list) or not all(isinstance(gradient, str) for gradient in gradients):
        raise BpcliError(f'{where}: gradients must be a list of gradients, such as gradients = ["dx", "dw"]')
    if gradients and backward is None and loss is None:
        raise BpcliError(f"{where}: gradients says what a backward pass must give: give backward too")
    seed = table.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise BpcliError(f"{where}: seed must be a whole number")
    rule = _rule(where, table)
    problem = Problem(expression=expression, values=table.get("inputs", {}), upstream=table.get("upstream"),
                      rule=rule, name=name)
    return KeyProblem(name, Entry(problem, folders, seed), tuple(answers), backward,
                      _points(where, table.get("points", 1)), _hidden(where, table.get("hidden", False)),
                      gradients=tuple(gradients), loss=loss)


def _rule(where: str, table: dict[str, Any]) -> Rule:
    """The tolerances a key's problem (or [exercise]) sets, the key's defaults where it sets none."""
    try:
        return Rule(tolerance("rtol", table.get("rtol", DEFAULT_RULE.rtol)),
                    tolerance("atol", table.get("atol", DEFAULT_RULE.atol)))
    except BpcliError as error:
        raise BpcliError(f"{where}: {error.message}") from None


def _loss_function(where: str, loss: Any, backward: str | None, answers: list[str]) -> str | None:
    """The student's loss function the key names (loss = "@layers.py:softmax_loss"): FILE.py:NAME."""
    if loss is None:
        return None
    spec = picked(loss) if isinstance(loss, str) else None
    if spec is None:
        raise BpcliError(f'{where}: loss must pick the student\'s loss function, such as loss = '
                         '"@layers.py:softmax_loss"')
    if backward is not None or answers:
        raise BpcliError(f"{where}: loss grades the student's loss function and the gradients it returns: give no "
                         "backward or answers with it (grade those in a problem of their own)")
    return spec


def _backward_file(where: str, backward: Any) -> str | None:
    if backward is None:
        return None
    if not isinstance(backward, str) or not backward.strip().startswith("@") or not backward.strip()[1:]:
        raise BpcliError(f'{where}: backward must name the student\'s file, such as backward = "@backward.py" '
                         '(or their function, backward = "@layers.py:affine_backward")')
    return backward.strip()[1:]


def _points(where: str, points: Any) -> float:
    if isinstance(points, bool) or not isinstance(points, (int, float)) or not 0 <= points < float("inf"):
        raise BpcliError(f"{where}: points must be a number, 0 or more")
    return float(points)


def _hidden(where: str, hidden: Any) -> bool:
    if not isinstance(hidden, bool):
        raise BpcliError(f"{where}: hidden must be true or false")
    return hidden


def prepare(problem: KeyProblem, limits: Limits = Limits(), max_length: int = DEFAULT_MAX_LENGTH) -> Prepared:
    """Read the problem's values, differentiate it once, and check that every required answer names a value."""
    try:
        checked = resolved(problem.entry, limits, max_length)
        if problem.backward is not None and problem.function is not None and checked.code is not None \
                and checked.code.backward is not None:
            raise BpcliError(f"{checked.code.forward.label} returns its gradients after its output: the student's "
                             "backward function needs a forward function that returns out, cache")
        # The truth check --answers finds for the same problem: expr = "@layers.py:affine_forward" is that
        # function's program, and its non-scalar output gets the seeded random upstream (the key's seed).
        result, upstream = differentiated(checked, limits)
        truth = Truth(result)
        targets: dict[Target, str] = {}
        for answer in problem.answers:
            target = resolve(answer, truth)
            if target in targets:
                raise BpcliError(f"answers {answer} and {targets[target]} ask for the same thing; give it once")
            targets[target] = answer
        required = _required(problem.gradients, truth)
        if problem.loss is not None:
            required = required or _loss_gradients(checked, truth)
            targets = _loss_targets(truth, required)
    except BpcliError as error:
        raise BpcliError(f"the key's problem {problem.name!r}: {error.message}") from None
    return Prepared(problem, checked, truth, targets, upstream, required)


def _loss_gradients(checked: Problem, truth: Truth) -> tuple[str, ...]:
    """The gradients a student's loss function returns by default: those the reference loss function returns
    (softmax_loss's dx, not y's), else every input's."""
    code = checked.code
    if code is not None and code.backward is not None and code.scope is not None:
        return tuple(code.scope.gradients.values())
    return tuple(truth.result.gradients)


def _loss_targets(truth: Truth, gradients: tuple[str, ...]) -> dict[Target, str]:
    """What a student's loss function is graded on: the loss (a number) and the gradients it returns."""
    output, value = truth.result.output, truth.result.value
    if getattr(value, "shape", ()) != ():
        raise BpcliError(f"loss grades a loss function, whose loss is a number, but expr's output {output} has "
                         f"shape {tuple(value.shape)}")
    return {resolve(key, truth): key for key in (output, *("d" + gradient for gradient in gradients))}


def _required(gradients: tuple[str, ...], truth: Truth) -> tuple[str, ...]:
    """The inputs the key's ``gradients`` name, each once (twice, it would be an expectation no one meets)."""
    required: dict[str, str] = {}  # input -> the gradient as the key writes it
    for gradient in gradients:
        name = _input_of(gradient, truth)
        if name in required:
            raise BpcliError(f"gradients {required[name]} and {gradient} name the same gradient; give it once")
        required[name] = gradient
    return tuple(required)


def _input_of(gradient: str, truth: Truth) -> str:
    """The input a gradient of the key's ``gradients`` names ("dx" or "d(x)" -> "x")."""
    target = resolve(gradient, truth)
    if not target.gradient or target.position is not None or truth.name(target.node) not in truth.result.gradients:
        raise BpcliError(f"gradients: {gradient} is not the gradient of an input (such as dx)")
    return truth.name(target.node)


def key_problems(key: Key, student: str) -> list[Prepared]:
    """The problems ``student`` is graded on: the one place a key turns into problems with their true numbers.

    Every student shares one key here, prepared once. A key that gives each
    student their own inputs (from a hash of the student id) prepares that
    student's variant here instead.
    """
    if key.shared is None:
        key.shared = [prepare(problem, key.limits, key.max_length) for problem in key.problems
                      if problem.exercise is None]
    exercises = [problem for problem in key.problems if problem.exercise is not None]
    if not exercises:
        return key.shared
    from bpcli.analyses.exercise import variant  # only a key with an [exercise] draws each student's (start-up)

    made = variant([problem.exercise for problem in exercises if problem.exercise], key.seed, student, key.limits)
    return [*key.shared, *(_exercise_prepared(problem, mine) for problem, mine in zip(exercises, made.problems))]


def _exercise_prepared(problem: KeyProblem, mine: ExerciseProblem) -> Prepared:
    """A student's own variant of an exercise problem, graded against the grad result it was made from."""
    checked = replace(problem.entry.problem, values=mine.inputs)
    truth = Truth(mine.result)
    targets = {resolve(key, truth): key for key in problem.answers}
    own = replace(problem, entry=replace(problem.entry, problem=checked))
    return Prepared(own, checked, truth, targets)


# ---- the result --------------------------------------------------------------------------


class ProblemMark(Record):
    """One student's mark on one problem, with what was checked."""

    name: str
    score: float
    max_score: float
    hidden: bool
    met: int
    expectations: int
    result: ProblemResult | None = None  # the answers checked (None: nothing could be checked)
    error: str | None = None  # why the problem could not be checked (a zero)
    notes: list[str] = field(default_factory=list)  # what was ignored or missing


class StudentGrade(Record):
    student: str
    submission: str
    problems: list[ProblemMark]
    error: str | None = None  # why the submission could not be read at all (a zero)
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(problem.score for problem in self.problems), 4)

    @property
    def max_score(self) -> float:
        return sum(problem.max_score for problem in self.problems)


class GradeResult(Result, Record):
    """Every student's grade against one key: ``students`` in the order the submissions were given.

    Each StudentGrade has its ``score`` and ``max_score``, its ``error`` when
    the submission could not be read, and a ProblemMark per key problem
    (``score``, ``met`` of ``expectations``, the checked ``result``, ``notes``).

        >>> import bpcli
        >>> [problem.name for problem in bpcli.GradeResult("key.toml", [], []).problems]
        []
    """

    key: str
    problems: list[KeyProblem]
    students: list[StudentGrade]

    @property
    def max_score(self) -> float:
        return sum(problem.points for problem in self.problems)

    @property
    def mean_score(self) -> float:
        """The class's mean score (0 with no students)."""
        scores = [student.score for student in self.students]
        return sum(scores) / len(scores) if scores else 0.0

    @property
    def unreadable(self) -> int:
        """How many submissions could not be read (each graded zero)."""
        return sum(student.error is not None for student in self.students)

    @property
    def exit_code(self) -> int:
        """0: every submission was graded (a submission that could not be read is graded zero)."""
        return EXIT_OK


# ---- grading -----------------------------------------------------------------------------


def grade(
    key: FilePath | Key, submissions: Iterable[FilePath], limits: Limits = Limits(),
    max_length: int = DEFAULT_MAX_LENGTH, problems_for: Callable[[Key, str], list[Prepared]] = key_problems,
) -> GradeResult:
    """Grade every submission (an answers file, or a folder holding answers.toml) against ``key``.

    A bad key raises BpcliError; a bad submission is that student's zero, with
    its message. ``problems_for`` turns the key and a student id into the
    problems that student is graded on (``key_problems``: the same for all).

        >>> import bpcli, pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "key.toml").write_text('[[problem]]\\nname = "p"\\nexpr = "x * y"\\n'
        ...                                     'inputs = { x = 3, y = 2 }\\nanswers = ["dx", "dy"]\\n')
        >>> _ = (folder / "ada.toml").write_text('[[problem]]\\nname = "p"\\nexpect = { dx = 2, dy = 4 }\\n')
        >>> r = bpcli.grade(folder / "key.toml", [folder / "ada.toml"])
        >>> [(s.student, s.score, s.max_score) for s in r.students]
        [('ada', 0.5, 1.0)]
    """
    key = key if isinstance(key, Key) else load_key(key, limits, max_length)
    # The key among the submissions (bpcli grade course/key.toml course/*) is no student's.
    paths = [path for path in map(path_text, submissions) if not _is_file(path, key.path)]
    ids = [student_id(path) for path in paths]
    for student, count in Counter(ids).items():
        if count > 1:
            raise BpcliError(f"two submissions belong to the student '{printable(student)}': one submission per "
                             "student (the id is the file's stem or the folder's name)")
    students = [grade_student(problems_for(key, student), student, path, key.limits, key.max_length)
                for student, path in zip(ids, paths)]
    return GradeResult(key.path, key.problems, students)


def _is_file(path: str, file: str) -> bool:
    try:
        return os.path.samefile(path, file)
    except OSError:  # a submission that is not there is that student's zero, below
        return False


def student_id(path: str) -> str:
    """The student a submission belongs to: a folder's name, or a file's name without its suffix."""
    try:
        folder = is_directory(path)
    except OSError:  # a name too long, say: read as a file, and that student's zero says why (Submission.read)
        folder = False
    return path_name(path) if folder else path_stem(path)


def grade_student(prepared: list[Prepared], student: str, path: str, limits: Limits = Limits(),
                  max_length: int = DEFAULT_MAX_LENGTH) -> StudentGrade:
    """One student's grade; a submission that cannot be read is a zero with its message."""
    try:
        submission = Submission.read(path)
    except BpcliError as error:
        zeros = [_zero(problem, "not graded: the submission could not be read") for problem in prepared]
        return StudentGrade(student, path, zeros, error=error.render())
    marks = [_mark(problem, index, submission, limits, max_length) for index, problem in enumerate(prepared, start=1)]
    known = {problem.problem.name for problem in prepared}
    unknown = [name for name in submission.tables if name not in known]
    notes = [*submission.notes, *(f"ignored: no problem of the key is named '{printable(name)}'" for name in unknown)]
    return StudentGrade(student, path, marks, notes=notes)


class Submission(Record):
    """What a student handed in: their problems by name, and the folder their files may be read from."""

    tables: dict[str, dict[str, Any]]
    folders: Folders  # where their @ paths lead: the folder handed in
    alone: bool  # an answers file handed in alone, which may read no other file
    notes: list[str]
    code: str | None = None  # a Python file handed in alone: every file the key picks a function from

    @classmethod
    def read(cls, path: str) -> Submission:
        """The submission at ``path``, or a BpcliError that makes it that student's zero: also where the file
        system will not say what is there (a folder that may not be searched, a name too long), which is
        no reason to stop grading the others."""
        try:
            return cls._read(path)
        except OSError as error:
            raise BpcliError(f"cannot read {error.filename or path}: {error.strerror or error}") from None

    @classmethod
    def _read(cls, path: str) -> Submission:
        if path_suffix(path) == PYTHON and not is_directory(path):  # read, and parsed, by each problem picking from it
            if not is_file(path):
                raise BpcliError(f"cannot read {path}: no such file")
            return cls({}, _own(path), True, [], code=path)
        if not is_directory(path):
            return cls._of(read_toml(path, MAX_SUBMISSION_BYTES, raise_with=""), path, alone=True)
        answers = joined(path, SUBMISSION_ANSWERS)
        # Not there, not even as a broken link: code files only, the backward passes the key names.
        if file_status(answers) is None and file_status(answers, links=False) is None:
            return cls({}, _own(answers), False, [f"no {SUBMISSION_ANSWERS} in the folder"])
        inside = _own(answers).resolve(SUBMISSION_ANSWERS)  # a link out of the folder is refused
        return cls._of(read_toml(inside, MAX_SUBMISSION_BYTES, raise_with=""), answers, alone=False)

    @classmethod
    def _of(cls, document: dict[str, Any], path: str, alone: bool) -> Submission:
        notes = [f"ignored: top-level key '{printable(key)}'" for key in sorted(set(document) - {"problem"})]
        tables = document.get("problem")
        if not isinstance(tables, list) or not tables:
            raise BpcliError(f"{path} has no answers: write each problem as a [[problem]] table with its name and "
                             "expect")
        found: dict[str, dict[str, Any]] = {}
        for index, table in enumerate(tables, start=1):
            if not isinstance(table, dict) or not isinstance(table.get("name"), str):
                notes.append(f"ignored: problem {index} has no name")
            elif table["name"] in found:
                notes.append(f"ignored: a second problem named '{printable(table['name'])}'")
            else:
                found[table["name"]] = table
        return cls(found, _own(path), alone, notes)

    def hands_in(self, problem: KeyProblem) -> bool:
        """Whether it may hold the backward pass (or loss function) ``problem`` asks for, answered or not."""
        if problem.picks is None:
            return False
        return problem.function is not None if self.code is not None else not self.alone

    def located(self, text: str) -> str:
        """A text the student wrote; an @ path is refused for an answers file handed in alone."""
        if self.alone and text.strip().startswith("@"):
            raise BpcliError(f"{text.strip()}: an answers file handed in alone reads no other file (hand in a "
                             f"folder with {SUBMISSION_ANSWERS} and your files)")
        return text


def _own(answers: str) -> Folders:
    """The student's folder: where their @ paths may lead, and nowhere else."""
    return Folders.of(answers, advice=" (a student's files stay in their own folder)")


def _zero(problem: Prepared, *notes: str) -> ProblemMark:
    return ProblemMark(problem.problem.name, 0.0, problem.problem.points, problem.problem.hidden, 0,
                       problem.expectations, notes=list(notes))


def _mark(prepared: Prepared, index: int, submission: Submission, limits: Limits, max_length: int) -> ProblemMark:
    """The student's mark on one problem: points × expectations met / expectations."""
    key = prepared.problem
    table = submission.tables.get(key.name)
    if table is None and not submission.hands_in(key):
        return _zero(prepared, "not answered")
    table = table or {}
    # a loss problem's answers are what the student's function returns: none are written
    allowed = LOSS_KEYS if key.loss else STUDENT_KEYS | (TEMPLATE_KEYS if key.exercise else set())
    notes = [f"ignored: {printable(name)} (the key sets it)" for name in sorted(set(table) - allowed)]
    backward: str | None
    try:
        if key.loss is not None:
            graded, label = _loss_checked(prepared, index, table.get("loss"), submission, limits, max_length)
            if graded is None:
                return _zero(prepared, *notes, f"no loss function ({printable(label)})")
            result, backward = graded, None  # the key asks for no backward pass besides the loss function
        else:
            expect, unused = _answers(prepared, table.get("expect", {}), submission, limits)
            notes += unused
            if key.function is None:
                backward, label = _backward(prepared, table.get("backward"), submission, max_length)
                problem = replace(prepared.checked, expect=expect, backward=backward,
                                              backward_label=label)
            else:
                code, label = _backward_function(prepared, table.get("backward"), submission, max_length)
                backward = None if code is None else code.backward
                problem = replace(prepared.checked, expect=expect, code=code or prepared.checked.code)
            result = check_against(problem, prepared.truth, index, prepared.upstream)
    except BpcliError as error:
        return replace(_zero(prepared, "not graded"), error=error.render(), notes=notes)
    answered = {_target(prepared, outcome) for outcome in result.outcomes if _answers_key(prepared, outcome)}
    notes += [f"{printable(answer)} not answered" for target, answer in prepared.targets.items()
              if target not in answered]
    if key.backward and backward is None:
        notes.append(f"no backward pass ({printable(label)})")
    met, total = _met(prepared, result), prepared.expectations
    score = round(key.points * met / total, 4) if total else key.points
    return ProblemMark(key.name, score, key.points, key.hidden, met, total, result, notes=notes)


def _answers(prepared: Prepared, expect: Any, submission: Submission,
             limits: Limits) -> tuple[dict[str, Any], list[str]]:
    """The student's answers to what the key asks (read now, @ files inside their folder), and notes on the rest."""
    if not isinstance(expect, dict):
        raise BpcliError("expect must be a table, such as expect = { dx = 2 }")
    reader = ValueReader(max_elements=limits.max_elements)
    chosen: dict[str, Any] = {}
    notes = []
    for key, value in expect.items():
        try:
            target: Target | None = resolve(key, prepared.truth)
        except BpcliError:
            target = None
        if target not in prepared.targets:
            notes.append(f"ignored: {printable(key)} (not asked for)")
        elif prepared.problem.exercise is not None and _unfilled(value):
            continue  # a blank of the sheet left as it came: not answered (the others still count)
        elif isinstance(value, str):
            chosen[key] = expected_value(submission.folders, reader, key, submission.located(value))
        else:
            chosen[key] = value
    return chosen, notes


def _unfilled(value: Any) -> bool:
    """Whether an answer to an exercise is the blank of its sheet, left as it came."""
    from bpcli.analyses.exercise import UNFILLED  # only a key with an [exercise] has blanks (start-up)

    return bool(value == UNFILLED)


def _backward(prepared: Prepared, written: Any, submission: Submission, max_length: int) -> tuple[str | None, str]:
    """The student's backward pass for a problem whose key asks for one: its text (None: not handed in), its label."""
    name = prepared.problem.backward
    if name is None:
        return None, "backward file"
    if written is not None:  # the student says where it is
        if not isinstance(written, str) or not written.strip().startswith("@"):
            raise BpcliError('backward must name your file, such as backward = "@backward.py"')
        return read_text(submission.folders, submission.located(written), max_length, "backward"), written.strip()[1:]
    if submission.alone or file_status(joined(submission.folders.base, name)) is None:
        return None, name
    return read_text(submission.folders, "@" + name, max_length, "backward"), name


def _backward_function(prepared: Prepared, written: Any, submission: Submission,
                       max_length: int) -> tuple[StudentCode | None, str]:
    """The student's backward function, paired with the key's forward function (None: not handed in), its label."""
    function, label = _student_function(prepared, written, submission, max_length)
    return None if function is None else _paired(prepared, function), label


def _parameters_text(parameters: Sequence[str]) -> str:
    """"1 parameter (x)", "2 parameters (x, y)"."""
    return f"{len(parameters)} parameter{'' if len(parameters) == 1 else 's'} ({', '.join(parameters)})"


def _student_function(prepared: Prepared, written: Any, submission: Submission,
                      max_length: int) -> tuple[Function | None, str]:
    """The student's function the key picks (None: not handed in), and its label.

    It is read from the file the key names in the student's folder (or the file they name, inside it),
    or from the Python file they handed in alone; parsed, never run.
    """
    from bpcli.engine.syntax.function_spec import split_spec  # only where a function is picked (start-up)
    from bpcli.engine.syntax.functions import read_function

    assert prepared.problem.function is not None  # _mark asks only then
    (path, name), label = prepared.problem.function, prepared.problem.picks or ""
    if written is not None:  # the student says where it is
        mine = picked(submission.located(written)) if isinstance(written, str) else None
        if mine is None:
            raise BpcliError(f'{prepared.problem.field} must pick your function, such as '
                             f'{prepared.problem.field} = "@{label}"')
        path, name = split_spec(mine) or (path, name)  # picked() has made sure that it splits
        label = mine
    elif submission.code is not None:
        path, label = path_name(submission.code), f"{path_name(submission.code)}:{name}"
    elif submission.alone or file_status(joined(submission.folders.base, path)) is None:
        return None, label
    text = read_text(submission.folders, "@" + path, max_length, prepared.problem.field)
    return read_function(text, name, path), label


def _loss_checked(prepared: Prepared, index: int, written: Any, submission: Submission, limits: Limits,
                  max_length: int) -> tuple[ProblemResult | None, str]:
    """The student's loss function graded against the key's loss (None: not handed in), and its label.

    Their loss and the gradients they return are compared with the truth, each gradient by its position
    (the first the gradient of the key's first parameter, ...), at the line that computes it; their
    gradient lines read their own forward values (probs), so they are checked line by line against
    their own forward lines, which names the line that goes wrong.
    """
    from bpcli.analyses.student_code import loss_code, loss_line  # only for a student's loss function (start-up)

    function, label = _student_function(prepared, written, submission, max_length)
    if function is None:
        return None, label
    checked, parameters = prepared.checked, _parameters(prepared)
    if len(function.parameters) != len(parameters):
        raise BpcliError(f"{function.label}: {function.name} takes {_parameters_text(function.parameters)}, "
                         f"but the key's loss takes {_parameters_text(parameters)}, in that order")
    values = {mine: checked.values[theirs] for mine, theirs in zip(function.parameters, parameters)
              if theirs in checked.values}
    own = check_problem(replace(checked, values=values, expect={}, upstream=None,
                                            code=loss_code(function), fills=None), index, limits)
    returned = {outcome.name: outcome for outcome in own.outcomes if outcome.expected is not None}
    output = prepared.truth.result.output
    answers: dict[str, Any] = {output: computed(own.value)}
    lines: dict[str, int | None] = {output: loss_line(function)}
    for mine, theirs in zip(function.parameters, parameters):
        if mine in returned and "d" + theirs in prepared.targets.values():
            answers["d" + theirs], lines["d" + theirs] = computed(returned[mine].expected), returned[mine].line
    # The key's loss function's own gradient lines are not the truth: its gradients are the engine's.
    truth_code = None if checked.code is None else replace(checked.code, backward=None)
    graded = check_against(replace(checked, expect=answers, code=truth_code), prepared.truth, index,
                           prepared.upstream)
    outcomes = [replace(outcome, source=label, line=lines[outcome.key]) for outcome in graded.outcomes]
    return replace(graded, outcomes=outcomes, backward=own.backward), label


def _parameters(prepared: Prepared) -> tuple[str, ...]:
    """The key's forward pass's parameters, in order: its forward function's, or its expression's inputs."""
    code = prepared.checked.code
    return code.forward.parameters if code is not None else tuple(prepared.checked.values)


def _paired(prepared: Prepared, backward: Function) -> StudentCode:
    """The student's backward function with the key's forward pass: its forward function, or its expression,
    whose parameters are the inputs in the order of ``inputs`` and whose cache holds them all in that order."""
    from bpcli.analyses.student_code import Signature, paired  # only for a student's backward function (start-up)

    checked = prepared.checked
    if checked.code is not None:
        return paired(checked.code.forward, checked.code.program, backward)
    inputs = _parameters(prepared)
    return paired(Signature(f"the key's problem '{prepared.problem.name}'", "the key's expression", inputs, inputs),
                  checked.expression, backward)


def _target(prepared: Prepared, outcome: Outcome) -> Target:
    """What an answer checked: its key read again (a stage's cell is named by its stage as well as its input)."""
    return resolve(outcome.key, prepared.truth)


def _answers_key(prepared: Prepared, outcome: Outcome) -> bool:
    """Whether an outcome answers what the key asks (an answer, or what a student's loss function returns),
    rather than a gradient of their backward pass."""
    return outcome.source == "expect" or prepared.problem.loss is not None


def _met(prepared: Prepared, result: ProblemResult) -> int:
    """The expectations met: the answers asked for, and the gradients of the inputs from a backward pass."""
    met = 0
    for outcome in result.outcomes:
        if not outcome.passed:
            continue
        if _answers_key(prepared, outcome):
            met += _target(prepared, outcome) in prepared.targets
        else:
            met += outcome.name in prepared.gradients
    return met

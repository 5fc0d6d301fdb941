"""Checking answers: expected values and gradients, a student's backward pass, and what went wrong.

    >>> import bpcli
    >>> r = bpcli.check("q = x + y; f = q * z", x=-2, y=5, z=-4, expect={"dx": -4, "dz": 3, "q": 3})
    >>> r.passed, r.exit_code
    (True, 0)

An expectation ``NAME`` is the forward value of an input or a stage; ``dNAME``
(or ``d(NAME)``, always unambiguous) is the gradient of the output with
respect to it. Two more read one cell of a stage's row of the grad table:
``dq/dx`` (or ``d(q)/d(x)``) the local gradient of stage q with respect to its
input x, and ``dx via q`` (or ``d(x) via q``) the downstream gradient x
receives from q (local x upstream). Numbers are compared by the digits written (bpcli.analyses.expected).
Every wrong gradient gets a diagnosis (bpcli.analyses.diagnosis); a backward file is
checked line by line (bpcli.analyses.backward_file).
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any, Callable, Mapping

from bpcli.analyses.diagnosis import Diagnosis, Truth, diagnose, summarised
from bpcli.analyses.expected import (
    DIGITS,
    agrees,
    Expected,
    Rule,
    computed,
    from_python,
    within,
)
from bpcli.analyses.grad import differentiate, grad
from bpcli.analyses.kinks import accepted_lines
from bpcli.analyses.result import GradResult, Result
from bpcli.engine.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK, BpcliError, placed
from bpcli.engine.formulas import gate_text
from bpcli.engine.limits import Limits
from bpcli.engine.problem import Notice, collector_paused, parse
from bpcli.engine.problem import Problem as Circuit
from bpcli.engine.record import NamedTuple, Record, field, replace
from bpcli.engine.shapes import show
from bpcli.engine.syntax.ast import Assign
from bpcli.engine.values import ValueReader

if TYPE_CHECKING:
    from bpcli.analyses.backward_file import BackwardCheck
    from bpcli.analyses.student_code import StudentCode

# Patterns, compiled (by re, once) the first time a key that may match one is read: most keys are dx or q (start-up).
_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:#[0-9]+)?"  # c#1: a version of a reassigned name
_EXPLICIT_GRADIENT = rf"d\(\s*({_NAME})\s*\)\Z"
# dNAME or d(NAME) inside the keys of a stage's cells: the d always comes off, so dq/dx is never ambiguous.
_D_NAME = rf"d(?:\(\s*({_NAME})\s*\)|({_NAME}))"
_LOCAL = rf"{_D_NAME}\s*/\s*{_D_NAME}\Z"  # dq/dx: the local gradient of stage q for input x
_SHARE = rf"{_D_NAME}\s+via\s+({_NAME})\Z"  # dx via q: the downstream gradient x receives from q


class Outcome(Record, frozen=True):
    """One checked expectation: the student's number against bpcli's."""

    key: str  # as written: "dx", "d(x)", "q"
    name: str  # the value it concerns
    gradient: bool  # the gradient with respect to the value, or the value itself
    expected: Any  # the student's number (None: a backward file never assigns it)
    written: str  # the expected number as written
    actual: Any  # bpcli's number
    allowed: Any  # the largest difference that passes
    passed: bool
    source: str = "expect"  # "expect", or the backward file that computed the number
    line: int | None = None  # the backward file's last line assigning it
    note: str = ""
    diagnosis: Diagnosis | None = None
    # A local gradient (dq/dx, not a gradient) or a downstream share (dx via q, a gradient): the
    # stage whose cell it reads; ``name`` is then the stage's input.
    stage: str | None = None

    @property
    def kind(self) -> str:
        """value, gradient, local (a local gradient) or downstream (what an input receives from one stage)."""
        if self.stage is None:
            return "gradient" if self.gradient else "value"
        return "downstream" if self.gradient else "local"


class Problem(Record):
    """One thing to check: an expression at a point, with expectations and perhaps a backward file."""

    expression: str
    values: Mapping[str, Any] = field(default_factory=dict)
    expect: Mapping[str, Any] = field(default_factory=dict)
    backward: str | None = None  # the text of the student's backward pass
    backward_label: str = "backward file"
    upstream: Any = None
    rule: Rule = DIGITS
    name: str | None = None
    code: StudentCode | None = None  # a student's functions (then expression only labels the problem)
    seed: int = 0  # the seed of a random upstream gradient (student code with a non-scalar output)
    fills: ValueReader | None = None  # the generator the inputs' random fills came from, which it continues


class UpstreamUsed(Record, frozen=True):
    """The gradient that flowed into the output, and where it came from."""

    source: str  # one (a scalar output), given (--upstream V), ones, or random (student code, seeded)
    name: str  # its name in the backward pass: dout
    value: Any = None  # None for the number 1
    seed: int | None = None  # for random


class ProblemResult(Record):
    index: int
    name: str | None
    expression: str
    outcomes: list[Outcome] = field(default_factory=list)
    output: str | None = None
    value: Any = None
    inputs: dict[str, Any] = field(default_factory=dict)
    backward: BackwardCheck | None = None
    error: str | None = None  # bad input: the problem could not be checked
    warnings: list[Notice] = field(default_factory=list)
    unchecked: int = 0  # with an error: the expectations it gave, each of them counted as not met
    file: str | None = None  # the answers file it comes from, when several are checked
    upstream: UpstreamUsed | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(outcome.passed for outcome in self.outcomes)

    @property
    def met(self) -> int:
        return sum(outcome.passed for outcome in self.outcomes)

    @property
    def counted(self) -> int:
        """The expectations it adds to a score: a problem that could not be checked fails at least one."""
        return len(self.outcomes) if self.error is None else max(1, self.unchecked, len(self.outcomes))


class CheckResult(Result, Record):
    """Every problem checked, the score, and the exit code a script acts on.

    ``problems`` has a ProblemResult per problem (one for ``bpcli.check``):
    its ``outcomes`` (an Outcome per expectation: expected, actual, allowed,
    passed, diagnosis), its ``backward`` file check and its ``error`` if it
    could not be checked.

        >>> import bpcli
        >>> r = bpcli.check("q = x + y; f = q * z", x=-2, y=5, z=-4, expect={"dx": -4, "dz": -4})
        >>> r.passed, r.exit_code, r.score
        (False, 1, {'problems': 1, 'passed': 0, 'expectations': 2, 'met': 1})
        >>> r.problems[0].outcomes[1].diagnosis.mistake
        'multiply-not-swapped'
    """

    problems: list[ProblemResult]
    rule: Rule = DIGITS
    answers: str | None = None  # the answers file, when there is one
    # Several answers files: each one's result (their problems, together, are ``problems``).
    files: list[CheckResult] = field(default_factory=list)
    error: str | None = None  # an answers file that could not be read at all, among several

    @property
    def passed(self) -> bool:
        return self.error is None and all(problem.passed for problem in self.problems) and all(
            file.passed for file in self.files)

    @property
    def exit_code(self) -> int:
        """0 when every expectation is met, 1 when one is not, 2 when a problem (or a file) could not be checked."""
        if self.error or any(problem.error for problem in self.problems) or any(file.error for file in self.files):
            return EXIT_BAD_INPUT
        return EXIT_OK if self.passed else EXIT_CHECK_FAILED

    @property
    def score(self) -> dict[str, int]:
        """Problems right, and expectations met; a problem that could not be checked is wrong in both."""
        return score(self.problems)


def score(problems: list[ProblemResult]) -> dict[str, int]:
    """How many problems there are and are right, how many expectations there are and are met."""
    return {
        "problems": len(problems),
        "passed": sum(problem.passed for problem in problems),
        "expectations": sum(problem.counted for problem in problems),
        "met": sum(problem.met for problem in problems),
    }


def check(
    expression: str,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    expect: Mapping[str, Any] | None = None,
    backward: str | None = None,
    backward_label: str = "backward file",
    rtol: float | None = None,
    atol: float | None = None,
    upstream: Any = None,
    limits: Limits = Limits(),
    code: StudentCode | None = None,
    seed: int = 0,
    fills: ValueReader | None = None,
    **values: Any,
) -> CheckResult:
    """Check expected values and gradients of ``expression`` (and a backward pass) at the given point.

    ``expect`` maps ``NAME``, ``dNAME`` or ``d(NAME)`` to a number, a nested
    list, a numpy array or a value text (``"0.39"``, ``"@dW.npy"``). A float
    is held to the digits of its shortest text; ``rtol``/``atol`` replace the
    digits rule. ``backward`` is the text of a backward pass in the notes'
    style. ``code`` is a student's forward function and perhaps its backward
    function (bpcli.analyses.student_code), checked in place of ``expression``
    (which then labels the problem); for it, a non-scalar output with no
    ``upstream`` gets random normal values seeded with ``seed`` (drawn from
    ``fills``, the ValueReader that read the inputs, after their random
    fills, when it is given). Bad input raises BpcliError.

        >>> import bpcli
        >>> backward = "dq = z\\ndz = q\\ndx = dq\\ndy = dq"
        >>> bpcli.check("q = x + y; f = q * z", x=-2, y=5, z=-4, backward=backward).passed
        True
        >>> bpcli.check("x * y", x=3, y=2, expect={"dx": 2.0}, rtol=1e-9).exit_code
        0
    """
    problem = Problem(expression, {**(bindings or {}), **values}, dict(expect or {}), backward, backward_label,
                      upstream, Rule(rtol, atol), code=code, seed=seed, fills=fills)
    if not problem.expect and problem.backward is None and code is None:
        raise BpcliError("nothing to check: give an expectation (--expect dx=-4) or a backward file (--backward PATH)")
    if code is not None and code.backward is not None and problem.backward is not None:
        raise BpcliError(f"{code.forward.label} computes its own gradients after its output: give no backward pass "
                         "with it")
    if not problem.expect and code is not None and code.backward is None and problem.backward is None:
        raise BpcliError("nothing to check: give an expectation (--expect dx=...) or the backward function "
                         "(--backward FILE.py:NAME)")
    return CheckResult([check_problem(problem, limits=limits)], problem.rule)


def check_problem(problem: Problem, index: int = 1, limits: Limits = Limits()) -> ProblemResult:
    """Check one problem; bad input raises BpcliError."""
    result, upstream = differentiated(problem, limits)
    return check_against(problem, Truth(result), index, upstream)


def check_against(
    problem: Problem, truth: Truth, index: int = 1, upstream: UpstreamUsed | None = None,
) -> ProblemResult:
    """Check ``problem``'s expectations and backward pass against ``truth``, its expression already differentiated.

    ``truth`` is only read, so one truth serves many students' answers to the
    same problem (``bpcli grade``). ``upstream``: the upstream gradient it was
    differentiated with, as shown (by default, as ``problem`` gives it).
    """
    result = truth.result
    if upstream is None:
        upstream = _upstream_given(problem, result)
    expected = _expectations(problem.expect, truth)
    student = {target.node: exp for target, (_, exp) in expected.items() if target.gradient and target.position is None}
    sides = cache(lambda: _sides_explain(truth, student, problem.rule))  # asked only when an answer is wrong
    outcomes = [_outcome(truth, target, key, exp, problem.rule, sides) for target, (key, exp) in expected.items()]
    outcomes = [_diagnosed(outcome, truth, student, problem.rule) for outcome in outcomes]
    backward = None
    code = problem.code
    if code is not None and code.backward is not None:
        from bpcli.analyses.backward_file import check_backward  # only for a backward pass (start-up)
        from bpcli.analyses.student_code import check_used  # only for a student's functions (start-up)

        check_used(code, truth.names)
        backward = check_backward(code.backward, truth, problem.rule, code.backward_label, code.scope)
    elif problem.backward is not None:
        from bpcli.analyses.backward_file import check_backward  # only for a backward pass (start-up)

        backward = check_backward(problem.backward, truth, problem.rule, problem.backward_label)
    if backward is not None:
        backward = accepted_lines(backward, truth, problem.rule)
        outcomes += _backward_outcomes(backward, truth, problem.rule)
    return ProblemResult(
        index=index, name=problem.name, expression=problem.expression, outcomes=outcomes,
        output=result.output, value=result.value, inputs=result.inputs, backward=backward,
        warnings=_warnings(result.warnings, code), upstream=upstream,
    )


def _warnings(warnings: list[Notice], code: StudentCode | None) -> list[Notice]:
    """The forward pass's warnings, less "unused" for a loss function's values its gradient lines read."""
    if code is None or not code.read_later:
        return warnings
    return [w for w in warnings if not (w.kind == "unused-stage" and w.stage in code.read_later)]


def differentiated(problem: Problem, limits: Limits = Limits()) -> tuple[GradResult, UpstreamUsed]:
    """The forward and backward pass of the problem, and the upstream gradient it used: the one truth
    that check and grade both compare with (a student's non-scalar forward function gets the seeded random
    upstream, drawn after the inputs' random fills)."""
    code = problem.code
    if code is None:
        result = grad(problem.expression, problem.values, upstream=problem.upstream, limits=limits)
        return result, _upstream_given(problem, result)
    with collector_paused():
        try:
            prepared = Circuit.of(code.program, problem.values, limits=limits)
        except BpcliError as error:  # the student's file, at its line
            raise placed(error, code.forward.label, code.program) from None
        name = "d" + prepared.output if code.scope is None else code.scope.upstream
        if problem.upstream is not None or prepared.graph.shape(prepared.graph.output) == ():
            value = prepared.upstream(problem.upstream)
            return differentiate(prepared, value), _used(problem.upstream, name, value)
        # As the assignment's gradient checks do (dout = np.random.randn(*out.shape) after the inputs'
        # own random values): random normal values from the inputs' generator (docs/commands/check.md).
        reader = problem.fills or ValueReader(seed=problem.seed, max_elements=limits.max_elements)
        shape = prepared.graph.shape(prepared.graph.output)
        value = prepared.upstream(reader.read("the upstream gradient", "randn:" + ",".join(map(str, shape))))
        return differentiate(prepared, value), UpstreamUsed("random", name, value, reader.seed)


def _upstream_given(problem: Problem, result: GradResult) -> UpstreamUsed:
    """The upstream gradient of an expression differentiated as ``problem`` says."""
    given = None if problem.upstream is None else result.value_of(result.adjoints.seed)
    return _used(problem.upstream, "d" + result.output, given)


def _used(given: Any, name: str, value: Any) -> UpstreamUsed:
    """The upstream gradient as given: none (the number 1), "ones", or a value."""
    if given is None:
        return UpstreamUsed("one", name)
    return UpstreamUsed("ones" if isinstance(given, str) and given == "ones" else "given", name, value)


# ---- expectations --------------------------------------------------------------------


class Target(NamedTuple):
    """What an expectation checks: a value or gradient of a node, or a cell of a stage's row."""

    node: int  # the value's node, or the stage's
    gradient: bool  # a gradient (dNAME, dx via q) or a value (NAME, the local gradient dq/dx)
    position: int | None = None  # the stage's input, for a local gradient or a downstream share


def _expectations(expect: Mapping[str, Any], truth: Truth) -> dict[Target, tuple[str, Expected]]:
    """Each expectation by what it checks -> (key as written, expected value)."""
    found: dict[Target, tuple[str, Expected]] = {}
    for key, value in expect.items():
        target = resolve(key, truth)
        if target in found:
            raise BpcliError(f"{key} and {found[target][0]} expect the same thing; give it once")
        found[target] = (key, from_python(key, value))
    return found


def resolve(key: str, truth: Truth) -> Target:
    """The target of NAME, dNAME or d(NAME), and of a stage's cell: dq/dx or dx via q.

    Worked out once per key and truth: grade reads each student's keys several times.
    """
    found: dict[str, Target] = truth.__dict__.setdefault("_targets", {})
    if key not in found:
        found[key] = _resolved(key, truth)
    return found[key]


def _resolved(key: str, truth: Truth) -> Target:
    names = truth.names
    key = key.strip()
    cell = ("/" in key and re.match(_LOCAL, key)) or ("via" in key and re.match(_SHARE, key))
    if cell:
        return _cell(key, cell, truth)
    explicit = key.startswith("d(") and re.match(_EXPLICIT_GRADIENT, key)
    if explicit:
        name = explicit.group(1)
        if name not in names:
            raise BpcliError(f"d({name}): the program has no value {name}; {_known(truth)}")
        return Target(names[name], True)
    as_gradient = key.startswith("d") and key[1:] in names
    if key in names and as_gradient:
        raise BpcliError(
            f"{key} is ambiguous: the program has a value named {key} and a value named {key[1:]}; "
            f"write d({key[1:]})=V for the gradient with respect to {key[1:]} (to check the value of "
            f"{key}, give that stage another name)"
        )
    if key in names:
        return Target(names[key], False)
    if as_gradient:
        return Target(names[key[1:]], True)
    raise BpcliError(f"{key} is not a value of the program nor the gradient of one; {_known(truth)}")


def _cell(key: str, match: re.Match[str], truth: Truth) -> Target:
    """A local gradient dq/dx (stage, input) or a downstream share dx via q (input, stage)."""
    local = match.re.pattern == _LOCAL
    first = match.group(1) or match.group(2)
    stage, name = (first, match.group(3) or match.group(4)) if local else (match.group(3), first)
    node = truth.names.get(stage)
    if node is None or not truth.graph.is_gate(node):
        raise BpcliError(f"{key}: the program has no stage {stage}; {_known(truth)}")
    inputs = truth.graph.nodes[node].inputs
    positions = [p for p, used in enumerate(inputs) if used == truth.names.get(name)]
    if len(positions) != 1:
        reason = "uses it more than once (each use has its own cell)" if positions else "does not read it"
        raise BpcliError(f"{key}: {_row(truth, node)} {reason}; a stage's cell is checked for an input it reads once")
    found = Target(node, not local, positions[0])
    if _stage_cell(truth, found) is None:
        what = "local gradient" if local else "downstream gradient"
        raise BpcliError(f"{key}: {_row(truth, node)} has no {what} for {name} (bpcli grad shows its row)")
    return found


def _row(truth: Truth, node: int) -> str:
    """A stage as a message names it (written out only for a message: it costs a gate's text)."""
    return f"stage {truth.name(node)} = {gate_text(truth.graph, node)}"


def _stage_cell(truth: Truth, target: Target) -> Any:
    """The local gradient or downstream gradient in a stage's row of the grad table, as the table shows it."""
    assert target.position is not None
    stage = truth.result.stages[truth.result.stage_numbers[target.node] - 1]
    return (stage.downstream if target.gradient else stage.local)[target.position]


def _known(truth: Truth) -> str:
    described = [name if not truth.graph.is_gate(node) else f"{name} = {gate_text(truth.graph, node)}"
                 for name, node in truth.names.items()]
    text = (f"its values are {', '.join(described)} (NAME=V checks a value, dNAME=V or d(NAME)=V "
            "the gradient with respect to it, dq/dx=V the local gradient of stage q for its input x, "
            "dx via q=V the downstream gradient x receives from q)")
    if not any(isinstance(statement, Assign) for statement in parse(truth.result.source).statements):
        text += f"; to name a stage, write the expression as a staged program with names of your own: {_staged(truth)}"
    return text


STAGED_SHOWN = 12  # stages of a bare expression written out in the hint; the rest is "..."


def _staged(truth: Truth) -> str:
    """The user's expression as a staged program, one statement per gate: t1 = x + y; f = t1 * z."""
    graph = truth.graph
    stages = [f"{graph.nodes[node].name} = {gate_text(graph, node)}" for node in graph.stages]
    if len(stages) > STAGED_SHOWN:
        stages = [*stages[:STAGED_SHOWN - 1], "...", stages[-1]]
    return "; ".join(stages)


def _outcome(truth: Truth, target: Target, key: str, expected: Expected, rule: Rule,
             sides: Callable[[], bool]) -> Outcome:
    """The outcome of one expectation; ``sides()``: whether a one-sided gradient at a kink may pass."""
    node, gradient, position = target
    if position is not None:
        actual = _stage_cell(truth, target)
        name, stage = truth.name(truth.graph.nodes[node].inputs[position]), truth.name(node)
    else:
        actual = truth.gradient(node) if gradient else truth.value(node)
        name, stage = truth.name(node), None
    allowed, passed, note = _compared(expected, actual, rule, "the expected value")
    if not passed and not note and gradient and position is None and sides():
        passed, note = _one_sided(truth, node, expected, rule)
    return Outcome(key, name, gradient, expected.value, expected.text, actual, allowed, passed, note=note,
                   stage=stage)


def _sides_explain(truth: Truth, gradients: Mapping[int, Expected], rule: Rule) -> bool:
    """Whether one choice of sides at the kinks gives all of a student's ``gradients`` together: only then
    is any of them accepted as one-sided (one side each for dx and dy of a tied max is no choice at all)."""
    return bool(gradients) and truth.one_sided.explains(gradients, rule)


def _one_sided(truth: Truth, node: int, expected: Expected, rule: Rule) -> tuple[bool, str]:
    """Whether a gradient that differs from bpcli's is a one-sided derivative at a kink, and the note then."""
    sided = truth.one_sided
    return (True, sided.note) if sided.accepts(node, expected, rule) else (False, "")


def _compared(expected: Expected, actual: Any, rule: Rule, what: str) -> tuple[Any, bool, str]:
    """The difference allowed, whether it passes, and a note when the shapes differ."""
    allowed = expected.allowed(actual, rule)
    shape = tuple(getattr(actual, "shape", ()))
    if expected.shape != shape:
        return allowed, False, f"{what} has shape {_shape(expected.shape)}, but bpcli's has {_shape(shape)}"
    return allowed, within(actual, expected.value, allowed), ""


def _diagnosed(outcome: Outcome, truth: Truth, student: Mapping[int, Expected], rule: Rule) -> Outcome:
    """A wrong gradient's diagnosis (a wrong shape too: db = dout, not summed, has one); a wrong array of
    values gets which of its elements are wrong. A stage's cell (a local gradient, a downstream share) gets none."""
    if outcome.passed or outcome.stage is not None:
        return outcome
    if not outcome.gradient:
        plain = Diagnosis(outcome.name, None, f"the value {outcome.key} is wrong")
        found = summarised(plain, outcome.expected, outcome.actual, outcome.allowed)
        return outcome if found is plain else replace(outcome, diagnosis=found)

    def matches(node: int, value: Any) -> bool:
        return agrees(value, student[node], rule)

    node = truth.names[outcome.name]
    diagnosis = diagnose(truth, node, student, matches)
    return replace(outcome, diagnosis=summarised(diagnosis, outcome.expected, outcome.actual, outcome.allowed))


def _backward_outcomes(backward: BackwardCheck, truth: Truth, rule: Rule) -> list[Outcome]:
    outcomes = []
    final = {node: computed(mine) for node, (mine, _) in backward.final.items()}
    sides = cache(lambda: _sides_explain(truth, final, rule))  # asked only when a gradient is wrong
    for node, (mine, line) in backward.final.items():
        name, actual = truth.name(node), truth.gradient(node)
        allowed, passed, note = _compared(computed(mine), actual, rule, f"your d{name}")
        if not passed and not note and sides():
            passed, note = _one_sided(truth, node, final[node], rule)
        diagnosis = None if passed else summarised(backward.diagnoses.get(node), mine, actual, allowed)
        outcomes.append(Outcome(
            "d" + name, name, True, mine, "", actual, allowed, passed,
            source=backward.label, line=line, note=note, diagnosis=diagnosis,
        ))
    for name in backward.missing:
        node = truth.names[name]
        outcomes.append(Outcome("d" + name, name, True, None, "", truth.gradient(node), None, False,
                                source=backward.label, note=f"the backward pass never assigns d{name}"))
    return outcomes


def _shape(shape: tuple[int, ...]) -> str:
    return show(shape)

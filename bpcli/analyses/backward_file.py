"""A student's backward pass, checked line by line against the truth.

The file is written in the lecture notes' style::

    dnum = invden                        # backprop f = num * invden
    dinvden = num
    dden = (-1.0 / (den**2)) * dinvden
    ...
    dx += ((1 - sigx) * sigx) * dsigx    # a fork: gradients add up

It is parsed by bpcli's own grammar and evaluated statement by statement,
never run as Python. A line may read the forward pass's values (inputs and
stages, by name), ``d<output>`` (the gradient flowing into the output, 1 for a
number) and whatever earlier lines assigned. ``dNAME`` for a value NAME of the
forward pass is its gradient; any other name is a helper.

Every gradient line is judged twice: with the student's own numbers, and with
the true gradients in place of those it reads. A line whose formula gives the
truth from true inputs is right, even when a wrong line above makes its number
wrong ("follows from line 3"); so the report names the first line that is
wrong in itself. At a fork, each line must add contributions the value really
receives; ``dx = ...`` where ``dx += ...`` was needed replaces the gradient
already there, and that line gets the fork hint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bpcli.analyses.diagnosis import (
    FORK_LESSON,
    Diagnosis,
    Truth,
    describe_fork,
    fork_subset,
    hint,
    total,
    use_readings,
)
from bpcli.analyses.expected import DIGITS, Rule, computed, within
from bpcli.engine.errors import BpcliError
from bpcli.engine.evaluate import evaluate
from bpcli.engine.lower import lower
from bpcli.engine.problem import infer_shapes
from bpcli.engine.shapes import value_shape
from bpcli.engine.syntax.ast import Assign, Program
from bpcli.engine.syntax.parser import parse


@dataclass(frozen=True)
class LineVerdict:
    """One statement of the backward file and what it did."""

    number: int  # the line in the file, 1-based
    text: str
    target: str
    node: int | None  # the forward value whose gradient it assigns; None for a helper
    value: Any  # the target's value after the line, with the student's numbers
    should_be: Any  # the true value it should leave there (None for a helper, or when unknown)
    status: str  # right, partial (a fork, not all added yet), wrong (in itself), follows (from a wrong line), helper
    note: str = ""
    diagnosis: Diagnosis | None = None


@dataclass
class BackwardCheck:
    """Every line's verdict, and each gradient the file leaves behind."""

    label: str  # the file's name, for the report
    lines: list[LineVerdict]
    final: dict[int, tuple[Any, int]]  # node -> (the student's gradient at the end, last line assigning it)
    diagnoses: dict[int, Diagnosis]  # node -> why its final gradient is wrong (only for wrong ones)
    missing: list[str]  # inputs whose gradient the file never assigns
    warnings: list[str] = field(default_factory=list)

    @property
    def first_wrong(self) -> LineVerdict | None:
        return next((line for line in self.lines if line.status == "wrong"), None)


@dataclass
class _Gradient:
    """What the file has done so far to one value's gradient."""

    accounted: frozenset[int] = frozenset()  # the true contributions its lines added
    lines: list[int] = field(default_factory=list)
    wrong: LineVerdict | None = None  # its first line that is wrong in itself
    follows: LineVerdict | None = None  # its first line made wrong by another line


def check_backward(source: str, truth: Truth, rule: Rule = DIGITS, label: str = "backward file") -> BackwardCheck:
    """Evaluate ``source`` line by line and compare every gradient it assigns with the truth."""
    try:
        return _Checker(source, truth, rule, label).run(parse(source))
    except BpcliError as error:  # the file's own error (a parse error, a name without a value): say which file
        if not error.message.startswith(label):
            error.message = f"{label}: {error.message}"
        raise


class _Checker:
    def __init__(self, source: str, truth: Truth, rule: Rule, label: str) -> None:
        self.source, self.truth, self.rule, self.label = source, truth, rule, label
        output = truth.name(truth.graph.output)
        forward = {name: truth.value(node) for name, node in truth.names.items()}
        self.mine: dict[str, Any] = {**forward, "d" + output: truth.seed}
        self.true: dict[str, Any] = {**forward, **{"d" + n: truth.gradient(i) for n, i in truth.names.items()}}
        self.true["d" + output] = truth.seed
        self.gradients: dict[int, _Gradient] = {}
        self.wrong_since: dict[str, int] = {}  # a name whose number is off -> the line that made it so
        self.verdicts: list[LineVerdict] = []
        self.warnings: list[str] = []

    def run(self, program: Program) -> BackwardCheck:
        for statement in program.statements:
            self.verdicts.append(self._line(statement))
        final = {node: (self.mine["d" + self.truth.name(node)], g.lines[-1]) for node, g in self.gradients.items()}
        diagnoses = {node: self._final_diagnosis(node, value) for node, (value, _) in final.items()
                     if not self._agree(value, self.truth.gradient(node))}
        missing = [self.truth.name(v) for v in self.truth.graph.variables if v not in self.gradients]
        return BackwardCheck(self.label, self.verdicts, final, diagnoses, missing, self.warnings)

    # ---- one statement -----------------------------------------------------------------

    def _line(self, statement: Any) -> LineVerdict:
        number = self.source.count("\n", 0, statement.span[0]) + 1
        if not isinstance(statement, Assign):
            raise BpcliError(
                f"line {number}: a backward file assigns gradients (dx = ... or dx += ...), "
                "not a bare expression", source=self.source, span=statement.span,
            )
        target = statement.target
        if target in self.truth.names:
            raise BpcliError(
                f"line {number}: {target} is a value of the forward pass; a backward file assigns "
                f"gradients (d{target} = ...) and helpers of its own", source=self.source, span=statement.target_span,
            )
        text = self.source[statement.span[0]:statement.span[1]]
        graph, reads = self._lower(statement, number)
        mine = self._evaluate(graph, self.mine, reads)
        if statement.accumulate and target not in self.mine:
            raise BpcliError(
                f"line {number}: {target} += ... but {target} has no value yet; the first gradient into "
                f"{target} is written {target} = ...", source=self.source, span=statement.target_span,
            )
        self.mine[target] = self._add(self.mine[target], mine, number) if statement.accumulate else mine
        node = self.truth.names.get(target[1:]) if target.startswith("d") else None
        if node is None:
            return self._helper(statement, graph, reads, number, text)
        return self._gradient_line(statement, graph, reads, number, text, node)

    def _helper(self, statement: Assign, graph: Any, reads: list[str], number: int, text: str) -> LineVerdict:
        target = statement.target
        if target.startswith("d") and len(target) > 1:
            self.warnings.append(
                f"line {number}: {target} is not the gradient of a value of the forward pass "
                f"(it has no value {target[1:]}); it is taken as a helper and not checked")
        try:
            true = self._evaluate(graph, self.true, reads)
            self.true[target] = self.true[target] + true if statement.accumulate else true
        except (BpcliError, ValueError):
            self.true[target] = self.mine[target]
        if self._agree(self.mine[target], self.true[target]):
            self.wrong_since.pop(target, None)
        else:
            self.wrong_since.setdefault(target, self._cited(reads + [target]) or number)
        return LineVerdict(number, text, target, None, self.mine[target], None, "helper")

    def _gradient_line(
        self, statement: Assign, graph: Any, reads: list[str], number: int, text: str, node: int
    ) -> LineVerdict:
        truth, target = self.truth, statement.target
        state = self.gradients.setdefault(node, _Gradient())
        parts = [value for _, value in truth.contributions(node)]
        before = total(parts[i] for i in state.accounted)
        own = self._own(graph, reads, target, before)
        after = None if own is None else (before + own if statement.accumulate else own)
        right = None if after is None else fork_subset(
            parts, after, lambda v: self._agree(after, v), keep=state.accounted)
        value = self.mine[target]
        if right is not None:
            state.accounted = frozenset(right)
            should_be = total(parts[i] for i in right)
            if self._agree(value, should_be):
                verdict = LineVerdict(number, text, target, node, value, should_be,
                                      "right" if len(right) == len(parts) else "partial",
                                      note=_partial_note(truth, node, right))
                self.wrong_since.pop(target, None)
            elif (cited := self._cited(reads + ([target] if statement.accumulate else []))) is not None:
                verdict = LineVerdict(number, text, target, node, value, should_be, "follows",
                                      note=f"right formula, but it reads wrong numbers (from line {cited})")
                state.follows = state.follows or verdict
                self.wrong_since[target] = cited
            else:
                verdict = self._read_too_early(number, text, target, node, value, should_be, reads)
                state.wrong = state.wrong or verdict
                self.wrong_since[target] = number
        else:
            verdict = self._wrong(statement, number, text, node, state, parts, before, after)
            state.wrong = state.wrong or verdict
            self.wrong_since[target] = number
        state.lines.append(number)
        return verdict

    def _wrong(self, statement: Assign, number: int, text: str, node: int, state: _Gradient,
               parts: list[Any], before: Any, after: Any) -> LineVerdict:
        """A line whose formula is wrong in itself: which mistake, if the numbers show one."""
        truth, target, name = self.truth, statement.target, self.truth.name(node)
        value = self.mine[target]
        if after is not None and not statement.accumulate and state.accounted:
            replaced = fork_subset(parts, after, lambda v: self._agree(after, v))
            if replaced is not None:
                lost = " and ".join(truth.contributions(node)[i][0] for i in sorted(state.accounted))
                detail = (f"this line replaces the gradient {lost} that line {_lines(state.lines)} put in "
                          f"{target} (write {target} += ... instead)")
                state.accounted |= frozenset(replaced)
                diagnosis = Diagnosis(name, "fork", f"line {number} overwrites {target} at a fork",
                                      hint(FORK_LESSON, detail), number)
                return LineVerdict(number, text, target, node, value, total(parts[i] for i in state.accounted),
                                     "wrong", diagnosis=diagnosis)
        if after is not None:
            added = after - before if statement.accumulate else after
            for position, use in enumerate(truth.uses(node)):
                if position in state.accounted:
                    continue
                for mistake, wrong, detail in use_readings(use):
                    if self._agree(added, wrong):
                        state.accounted |= {position}
                        diagnosis = Diagnosis(use.stage, mistake.kind, f"line {number} goes wrong at {use.where}",
                                              hint(mistake.lesson, detail), number)
                        should_be = total(parts[i] for i in state.accounted)
                        return LineVerdict(number, text, target, node, value, should_be, "wrong",
                                             diagnosis=diagnosis)
        diagnosis = Diagnosis(name, None, f"line {number} is wrong, and no common mistake explains its number",
                              None, number)
        return LineVerdict(number, text, target, node, value, truth.gradient(node), "wrong", diagnosis=diagnosis)

    def _final_diagnosis(self, node: int, value: Any) -> Diagnosis:
        state, truth, name = self.gradients[node], self.truth, self.truth.name(node)
        if state.wrong is not None:
            return state.wrong.diagnosis
        if state.follows is not None:
            line = state.follows.number
            return Diagnosis(name, None, f"d{name} follows from a wrong line above line {line}", None, line)
        parts = truth.contributions(node)
        if len(state.accounted) < len(parts) and _shape(value) == _shape(truth.gradient(node)):
            subset = tuple(sorted(state.accounted))
            missing = " and ".join(parts[i][0] for i in range(len(parts)) if i not in state.accounted)
            return Diagnosis(name, "fork", f"d{name} lacks the gradient {missing} after line {state.lines[-1]}",
                             hint(FORK_LESSON, describe_fork(truth, node, subset)), state.lines[-1])
        return Diagnosis(name, None, f"d{name} is wrong, and no common mistake explains its number",
                         None, state.lines[-1])

    # ---- helpers -------------------------------------------------------------------------

    def _own(self, graph: Any, reads: list[str], target: str, before: Any) -> Any:
        """The line's right-hand side computed from the true gradients (None if it cannot be)."""
        try:
            return self._evaluate(graph, {**self.true, target: before}, reads)
        except (BpcliError, ValueError):
            return None

    def _lower(self, statement: Assign, number: int) -> tuple[Any, list[str]]:
        graph = lower(Program((statement.value,)), self.source)
        reads = []
        for variable in graph.variables:
            name = graph.nodes[variable].name
            if name not in self.mine:
                raise BpcliError(f"line {number}: {name} has no value here", source=self.source,
                                 span=graph.nodes[variable].span, hint=self._unknown_hint(name))
            reads.append(name)
        return graph, reads

    def _unknown_hint(self, name: str) -> str:
        output = self.truth.name(self.truth.graph.output)
        if name.startswith("d") and name[1:] in self.truth.names:
            return (f"a gradient is read before the line that computes it; backpropagation starts at the "
                    f"output (d{output} is given) and goes back")
        known = ", ".join(self.truth.names)
        return f"a line may read the forward values ({known}), d{output}, and what earlier lines assign"

    def _evaluate(self, graph: Any, env: dict[str, Any], reads: list[str]) -> Any:
        values = {name: env[name] for name in reads}
        limit = self.truth.result.problem.limits.max_elements
        graph.shapes = infer_shapes(graph, {name: value_shape(v) for name, v in values.items()}, limit)
        return evaluate(graph, values, roots=[graph.output]).values[graph.output]

    def _add(self, a: Any, b: Any, number: int) -> Any:
        try:
            return a + b
        except ValueError:
            raise BpcliError(f"line {number}: += adds a {_shape(b)} value to a {_shape(a)} one") from None

    def _agree(self, actual: Any, expected: Any) -> bool:
        return within(actual, expected, computed(expected).allowed(actual, self.rule))

    def _read_too_early(self, number: int, text: str, target: str, node: int, value: Any, should_be: Any,
                        reads: list[str]) -> LineVerdict:
        """A right formula whose inputs are right so far: it reads a fork's gradient before it is complete."""
        early = [name for name in reads if name.startswith("d") and name[1:] in self.truth.names
                 and not self._agree(self.mine[name], self.true[name])]
        what = " and ".join(early) or "a gradient"
        detail = f"this line reads {what} before all the gradients flowing back to it were added; finish it first"
        diagnosis = Diagnosis(self.truth.name(node), "fork", f"line {number} reads {what} too early",
                              hint(FORK_LESSON, detail), number)
        return LineVerdict(number, text, target, node, value, should_be, "wrong", diagnosis=diagnosis)

    def _cited(self, names: list[str]) -> int | None:
        lines = [self.wrong_since[name] for name in names if name in self.wrong_since]
        return min(lines) if lines else None


def _partial_note(truth: Truth, node: int, subset: tuple[int, ...]) -> str:
    parts = truth.contributions(node)
    if len(parts) < 2:
        return ""
    taken = ", ".join(parts[i][0] for i in subset)
    return f"{len(subset)} of {len(parts)} contributions to d{truth.label(node)} ({taken})"


def _lines(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(getattr(value, "shape", ()))


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

from bisect import bisect_right
from collections import ChainMap
from typing import Any, Iterator, Mapping

from bpcli.analyses.diagnosis import (
    FORK_LESSON,
    Diagnosis,
    Truth,
    describe_fork,
    fork_addition,
    fork_subset,
    hint,
    listed,
    value_readings,
)
from bpcli.analyses.expected import DIGITS, Rule, agrees, computed
from bpcli.engine.errors import BpcliError, placed
from bpcli.engine.evaluate import evaluate
from bpcli.engine.lower import lower
from bpcli.engine.problem import infer_shapes
from bpcli.engine.record import Record, field
from bpcli.engine.shapes import show as show_shape
from bpcli.engine.shapes import value_shape
from bpcli.engine.syntax.ast import Assign, Program
from bpcli.engine.syntax.parser import parse


class LineVerdict(Record, frozen=True):
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


class BackwardCheck(Record):
    """Every line's verdict, and each gradient the file leaves behind."""

    label: str  # the file's name, for the report
    lines: list[LineVerdict]
    final: dict[int, tuple[Any, int]]  # node -> (the student's gradient at the end, last line assigning it)
    diagnoses: dict[int, Diagnosis]  # node -> why its final gradient is wrong (only for wrong ones)
    missing: list[str]  # inputs whose gradient the file never assigns
    warnings: list[str] = field(default_factory=list)

    @property
    def first_wrong(self) -> LineVerdict | None:
        """The first wrong line; where its diagnosis names a step before it (dx[idx] = -1 in
        dx = probs.copy(); dx[idx] = -1; dx /= N), that step, which is where the mistake is written."""
        wrong = next((line for line in self.lines if line.status == "wrong"), None)
        named = None if wrong is None or wrong.diagnosis is None else wrong.diagnosis.line
        return next((line for line in self.lines if line.number == named and line.status == "step"), wrong)


class Scope(Record, frozen=True):
    """What a backward *function* sees, where a backward file sees the whole forward pass.

    A student's ``affine_backward(dout, cache)`` reads only its upstream gradient and what it
    unpacked from the cache; any other name it assigns (``N = x.shape[0]`` again) is its own
    helper, even where the forward pass has a value of that name. What it returns is compared
    with the gradients of the forward function's parameters.
    """

    # A name the function reads -> the forward value it holds (x, w, b = cache); None: every forward
    # value by its own name (a loss function that computes its gradient after the loss, in one scope).
    values: Mapping[str, str] | None
    upstream: str  # the name of the upstream gradient (the function's first parameter: dout)
    gradients: Mapping[str, str]  # a name the function returns -> the forward value it is the gradient of


class _Gradient(Record):
    """What the file has done so far to one value's gradient."""

    accounted: set[int] = field(default_factory=set)  # the true contributions its lines added
    accounted_total: Any = 0.0  # their sum, kept as lines add to it (never summed again)
    first_open: int = 0  # no contribution before this one is left to add
    last_open: int | None = None  # nor after this one (None: the last contribution)
    last_added: tuple[int, ...] = ()  # what the latest line added
    lines: list[int] = field(default_factory=list)
    target: str = ""  # the name the file keeps it in (dx, or a returned name of its own)
    wrong: LineVerdict | None = None  # its first line that is wrong in itself
    follows: LineVerdict | None = None  # its first line made wrong by another line

    def account(self, added: tuple[int, ...] | list[int], parts: list[Any]) -> None:
        """Count ``added`` (contributions not yet accounted) as added to the gradient."""
        for index in added:
            self.accounted.add(index)
            self.accounted_total = self.accounted_total + parts[index]
        self.last_added = tuple(added)
        if self.last_open is None:
            self.last_open = len(parts) - 1
        while self.first_open in self.accounted:
            self.first_open += 1
        while self.last_open in self.accounted:
            self.last_open -= 1

    def open_indices(self, count: int) -> Iterator[int]:
        """The contributions not yet added, taken from both ends of the open range in turn: a file
        that adds them in the notes' order, or in the opposite one, finds each at once (linear)."""
        low, high = self.first_open, count - 1 if self.last_open is None else self.last_open
        while low <= high:
            if low not in self.accounted:
                yield low
            if high != low and high not in self.accounted:
                yield high
            low, high = low + 1, high - 1


def check_backward(
    source: str, truth: Truth, rule: Rule = DIGITS, label: str = "backward file", scope: Scope | None = None
) -> BackwardCheck:
    """Evaluate ``source`` line by line and compare every gradient it assigns with the truth.

    ``scope`` is given for a backward function (it reads its cache, not the whole forward pass).
    """
    try:
        return _Checker(source, truth, rule, label, scope).run(parse(source))
    except BpcliError as error:  # the file's own error (a parse error, a name without a value): say which file
        raise placed(error, label, source) from None


class _Checker:
    def __init__(self, source: str, truth: Truth, rule: Rule, label: str, scope: Scope | None = None) -> None:
        self.source, self.truth, self.rule, self.label = source, truth, rule, label
        self.upstream = upstream = scope.upstream if scope is not None else "d" + truth.name(truth.graph.output)
        # The names the file may read of the forward pass, each -> the forward value it holds.
        values = scope.values if scope is not None else None
        self.visible: dict[str, str] = dict(values) if values is not None else {n: n for n in truth.names}
        self.returned: dict[str, str] = dict(scope.gradients) if scope is not None else {}
        forward = {name: truth.value(node) for name, node in truth.names.items()}
        self.mine: dict[str, Any] = {mine: forward[name] for mine, name in self.visible.items()}
        self.mine[upstream] = truth.seed
        self.true: dict[str, Any] = {**forward, **{"d" + n: truth.gradient(i) for n, i in truth.names.items()}}
        self.true.update({mine: forward[name] for mine, name in self.visible.items()})
        self.true.update({"d" + mine: truth.gradient(truth.names[name]) for mine, name in self.visible.items()})
        self.true.update({mine: truth.gradient(truth.names[name]) for mine, name in self.returned.items()})
        self.true[upstream] = truth.seed
        self.gradients: dict[int, _Gradient] = {}
        self.wrong_since: dict[str, int] = {}  # a name whose number is off -> the line that made it so
        self.verdicts: list[LineVerdict] = []
        self.warnings: list[str] = []
        self.line_starts = [0] + [i + 1 for i, c in enumerate(source) if c == "\n"]
        self.parts_of: dict[int, list[Any]] = {}  # node -> the true contributions to its gradient
        self.stepped: set[str] = set()  # gradients whose next line builds on the steps before it
        self.set_on: dict[str, int] = {}  # a gradient -> its step that sets a subscript (dx[idx] = -1)

    def run(self, program: Program) -> BackwardCheck:
        steps = _steps(program)
        for position, statement in enumerate(program.statements):
            if position in steps and isinstance(statement, Assign) and statement.target.startswith("d"):
                self.verdicts.append(self._step(statement, steps[position]))
            else:
                self.verdicts.append(self._line(statement))
        final = {node: (self.mine[g.target], g.lines[-1]) for node, g in self.gradients.items()}
        diagnoses = {node: self._final_diagnosis(node, value) for node, (value, _) in final.items()
                     if not self._agree(value, self.truth.gradient(node))}
        graph = self.truth.graph
        required = [self.truth.names[name] for name in self.returned.values()] if self.returned else graph.variables
        missing = [self.truth.name(v) for v in required
                   if v not in self.gradients and self.truth.name(v) not in graph.constant_inputs]
        return BackwardCheck(self.label, self.verdicts, final, diagnoses, missing, self.warnings)

    # ---- one statement -----------------------------------------------------------------

    def _line(self, statement: Any) -> LineVerdict:
        number = bisect_right(self.line_starts, statement.span[0])  # not a count from the top: linear in lines
        if not isinstance(statement, Assign):
            raise BpcliError(
                f"line {number}: a backward file assigns gradients (dx = ... or dx += ...), "
                "not a bare expression", source=self.source, span=statement.span,
            )
        target = statement.target
        if target in self.visible:
            raise BpcliError(
                f"line {number}: {target} is a value of the forward pass; a backward file assigns "
                f"gradients (d{target} = ...) and helpers of its own", source=self.source, span=statement.target_span,
            )
        text = self.source[statement.span[0]:statement.span[1]]
        graph, reads = self._lower(statement, number)
        try:
            mine = self._evaluate(graph, self.mine, reads)
        except BpcliError as error:
            raise self._dimension_hint(error, target) from None
        if statement.accumulate and target not in self.mine:
            raise BpcliError(
                f"line {number}: {target} += ... but {target} has no value yet; the first gradient into "
                f"{target} is written {target} = ...", source=self.source, span=statement.target_span,
            )
        self.mine[target] = self._add(self.mine[target], mine, number) if statement.accumulate else mine
        node = self._gradient_of(target)
        if node is None:
            return self._helper(statement, graph, reads, number, text)
        return self._gradient_line(statement, graph, reads, number, text, node)

    def _step(self, statement: Assign, update: Assign) -> LineVerdict:
        """A gradient built over several lines (dx = ...; dx[idx] -= 1; dx /= N): the lines before the
        last are steps, judged through the last one, which reads them."""
        number = self.source.count("\n", 0, statement.span[0]) + 1
        graph, reads = self._lower(statement, number)
        value = self.mine[statement.target] = self._evaluate(graph, self.mine, reads)
        self.true[statement.target] = value  # no truth for a step: the next line is judged from it
        self.stepped.add(statement.target)
        if _sets_subscript(statement):
            self.set_on[statement.target] = number
        text = self.source[statement.span[0]:statement.span[1]]
        updated_on = self.source.count("\n", 0, update.span[0]) + 1
        return LineVerdict(number, text, statement.target, None, value, None, "step",
                           note=f"a step: line {updated_on} updates {statement.target}")

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
        state = self.gradients.setdefault(node, _Gradient(target=target))
        parts = self._parts(node)
        before = state.accounted_total
        own = self._own(graph, reads, target, before)
        after = None if own is None else (before + own if statement.accumulate else own)
        added = None if after is None else fork_addition(
            parts, lambda v: self._agree(after, v), before, bool(state.accounted),
            lambda: state.open_indices(len(parts)), len(parts) - len(state.accounted))
        value = self.mine[target]
        if added is not None:
            state.account(added, parts)
            should_be = state.accounted_total
            if self._agree(value, should_be):
                verdict = LineVerdict(number, text, target, node, value, should_be,
                                      "right" if len(state.accounted) == len(parts) else "partial",
                                      note=_partial_note(truth, node, state))
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
        self.stepped.discard(target)
        return verdict

    def _wrong(self, statement: Assign, number: int, text: str, node: int, state: _Gradient,
               parts: list[Any], before: Any, after: Any) -> LineVerdict:
        """A line whose formula is wrong in itself: which mistake, if the numbers show one."""
        truth, target, name = self.truth, statement.target, self.truth.name(node)
        value = self.mine[target]
        if after is not None and not statement.accumulate and state.accounted:
            replaced = fork_subset(parts, after, lambda v: self._agree(after, v))
            if replaced is not None:
                lost = listed([truth.contributions(node)[i][0] for i in sorted(state.accounted)])
                detail = (f"this line replaces the gradient {lost} that line {_lines(state.lines)} put in "
                          f"{target} (write {target} += ... instead)")
                state.account([i for i in replaced if i not in state.accounted], parts)
                diagnosis = Diagnosis(name, "fork", f"line {number} overwrites {target} at a fork",
                                      hint(FORK_LESSON, detail), number)
                return LineVerdict(number, text, target, node, value, state.accounted_total,
                                     "wrong", diagnosis=diagnosis)
        whole = after is not None and not statement.accumulate  # the line gives the whole gradient
        if whole and (verdict := self._value_mistake(number, text, target, node, state, parts, after, True)):
            return verdict
        if after is not None:
            added = after - before if statement.accumulate else after
            for position, use in enumerate(truth.uses(node)):
                if position in state.accounted:
                    continue
                for mistake, wrong, detail in use.readings:
                    if self._agree(added, wrong):
                        state.account((position,), parts)
                        diagnosis = Diagnosis(use.stage, mistake.kind, f"line {number} goes wrong at {use.where}",
                                              hint(mistake.lesson, detail), number)
                        should_be = state.accounted_total
                        return LineVerdict(number, text, target, node, value, should_be, "wrong",
                                             diagnosis=diagnosis)
        if whole and (verdict := self._value_mistake(number, text, target, node, state, parts, after, False)):
            return verdict
        diagnosis = Diagnosis(name, None, f"line {number} is wrong, and no common mistake explains its number",
                              None, number)
        return LineVerdict(number, text, target, node, value, truth.gradient(node), "wrong", diagnosis=diagnosis)

    def _value_mistake(self, number: int, text: str, target: str, node: int, state: _Gradient, parts: list[Any],
                       after: Any, first: bool) -> LineVerdict | None:
        """A line giving the whole gradient (dx = ..., or dx /= N after steps) with a mistake of it as a whole."""
        truth = self.truth
        for value_mistake, wrong, where, detail in value_readings(truth, node, first):
            if self._agree(after, wrong):
                state.account([i for i in range(len(parts)) if i not in state.accounted], parts)
                # An indexed update that set is named at its own line, the step that wrote the subscript.
                at = self.set_on.get(target, number) if value_mistake.kind == "index-set" else number
                diagnosis = Diagnosis(truth.name(node), value_mistake.kind, f"line {at} goes wrong at {where}",
                                      hint(value_mistake.lesson, detail), at)
                return LineVerdict(number, text, target, node, self.mine[target], truth.gradient(node), "wrong",
                                   diagnosis=diagnosis)
        return None

    def _final_diagnosis(self, node: int, value: Any) -> Diagnosis:
        state, truth, name = self.gradients[node], self.truth, self.truth.name(node)
        if state.wrong is not None and state.wrong.diagnosis is not None:  # a wrong line always has one
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

    def _parts(self, node: int) -> list[Any]:
        """The true contributions to the node's gradient, in order (listed once per node)."""
        if node not in self.parts_of:
            self.parts_of[node] = [value for _, value in self.truth.contributions(node)]
        return self.parts_of[node]

    def _own(self, graph: Any, reads: list[str], target: str, before: Any) -> Any:
        """The line's right-hand side computed from the true gradients (None if it cannot be)."""
        # A line that updates a step (dx /= N) reads it as the step left it; any other reads what the
        # lines before added into the gradient.
        current = self.true[target] if target in self.stepped else before
        try:  # ChainMap: the true values are not copied at every line
            return self._evaluate(graph, ChainMap({target: current}, self.true), reads)
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

    def _dimension_hint(self, error: BpcliError, target: str) -> BpcliError:
        """A matrix product whose shapes do not fit, in a gradient's line: the notes' dimension analysis."""
        node = self._gradient_of(target)
        if node is not None and error.hint is None and "inner dimensions" in error.message:
            shape = show_shape(tuple(getattr(self.truth.value(node), "shape", ())))
            name = target[1:] if target.startswith("d") and target[1:] in self.visible else self.truth.label(node)
            error.hint = (f"dimension analysis: {target} has the shape of {name}, {shape}, and exactly one "
                          "product of the upstream gradient and the other factor gives it (the notes: "
                          "dW = dD.dot(X.T), dX = W.T.dot(dD))")
        return error

    def _gradient_of(self, target: str) -> int | None:
        """The forward value whose gradient ``target`` holds: dNAME, or a name a backward function returns."""
        names = self.truth.names
        if target in self.returned:
            return names[self.returned[target]]
        if not target.startswith("d"):
            return None
        return names.get(self.visible.get(target[1:], target[1:]))

    def _unknown_hint(self, name: str) -> str:
        if self._gradient_of(name) is not None:
            return (f"a gradient is read before the line that computes it; backpropagation starts at the "
                    f"output ({self.upstream} is given) and goes back")
        known = ", ".join(self.visible)
        return f"a line may read the forward values ({known}), {self.upstream}, and what earlier lines assign"

    def _evaluate(self, graph: Any, env: Mapping[str, Any], reads: list[str]) -> Any:
        values = {name: env[name] for name in reads}
        limit = self.truth.result.problem.limits.max_elements
        shapes = infer_shapes(graph, {name: value_shape(v) for name, v in values.items()}, limit, values,
                              numbers_fixed=True)
        # As the problem's own graph (shape_graph): a line of numbers keeps no shapes, and runs without numpy.
        graph.shapes = shapes if any(shapes) else None
        return evaluate(graph, values, roots=[graph.output]).values[graph.output]

    def _add(self, a: Any, b: Any, number: int) -> Any:
        try:
            return a + b
        except ValueError:
            raise BpcliError(f"line {number}: += adds a {_shape(b)} value to a {_shape(a)} one") from None

    def _agree(self, actual: Any, expected: Any) -> bool:
        return agrees(actual, computed(expected), self.rule)

    def _read_too_early(self, number: int, text: str, target: str, node: int, value: Any, should_be: Any,
                        reads: list[str]) -> LineVerdict:
        """A right formula whose inputs are right so far: it reads a fork's gradient before it is complete."""
        early = [name for name in reads if self._gradient_of(name) is not None
                 and not self._agree(self.mine[name], self.true[name])]
        what = " and ".join(early) or "a gradient"
        detail = f"this line reads {what} before all the gradients flowing back to it were added; finish it first"
        diagnosis = Diagnosis(self.truth.name(node), "fork", f"line {number} reads {what} too early",
                              hint(FORK_LESSON, detail), number)
        return LineVerdict(number, text, target, node, value, should_be, "wrong", diagnosis=diagnosis)

    def _cited(self, names: list[str]) -> int | None:
        lines = [self.wrong_since[name] for name in names if name in self.wrong_since]
        return min(lines) if lines else None


# Contributions named one by one in a line's note; past this, the note names what the line added,
# so that a note (and the report) does not grow with every line of a large fork.
NOTE_NAMES = 4


def _partial_note(truth: Truth, node: int, state: _Gradient) -> str:
    parts = truth.contributions(node)
    if len(parts) < 2:
        return ""
    count = len(state.accounted)
    heading = f"{count} of {len(parts)} contributions to d{truth.label(node)}"
    if count <= NOTE_NAMES:
        return f"{heading} ({', '.join(parts[i][0] for i in sorted(state.accounted))})"
    added = listed([parts[i][0] for i in state.last_added], ", ")
    return f"{heading} (this line adds {added})" if added else heading


def _lines(numbers: list[int]) -> str:
    return listed([str(n) for n in numbers], ", ")


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(getattr(value, "shape", ()))



def _sets_subscript(statement: Assign) -> bool:
    """``dx[idx] = v`` where v does not read ``dx[...]``: a subscript set, not added to (``dx[idx] -= 1``)."""
    from bpcli.engine.syntax.ast import AtSet, Name, Subscript, children

    if type(statement.value) is not AtSet:
        return False
    stack: list[Any] = [statement.value.value]
    while stack:
        node = stack.pop()
        if type(node) is Subscript and type(node.value) is Name and node.value.id == statement.target:
            return False
        stack.extend(children(node))
    return True


def _steps(program: Program) -> dict[int, Assign]:
    """Statements whose target the next assignment to it updates (reads): position -> that assignment."""
    from bpcli.engine.syntax.ast import Name, children

    source_lines: dict[int, Assign] = {}
    last: dict[str, int] = {}
    statements = program.statements
    for position, statement in enumerate(statements):
        if not isinstance(statement, Assign) or statement.accumulate:
            continue
        earlier = last.get(statement.target)
        if earlier is not None:
            stack, reads = [statement.value], False
            while stack and not reads:
                node = stack.pop()
                reads = type(node) is Name and node.id == statement.target
                stack.extend(children(node))
            if reads:
                source_lines[earlier] = statement
        last[statement.target] = position
    return source_lines

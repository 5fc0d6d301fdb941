"""Why a gradient is wrong: where the numbers part from the truth, and which common mistake they show.

``Truth`` reads the true numbers of backpropagation off an evaluated
GradResult: every value, every gradient, and for each use of a value (a gate
it feeds) the upstream gradient at that gate and what flows back through it.

``MISTAKES`` is a small table of the mistakes the lecture notes warn about.
Each is a function of the true numbers at one use of a value: the gradient a
student who made that mistake would send back instead. A hint is given only
when the student's number matches what the mistake gives, within the
expectation's tolerance; otherwise the diagnosis says that no common mistake
explains the number. Two mistakes concern a value as a whole: a fork whose
contributions were not all added up, and a flipped sign.

A mistake made at one stage spreads linearly to every gradient computed from
it, so a wrong ``dx`` can be traced to a mistake further up (say, a multiply
gate that did not swap its inputs) by one backward pass from that stage.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, Callable, Iterable, Iterator, Mapping

from bpcli.engine.backends import backend_for, quiet_float_errors
from bpcli.engine.backward import backward
from bpcli.engine.evaluate import evaluate
from bpcli.engine.formulas import to_ast
from bpcli.engine.graph import CONST, INPUT
from bpcli.engine.problem import Problem
from bpcli.engine.syntax.printer import to_text
from bpcli.engine.values import Constant
from bpcli.views.numbers import format_value

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(#[0-9]+)?\Z")  # c#1: a version of a reassigned name
MAX_FORK_SUBSETS = 10  # uses of a value beyond which only one contribution, or all but one, is tried
MAX_TRACED_STAGES = 100  # larger graphs are not searched for a mistake further up
MAX_LABEL_GATES = 4  # unnamed gates written out in a label ("via f = x * y + x") before bpcli's names are used


def show(value: Any) -> str:
    return format_value(value, 4)


@dataclass(frozen=True)
class Use:
    """One gate a value feeds, with the true numbers there."""

    name: str  # the value, as the student knows it: its name, or its text "(x + y)" where bpcli named it
    stage: str  # the gate (a stage) it feeds: the stage's name in the program
    expr: str  # the gate as the student wrote it: "q = x + y", or "-x" where the student gave it no name
    op: str
    position: int  # which of the gate's inputs it is
    upstream: Any  # the true gradient on the gate's output
    operands: tuple[Any, ...]  # the gate's input values
    operand_names: tuple[str, ...]
    contribution: Any  # the true gradient that flows back to the value through this gate
    stage_label: str  # the gate's output as the student knows it (d{stage_label} is its gradient)

    @property
    def own(self) -> Any:
        return self.operands[self.position]

    @property
    def other(self) -> Any:
        return self.operands[1 - self.position]

    @property
    def other_name(self) -> str:
        return self.operand_names[1 - self.position]

    @property
    def where(self) -> str:
        return f"stage {self.expr}" if self.stage_label == self.stage else self.expr


@dataclass(frozen=True)
class Mistake:
    """A common mistake: what a student who makes it sends back through one use of a value."""

    kind: str
    lesson: str  # the rule it breaks, as the notes put it
    readings: Callable[[Use], list[tuple[Any, str]]]  # (the gradient sent back instead, how it reads)


def _flipped(u: Use) -> list[tuple[Any, str]]:
    wrong = -u.contribution
    return [(wrong, f"in {u.where}, {u.name} gets {show(u.contribution)}; with the sign flipped, {show(wrong)}")]


def _not_swapped(u: Use) -> list[tuple[Any, str]]:
    if u.op != "mul":
        return []
    wrong = _shaped(u.upstream * u.own, u.own)
    return [(
        wrong,
        f"in {u.where}, d{u.name} = {u.other_name} · d{u.stage_label} = {show(u.other)} · {show(u.upstream)} = "
        f"{show(u.contribution)}; not swapped, it is {u.name} · d{u.stage_label} = {show(u.own)} · {show(u.upstream)} "
        f"= {show(wrong)}",
    )]


def _scaled(u: Use) -> list[tuple[Any, str]]:
    if u.op != "add":
        return []
    passes = f"in {u.where}, {u.name} gets d{u.stage_label} = {show(u.upstream)} as it is"
    readings = [
        (u.upstream * u.other, f"multiplied by {u.other_name} = {show(u.other)}, as a multiply gate would"),
        (u.upstream * u.own, f"multiplied by {u.name} = {show(u.own)}"),
        (u.upstream * 0.5, "halved, as if it were split between the inputs"),
    ]
    return [(_shaped(wrong, u.own), f"{passes}; {how}, it is {show(_shaped(wrong, u.own))}")
            for wrong, how in readings]


def _misrouted(u: Use) -> list[tuple[Any, str]]:
    if u.op not in ("max", "min"):
        return []
    xp = backend_for(u.own, u.other)
    # The true share is greater(own, other) for max; the misrouted one swaps the comparison.
    wrong = _shaped(u.upstream * (xp.greater(u.other, u.own) if u.op == "max" else xp.greater(u.own, u.other)),
                    u.own)
    word, opposite = ("larger", "smaller") if u.op == "max" else ("smaller", "larger")
    return [(
        wrong,
        f"in {u.where}, d{u.stage_label} = {show(u.upstream)} goes to the {word} input "
        f"({u.operand_names[0]} = {show(u.operands[0])}, {u.operand_names[1]} = {show(u.operands[1])}); "
        f"sent to the {opposite} one, d{u.name} is {show(wrong)}",
    )]


MISTAKES: tuple[Mistake, ...] = (
    Mistake("flipped-sign", "a flipped sign", _flipped),
    Mistake("multiply-not-swapped",
            "a multiply gate swaps its inputs: each input gets the other input's value times the upstream gradient",
            _not_swapped),
    Mistake("add-scaled", "an add gate distributes the upstream gradient unchanged to every input", _scaled),
    Mistake("max-misrouted",
            "a max or min gate routes the whole upstream gradient to the input it picked",
            _misrouted),
)
FORK_LESSON = "gradients add up at forks: a value used by several gates gets the sum of what flows back from each"


def hint(lesson: str, detail: str) -> str:
    """The rule a mistake breaks, then the numbers that show it (names keep their case)."""
    return f"{lesson[0].upper()}{lesson[1:]} — {detail}."


@dataclass(frozen=True)
class Diagnosis:
    """Where a wrong gradient parts from the truth, and the mistake its numbers show (if any)."""

    stage: str | None  # the stage (or value) where the numbers part from the truth
    mistake: str | None  # a Mistake's kind, or "fork"; None when no common mistake explains the number
    message: str
    hint: str | None = None
    line: int | None = None  # the backward file's line, when there is one

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "line": self.line, "mistake": self.mistake, "message": self.message,
                "hint": self.hint}


@dataclass(frozen=True)
class Candidate:
    """A mistake at one value, as the change it makes to that value's gradient."""

    delta: Any  # the student's gradient minus the true one, at the value the mistake is made at
    mistake: str
    stage: str  # the stage (or the forked value) where the numbers part from the truth
    where: str  # the same for a sentence: "stage f = q * z", "the fork x"
    hint: Callable[[], str]  # written only for the candidate that explains the number


class Truth:
    """The true numbers of backpropagation, by graph node, read off an evaluated GradResult."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.graph = result.graph
        self.adjoints = result.adjoints

    @cached_property
    def names(self) -> dict[str, int]:
        """Every value a person can name: inputs, stages and named constants of the forward program."""
        named = {}
        for index, node in enumerate(self.graph.nodes):
            if node.origin is None and node.span is not None and _IDENTIFIER.match(node.name):
                named[node.name] = index
        # A stage that only renames (a = x) is the value it renames: addressable by its own name too.
        return {**self.graph.aliases, **named}

    def name(self, node: int) -> str:
        return self.graph.nodes[node].name

    def label(self, node: int) -> str:
        """A value as the student knows it: its name, or its own text in parentheses where bpcli named it (t6)."""
        text = self._text(node)
        return f"({text})" if self.graph.nodes[node].name in self.graph.generated and text else self.name(node)

    def gate_label(self, node: int) -> str:
        """A gate as the student wrote it: ``a = x * y``, or ``-x`` where the student gave it no name."""
        text = self._text(node)
        return text if self.graph.nodes[node].name in self.graph.generated else f"{self.name(node)} = {text}"

    def _text(self, node: int) -> str:
        """The gate written out down to the student's own names (the stages bpcli named are expanded)."""
        graph = self.graph
        if not graph.is_gate(node):
            return ""
        unnamed = self._unnamed_below(node)
        return to_text(to_ast(graph, node, lambda n: n == node or n in unnamed))

    def _unnamed_below(self, node: int) -> set[int]:
        """The gates bpcli named that ``node`` is computed from through others of them, if they are few
        (a label stays short); else none, and they appear by bpcli's names (which the check accepts)."""
        graph, found, work = self.graph, set(), list(self.graph.nodes[node].inputs)
        while work:
            i = work.pop()
            if i in found or not graph.is_gate(i) or graph.nodes[i].name not in graph.generated:
                continue
            found.add(i)
            if len(found) > MAX_LABEL_GATES:
                return set()
            work.extend(graph.nodes[i].inputs)
        return found

    def value(self, node: int) -> Any:
        return self.result.value_of(node)

    def gradient(self, node: int) -> Any:
        return self.result.gradient_of(node)

    @property
    def seed(self) -> Any:
        """The gradient flowing into the output: 1, or the upstream gradient given."""
        return self.result.value_of(self.adjoints.seed)

    def uses(self, node: int) -> list[Use]:
        """The gates a value feeds that send a gradient back to it, in backward order (worked out once:
        a backward file asks at each of its lines)."""
        cache: dict[int, list[Use]] = self.__dict__.setdefault("_uses_of", {})
        if node not in cache:
            cache[node] = self._uses(node)
        return cache[node]

    def _uses(self, node: int) -> list[Use]:
        uses = []
        for gate, position in self.adjoints.contributions.get(node, []):
            operands = self.graph.nodes[gate].inputs
            uses.append(Use(
                name=self.label(node), stage=self.name(gate), expr=self.gate_label(gate),
                op=self.graph.nodes[gate].op, position=position, upstream=self.gradient(gate),
                operands=tuple(self.value(i) for i in operands), operand_names=tuple(self.label(i) for i in operands),
                contribution=self.value(self.adjoints.downstream[(gate, position)]), stage_label=self.label(gate),
            ))
        return uses

    def contributions(self, node: int) -> list[tuple[str, Any]]:
        """What adds up to the node's gradient: (where it comes from, value); the output gets the seed."""
        cache: dict[int, list[tuple[str, Any]]] = self.__dict__.setdefault("_contributions_of", {})
        if node not in cache:
            cache[node] = self._contributions(node)
        return cache[node]

    def _contributions(self, node: int) -> list[tuple[str, Any]]:
        if node == self.graph.output:
            return [(f"the upstream gradient of {self.name(node)}", self.seed)]
        return [(f"via {use.expr}", use.contribution) for use in self.uses(node)]

    def downstream_of(self, node: int) -> list[int]:
        """The stages computed from ``node`` that carry a gradient back, nearest the output first."""
        feeds = self.graph.ancestors(self.graph.output)
        reached = {node}
        for index in range(node + 1, self.graph.output + 1):
            n = self.graph.nodes[index]
            if n.origin is None and n.op not in (INPUT, CONST) and any(i in reached for i in n.inputs):
                reached.add(index)
        return sorted((i for i in reached if i != node and feeds[i]), reverse=True)

    def spread(self, source: int, delta: Any) -> dict[int, Any]:
        """How an error ``delta`` in d(source) shows in every gradient computed from it (backprop is linear)."""
        if not hasattr(delta, "shape"):
            unit = self._unit_spread(source)
            return {node: delta * value for node, value in unit.items()}
        return self._backward_from(source, delta)

    def _unit_spread(self, source: int) -> dict[int, Any]:
        cache = self.__dict__.setdefault("_units", {})
        if source not in cache:
            cache[source] = self._backward_from(source, 1.0)
        return cache[source]

    def _backward_from(self, source: int, delta: Any) -> dict[int, Any]:
        graph = self._forward_copy
        seed = graph.add(CONST, (), "delta", value=delta)
        adjoints = backward(graph, output=source, seed=seed)
        evaluation = evaluate(graph, self.result.inputs, roots=list(adjoints.total.values()))
        return {node: evaluation.values[total] for node, total in adjoints.total.items()}

    @cached_property
    def _forward_copy(self) -> Any:
        """The forward graph again, to append backward passes to without touching the result's graph."""
        graph = self.result.graph
        # The --const inputs stay constants (index inputs are found again by lowering).
        given = {name: Constant(value) if name in graph.constant_inputs else value
                 for name, value in self.result.inputs.items()}
        return Problem.of(self.result.source, given, limits=self.result.problem.limits).graph


# ---- finding the mistake ---------------------------------------------------------------


def use_readings(use: Use) -> Iterator[tuple[Mistake, Any, str]]:
    """Every wrong gradient the mistakes table says could flow back through ``use``."""
    for mistake in MISTAKES:
        for wrong, detail in mistake.readings(use):
            if not _equal(wrong, use.contribution):
                yield mistake, wrong, detail


def fork_subset(
    parts: list[Any], value: Any, matches: Callable[[Any], bool], keep: frozenset[int] = frozenset()
) -> tuple[int, ...] | None:
    """The smallest set of contributions (containing ``keep``) whose sum ``matches``, or None."""
    added = fork_addition(parts, matches, total(parts[i] for i in keep), bool(keep),
                          lambda: (i for i in range(len(parts)) if i not in keep), len(parts) - len(keep))
    return None if added is None else tuple(sorted((*keep, *added)))


def fork_addition(parts: list[Any], matches: Callable[[Any], bool], kept_total: Any, kept_any: bool,
                  open_indices: Callable[[], Iterator[int]], open_count: int) -> tuple[int, ...] | None:
    """The fewest contributions to add to those kept (summing to ``kept_total``) so that the sum
    ``matches``: () if the kept ones alone do, None if no tried set does.

    Each candidate costs one addition to the kept sum, never a sum over everything kept, so a
    backward file that adds a fork's contributions one line at a time is checked in linear time.
    ``open_indices`` gives the contributions not kept, in order (called again for the last try).
    """
    if kept_any and matches(kept_total):
        return ()
    if open_count <= MAX_FORK_SUBSETS:
        candidates = sorted(open_indices())
        for size in range(1, open_count + 1):
            for chosen in itertools.combinations(candidates, size):
                if matches(kept_total + total(parts[i] for i in chosen)):
                    return chosen
        return None
    for index in open_indices():  # one more: the common case, found first when written in order
        if matches(kept_total + parts[index]):
            return (index,)
    everything = tuple(open_indices())
    return everything if matches(kept_total + total(parts[i] for i in everything)) else None


def listed(labels: list[str], separator: str = " and ", limit: int = 4) -> str:
    """``labels`` joined, with the middle of a long list elided (so a report stays short at a large fork)."""
    if len(labels) <= limit:
        return separator.join(labels)
    shown = [*labels[:limit - 1], f"... ({len(labels) - limit} more)", labels[-1]]
    return separator.join(shown)


def describe_fork(truth: Truth, node: int, subset: tuple[int, ...]) -> str:
    """x is used by 2 gates, so dx = a (via s) + b (via t) = T; with the gradient via s alone, it is a."""
    parts = truth.contributions(node)
    name = truth.label(node)
    terms = listed([f"{show(value)} ({label})" for label, value in parts], " + ")  # the notes' dx += ... order
    taken = listed([parts[i][0] for i in subset])
    alone = "alone" if len(subset) == 1 else "only"
    return (f"{name} is used by {len(parts)} gates, so d{name} = {terms} = {show(truth.gradient(node))}; "
            f"with the gradient {taken} {alone}, it is {show(total(parts[i][1] for i in subset))}")


def candidates(truth: Truth, node: int) -> Iterator[Candidate]:
    """Every common mistake at ``node``, as the change it makes to d(node); a missed fork sum first."""
    total_gradient = truth.gradient(node)
    parts = [value for _, value in truth.contributions(node)]
    forked = len(parts) >= 2
    if forked:
        for subset, delta in _missed_fork_sums(parts, total_gradient):
            yield Candidate(delta, "fork", truth.name(node), f"the fork {truth.label(node)}",
                            partial(_fork_hint, truth, node, subset))
        yield Candidate(-2 * total_gradient, "flipped-sign", truth.name(node), f"the fork {truth.label(node)}",
                        partial(hint, "a flipped sign", f"d{truth.label(node)} = {show(total_gradient)}; "
                                                        f"with the sign flipped, {show(-total_gradient)}"))
    for use in truth.uses(node):
        for mistake, wrong, detail in use_readings(use):
            yield Candidate(wrong - use.contribution, mistake.kind, use.stage, use.where,
                            partial(hint, mistake.lesson, detail))


def _missed_fork_sums(parts: list[Any], total_gradient: Any) -> Iterator[tuple[Callable[[], tuple[int, ...]], Any]]:
    """The strict subsets of a fork's contributions a student may have added up instead of all of
    them, each as (the subset, made when a hint needs it; its sum less the true gradient): every
    subset while they are few (their number doubles with each use), else one alone or all but one.
    All but one is the whole sum less that one, so a fork of n uses costs n, not n squared."""
    count = len(parts)
    if count <= MAX_FORK_SUBSETS:
        for size in range(1, count):
            for subset in itertools.combinations(range(count), size):
                yield partial(_made, subset), total(parts[i] for i in subset) - total_gradient
        return
    for index in range(count):
        yield partial(_made, (index,)), parts[index] - total_gradient
    whole = total(parts)
    for left_out in reversed(range(count)):  # the order of itertools.combinations(range(count), count - 1)
        yield partial(_all_but, count, left_out), whole - parts[left_out] - total_gradient


def _made(subset: tuple[int, ...]) -> tuple[int, ...]:
    return subset


def _all_but(count: int, left_out: int) -> tuple[int, ...]:
    return tuple(i for i in range(count) if i != left_out)


def _fork_hint(truth: Truth, node: int, subset: Callable[[], tuple[int, ...]]) -> str:
    return hint(FORK_LESSON, describe_fork(truth, node, subset()))


def diagnose(
    truth: Truth, node: int, student: Mapping[int, Any], matches: Callable[[int, Any], bool]
) -> Diagnosis:
    """Why the student's gradient at ``node`` is wrong.

    ``student`` holds the student's gradients that are known, by node;
    ``matches(n, value)`` says whether ``value`` agrees with the student's
    number at n (within its tolerance). The first wrong number on the way
    back from the output is where the numbers part; a mistake is named only
    when its numbers match the student's.
    """
    with quiet_float_errors():  # a true gradient of inf or nan, plus a mistake's delta
        return _diagnosis(truth, node, student, matches)


def _diagnosis(
    truth: Truth, node: int, student: Mapping[int, Any], matches: Callable[[int, Any], bool]
) -> Diagnosis:
    name = truth.label(node)
    above = truth.downstream_of(node)
    for earlier in above:
        if earlier in student and not matches(earlier, truth.gradient(earlier)):
            return Diagnosis(truth.name(earlier), None,
                             f"d{name} follows from d{truth.label(earlier)}, which is already wrong")
    for candidate in candidates(truth, node):
        if matches(node, truth.gradient(node) + candidate.delta):
            return Diagnosis(candidate.stage, candidate.mistake, f"d{name} goes wrong at {candidate.where}",
                             candidate.hint())
    if len(above) <= MAX_TRACED_STAGES:
        unknown = [k for k in above if k not in student]
        for source in unknown:
            for candidate in candidates(truth, source):
                predicted = truth.gradient(node) + truth.spread(source, candidate.delta).get(node, 0.0)
                if matches(node, predicted):
                    return Diagnosis(
                        candidate.stage, candidate.mistake,
                        f"d{name} is what backpropagation gives after a mistake at {candidate.where}, "
                        f"on the way back to {name}",
                        candidate.hint(),
                    )
    return Diagnosis(truth.name(node), None, f"d{name} is wrong, and no common mistake explains its number")


def total(values: Iterable[Any]) -> Any:
    """The sum of numbers or arrays (broadcasting), 0.0 for none."""
    result: Any = 0.0
    for value in values:
        result = result + value
    return result


def _equal(a: Any, b: Any) -> bool:
    if hasattr(a, "shape") or hasattr(b, "shape"):
        import numpy as np  # numpy only where arrays are (start-up)

        return bool(np.array_equal(a, b))
    return a == b


def _shaped(value: Any, like: Any) -> Any:
    """A gate-shaped gradient summed back to the shape of the input it flows to (broadcasting)."""
    if not hasattr(value, "shape") or value.shape == getattr(like, "shape", ()):
        return value
    from bpcli.engine.backends import array  # the backend the values need

    return array.unbroadcast(value, like)

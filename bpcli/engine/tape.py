"""The flat tape: a large scalar expression differentiated without a graph.

The graph (graph.py) keeps every stage as an object, with a name, a span and
the gradient nodes the backward pass appends, because the views show them
all. A million-gate expression asked only for its value and gradients pays
for that: some 1,300 bytes a gate. The tape is the fast path for that case:

    text ─▶ the LALR parser, with the tape's callbacks ─▶ three flat arrays
            (opcode, first operand, second operand: one entry per gate or variable)
         ─▶ forward: values[i] = gate.forward(scalar, values[first[i]], ...)
         ─▶ backward: adjoint[operand] += local × adjoint[i], from the last entry to the first

No tree, no node objects, no dictionaries keyed by uses: an entry costs 34
bytes (about 50 a gate at the peak, the parser's stacks included). Every rule
comes from the one gate registry (gates.py): the forward computation is the
gate's ``forward`` on the scalar backend, and the local gradients are the
gate's own ``partials``, called with ``NUMBERS``, a builder that computes each
gate it is asked for instead of adding a node. The entries
are made in the order lowering makes nodes (children before parents, left to
right; a variable at its first use), the backward pass visits them in the
order backward.py does and adds what arrives at a value in the same order, so
values and gradients are the graph's own, bit for bit (tests/test_tape.py).

The tape takes what it can answer alone, and ``None`` means "go the usual
way" (``grad`` then builds the graph, which says what is to be said):

- an expression of variables and the gates in ``OPS`` (no numbers, no
  keywords), or a staged program of them (``q = x + y; f = q * z``, each name
  assigned once, every stage used): anything else the parser meets stops the
  tape;
- numbers bound to every variable and to nothing else, no upstream given;
- nothing infinite or nan, forward or backward: those warnings the graph
  writes. A kink or a tie hit changes no number (the conventions are in the
  partials), so the tape keeps it and writes its notice as the graph would
  (``kink_notices``: the stage's number, its name and the gate's text).

Nothing is ever reported from here: a text the tape does not take, right or
wrong, is parsed again by the usual parser, which reports it with its caret.
"""

from __future__ import annotations

import math
from array import array
from typing import Any, Callable, Iterator, Mapping

from bpcli.engine.backends import scalar
from bpcli.engine.formulas import gate_text
from bpcli.engine.gates import FUNCTIONS, REGISTRY, Gate
from bpcli.engine.graph import INPUT, Graph, Node
from bpcli.engine.limits import Limits
from bpcli.engine.lower import OUTPUT_NAME  # the output's name; a variable of that name goes the usual way
from bpcli.engine.problem import Notice
from bpcli.engine.record import NamedTuple
from bpcli.engine.syntax.lexer import TEXT
from bpcli.engine.syntax.parser import parse_into

# The gates the tape computes: elementwise gates on numbers whose partials build only gates
# (the power gate's read the graph's constants, and numbers are not taken). Opcode = position.
OPS = ("add", "sub", "mul", "neg", "recip", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs",
       "max", "min", "log1p", "expm1")
VARIABLE = 255  # the opcode of a variable's entry; its first operand is the variable's number
_NONE = -1  # the second operand of a one-input gate
_OPCODE = {op: code for code, op in enumerate(OPS)}
_GATES: tuple[Gate, ...] = tuple(REGISTRY[op] for op in OPS)
_OPERATORS = {"+": "add", "-": "sub", "*": "mul"}
# The backward pass adds at most this many nodes per gate to the graph (a multiply per input, the
# local gradient's own gates, a sum where gradients meet): what the total-elements budget counts.
_GRAPH_NODES_PER_ENTRY = 10


class Unsupported(Exception):
    """The text holds something the tape does not take; the usual parser reads it instead."""


class Tape:
    """One entry per gate or variable, children before parents: opcode, first and second operand."""

    def __init__(self) -> None:
        self.ops = bytearray()
        self.first = array("l")
        self.second = array("l")
        self.variables: dict[str, int] = {}  # name -> its entry, in order of first use
        self.stages: dict[str, int] = {}  # a name a statement assigns -> its value's entry
        self.named: dict[int, str] = {}  # a gate a statement names (the output included) -> that name

    def __len__(self) -> int:
        return len(self.ops)

    def gate(self, op: str, first: int, second: int = _NONE) -> int:
        self.ops.append(_OPCODE[op])
        self.first.append(first)
        self.second.append(second)
        return len(self.ops) - 1

    def variable(self, name: str) -> int:
        entry = self.variables.get(name)
        if entry is None:
            self.ops.append(VARIABLE)
            self.first.append(len(self.variables))
            self.second.append(_NONE)
            entry = self.variables[name] = len(self.ops) - 1
        return entry


class _Assigned(NamedTuple):
    """A statement ``name = value``: the value's entry."""

    entry: int


class _Reader:
    """The parser's callbacks that fill a tape (parser.parse_into), named after the grammar's rules as
    the AST builder's are; a rule with no callback here stops the tape."""

    def __init__(self) -> None:
        self.tape = Tape()
        self.start = 0  # the first entry of the statement being read

    def __getattr__(self, rule: str) -> Callable[[list[Any]], Any]:
        def refuse(children: list[Any]) -> Any:
            raise Unsupported(rule)

        return refuse

    def program(self, children: list[Any]) -> Tape:
        tape = self.tape
        *staged, last = [child for child in children if child is not None] or [None]
        output = last.entry if type(last) is _Assigned else last
        if any(type(s) is not _Assigned for s in staged) or output != len(tape) - 1 or tape.ops[-1] == VARIABLE:
            raise Unsupported("program")  # a bare expression before the last, or an output that is no new gate
        if type(last) is not _Assigned and output >= self.start:  # a bare expression's gate: the output f
            if OUTPUT_NAME in tape.variables or OUTPUT_NAME in tape.stages:
                raise Unsupported("program")  # then lowering names it f_1
            tape.named[output] = OUTPUT_NAME
        return tape

    def assignment(self, children: list[Any]) -> _Assigned:
        """``name = value``: a new gate takes the name; anything else is only renamed (``a = x``)."""
        target, value = children
        tape, name = self.tape, target[TEXT]
        if type(value) is not int or name in tape.stages or name in tape.variables:
            raise Unsupported("assignment")  # assigned twice, or used before it is assigned
        if value >= self.start and tape.ops[value] != VARIABLE:
            tape.named[value] = name
        tape.stages[name] = value
        self.start = len(tape)
        return _Assigned(value)

    def name(self, children: list[Any]) -> int:
        name = children[0][TEXT]
        staged = self.tape.stages.get(name)
        return self.tape.variable(name) if staged is None else staged

    def _binary(self, children: list[Any]) -> int:
        left, operator, right = children
        return self.tape.gate(_OPERATORS[operator[TEXT]], left, right)

    add = sub = mul = _binary

    def div(self, children: list[Any]) -> int:
        """a / b is a * (1 / b), the reciprocal made first, as lowering makes it."""
        left, _, right = children
        return self.tape.gate("mul", left, self.tape.gate("recip", right))

    def neg(self, children: list[Any]) -> int:
        return self.tape.gate("neg", children[1])

    def pos(self, children: list[Any]) -> int:
        operand: int = children[1]  # unary plus changes nothing
        return operand

    def parenthesized(self, children: list[Any]) -> int:
        inner: int = children[1]
        return inner

    def arguments(self, children: list[Any]) -> list[Any]:
        return [child for child in children if child is not None]

    def call(self, children: list[Any]) -> int:
        func, arguments, _ = children
        gate = FUNCTIONS.get(func[TEXT], {}).get(len(arguments)) if arguments else None
        if gate is None or gate.op not in _OPCODE:
            raise Unsupported("call")
        return self.tape.gate(gate.op, *arguments)


def read(text: str) -> Tape | None:
    """The tape of ``text``, or None where the tape does not take it (see the module's docstring)."""
    try:
        tape: Tape = parse_into(text, _Reader())
    except Exception:  # noqa: BLE001 - anything at all: the usual parser reads it again and reports it
        return None
    return tape


class _Numbers:
    """The builder the registry's partials are written against, computing numbers instead of adding
    nodes: ``g.mul(a, b)`` is the multiply gate's forward on the scalar backend."""

    @staticmethod
    def const(value: float) -> float:
        return float(value)

    def __getattr__(self, op: str) -> Callable[..., float]:
        forward = REGISTRY[op].forward

        def compute(*values: float) -> float:
            return forward(scalar, *values)  # type: ignore[no-any-return]

        setattr(self, op, compute)  # found directly from now on
        return compute


NUMBERS = _Numbers()


class Run(NamedTuple):
    """Every number of a tape's run, by entry: what a stage of the graph holds, without the graph.

    ``local[2 * i + p]`` is the local gradient of entry i for its input p and ``shares[2 * i + p]`` what
    that input received from it (a one-input gate's second place is unused); ``adjoint[i]`` is
    d(output)/d(entry i).
    """

    tape: Tape
    values: array[float]
    adjoint: array[float]
    local: array[float]
    shares: array[float]


class Answer(NamedTuple):
    """What the tape computed: the output's value, each input's value and gradient (first use first),
    the warnings of the run (kinks and ties hit, in forward order), and the run itself (its stages)."""

    output: str  # the output's name
    value: float
    inputs: dict[str, float]
    gradients: dict[str, float]
    warnings: list[Notice]
    run: Run


def differentiate(text: str, given: Mapping[str, Any], limits: Limits = Limits()) -> Answer | None:
    """The value and gradients of ``text`` at ``given``, or None: then the usual way says what to say."""
    if not all(type(value) is float or type(value) is int for value in given.values()):
        return None  # arrays, --const, a number marked as underflowed, booleans...
    tape = read(text)
    if tape is None or set(tape.variables) != set(given):
        return None
    if (len(tape) + 1) * _GRAPH_NODES_PER_ENTRY > limits.max_total_elements:
        return None  # near the budget: the graph's own count decides
    try:
        point = [float(given[name]) for name in tape.variables]
    except OverflowError:
        return None
    kinks: list[int] = []
    values = forward(tape, point, kinks)
    if values is None:
        return None
    run = backward(tape, values)
    if run is None:
        return None
    adjoint, last = run.adjoint, len(tape) - 1
    # The names of the output, the gates that hit a kink and their inputs only (all of them: some 130 bytes a gate).
    names = stage_names(tape, {last, *kinks, *(k for entry in kinks for k in (tape.first[entry], tape.second[entry]))})
    return Answer(names[last][1], values[-1], dict(zip(tape.variables, point)),
                  {name: adjoint[entry] for name, entry in tape.variables.items()},
                  kink_notices(tape, kinks, text, names), run)


def forward(tape: Tape, point: list[float], kinks: list[int]) -> array[float] | None:
    """Every entry's value, the entries that hit a kink or a tie added to ``kinks``; None if a value
    is not finite."""
    ops, first, second = tape.ops, tape.first, tape.second
    values = array("d", bytes(8 * len(ops)))
    gates = _GATES
    for i, op in enumerate(ops):
        if op == VARIABLE:
            values[i] = point[first[i]]
            continue
        gate = gates[op]
        j = second[i]
        inputs = (values[first[i]],) if j == _NONE else (values[first[i]], values[j])
        if gate.kink is not None and gate.kink(scalar, *inputs):
            kinks.append(i)
        values[i] = gate.forward(scalar, *inputs)
    # One sum sees any inf or nan (it may also overflow from finite values: then the usual way decides).
    return values if math.isfinite(sum(values)) else None


def backward(tape: Tape, values: array[float]) -> Run | None:
    """d(output)/d(entry) for every entry, the output seeded with 1 as backward.py seeds it, with each
    gate's local gradients and what each of its inputs received (``Run``); None if a gradient or a local
    gradient is not finite, or if a stage does not reach the output (the graph warns of it)."""
    ops, first, second = tape.ops, tape.first, tape.second
    count = len(ops)
    adjoint = array("d", bytes(8 * count))
    local_of, shares = array("d", bytes(16 * count)), array("d", bytes(16 * count))
    arrived = bytearray(count)
    adjoint[count - 1], arrived[count - 1] = 1.0, 1
    gates, numbers, select = _GATES, NUMBERS, scalar.mul0
    for i in range(count - 1, -1, -1):
        op = ops[i]
        if op == VARIABLE:
            continue
        if not arrived[i]:
            return None
        gate = gates[op]
        up = adjoint[i]
        j = second[i]
        operands = (first[i],) if j == _NONE else (first[i], j)
        inputs = [values[k] for k in operands]
        out = values[i]
        selects = gate.selects
        for position, partial in enumerate(gate.partials or ()):
            assert partial is not None  # every gate of OPS has a gradient for every input
            local = partial(numbers, *inputs, out)
            # As backward.py multiplies: a selecting partial with mul0 (the same product for finite numbers).
            share = select(local, up) if position in selects else local * up
            local_of[2 * i + position], shares[2 * i + position] = local, share
            k = operands[position]
            if arrived[k]:
                adjoint[k] += share  # in the order the graph's accumulate adds them
            else:
                adjoint[k], arrived[k] = share, 1
    if not math.isfinite(sum(adjoint) + sum(local_of)):  # the shares add up into the adjoints
        return None
    return Run(tape, values, adjoint, local_of, shares)


def kink_notices(tape: Tape, kinks: list[int], text: str, names: Mapping[int, tuple[int, str]]) -> list[Notice]:
    """The notice the graph writes for each kink or tie hit: "stage 7, t7 = max(t5, x1): max tie: ...";
    ``names``: the stage number and name of each of those gates and of their inputs (stage_names)."""
    notices = []
    for entry in kinks:
        number, name = names[entry]
        operands = [k for k in (tape.first[entry], tape.second[entry]) if k != _NONE]
        # The gate alone, its inputs by name, in a graph of its own: the text the graph's stage has.
        alone = Graph(text)
        alone.nodes = [*(Node(INPUT, (), names[k][1]) for k in operands),
                       Node(OPS[tape.ops[entry]], tuple(range(len(operands))), name)]
        gate = _GATES[tape.ops[entry]]
        notices.append(Notice(name, number, "kink", f"stage {number}, {name} = {gate_text(alone, len(operands))}: "
                                                    f"{gate.kink_note}"))
    return notices


def stage_names(tape: Tape, entries: set[int]) -> dict[int, tuple[int, str]]:
    """The stage number and name the graph gives each of ``entries`` (see ``numbered``)."""
    return {entry: names for entry, names in enumerate(numbered(tape)) if entry in entries}


def all_names(tape: Tape) -> list[tuple[int, str]]:
    """The stage number and name the graph gives every entry (see ``numbered``)."""
    return list(numbered(tape))


def numbered(tape: Tape) -> Iterator[tuple[int, str]]:
    """The stage number and name the graph gives each entry in turn (a variable: 0 and its own name):
    lowering names every gate t1, t2, ... in order, skipping the program's names, and then gives the
    gates that statements name (the output f included) their names."""
    variables = {entry: name for name, entry in tape.variables.items()}
    taken, named = tape.variables.keys() | tape.stages.keys(), tape.named
    number = count = 0
    for entry, op in enumerate(tape.ops):
        if op == VARIABLE:
            yield 0, variables[entry]
            continue
        number += 1
        count += 1
        while f"t{count}" in taken:
            count += 1
        yield number, named.get(entry) or f"t{count}"

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
contributions were not all added up, and a flipped sign. ``VALUE_MISTAKES``, its
sibling, holds the mistakes of an array's gradient as a whole (a factor of N or
2 too many or too few, an indexed update that set instead of adding); the array
mistakes at one gate (a matrix product's factors, a broadcast not summed, a
ReLU mask, a repeated index) are in ``MISTAKES`` with the scalar ones. All are
numpy on whole arrays: no loop over elements. ``wrong_elements`` says in a few
words which elements of a wrong array are wrong ("rows 0 and 3").

A mistake made at one stage spreads linearly to every gradient computed from
it, so a wrong ``dx`` can be traced to a mistake further up (say, a multiply
gate that did not swap its inputs) by one backward pass from that stage.
"""

from __future__ import annotations

import itertools
import operator
import re
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

from bpcli.engine.backends import backend_for, quiet_float_errors
from bpcli.engine.backward import backward
from bpcli.engine.evaluate import evaluate
from bpcli.engine.formulas import to_ast
from bpcli.engine.graph import CONST, INPUT
from bpcli.engine.problem import Problem
from bpcli.engine.record import Record, field, replace
from bpcli.engine.shapes import size as size_of
from bpcli.engine.syntax.printer import to_text
from bpcli.engine.values import Constant
from bpcli.views.numbers import format_value

if TYPE_CHECKING:
    from bpcli.analyses.kinks import OneSided

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(#[0-9]+)?\Z")  # c#1: a version of a reassigned name
MAX_FORK_SUBSETS = 10  # uses of a value beyond which only one contribution, or all but one, is tried
MAX_TRACED_STAGES = 100  # larger graphs are not searched for a mistake further up
# Array mistakes further up are each carried back by one backward pass: the elements of all of them together
# are bounded, so a large array does not make a check slow.
MAX_TRACED_ELEMENTS = 1_000_000
MAX_SIZES = 8  # sizes of the inputs' axes tried as a missing or extra factor N
MAX_LABEL_GATES = 4  # unnamed gates written out in a label ("via f = x * y + x") before bpcli's names are used


def show(value: Any) -> str:
    return format_value(value, 4)


class Use(Record, frozen=True):
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
    attrs: Mapping[str, Any] = field(default_factory=dict)  # the gate's parameters (a subscript's key)
    named: Mapping[str, Any] = field(default_factory=dict)  # every value the program names, by name
    sizes: Mapping[int, str] = field(default_factory=dict)  # the sizes of the inputs' axes (Truth.sizes)

    @cached_property
    def readings(self) -> list[tuple[Mistake, Any, str]]:
        """Every wrong gradient the mistakes table says could flow back through this use (worked out
        once: a backward file asks at each wrong line, and a matrix product's readings cost products)."""
        return [(mistake, wrong, detail) for mistake in MISTAKES for wrong, detail in mistake.readings(self)
                if not _equal(wrong, self.contribution)]

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


class Mistake(Record, frozen=True):
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


# ---- mistakes of arrays: shapes, axes, masks and subscripts -----------------------------


def _matmul_factors(u: Use) -> list[tuple[Any, str]]:
    """dD.dot(X.T) written X.T.dot(dD), dD.dot(X), ...: every product of the upstream gradient and the
    other factor, either way round and either one transposed, whose shapes fit, but the right one."""
    if u.op != "matmul" or getattr(u.upstream, "ndim", 0) != 2 or getattr(u.other, "ndim", 0) != 2:
        return []
    upstream, other = f"d{u.stage_label}", u.other_name
    right = f"{upstream} @ {other}.T" if u.position == 0 else f"{other}.T @ {upstream}"
    readings = []
    products = _products(u.upstream, upstream, u.other, other, right, u.contribution)
    # The notes' usual slips first (X.T @ dD, dD @ X: the upstream gradient itself, untransposed), so
    # that where two products agree (a symmetric one) the hint names the likelier one.
    for text, wrong in sorted(products, key=lambda product: f"{upstream}.T" in product[0]):
        if text != right:
            fits = ("has that shape too here (the shapes happen to fit), but other numbers"
                    if wrong.shape == _shape(u.own) else f"has shape {_shape_text(wrong)}")
            readings.append((wrong, f"in {u.where}, d{u.name} = {right}, of shape {_shape_text(u.own)}; "
                                    f"{text} {fits}"))
    return readings


def _products(up: Any, up_text: str, other: Any, other_text: str, right: str, true: Any) -> Iterator[tuple[str, Any]]:
    """Each product of ``up`` or ``up.T`` with ``other`` or ``other.T``, either way round, whose shapes fit.

    (A @ B).T is B.T @ A.T, so the eight products come in transposed pairs: one matrix product makes
    both, and the true gradient (``right``) gives its pair for nothing. Three products at most."""
    ups = ((up, up_text), (up.T, f"{up_text}.T"))
    others = ((other, other_text), (other.T, f"{other_text}.T"))
    for (a, a_text), (b, b_text) in itertools.product(ups, others):
        if a.shape[1] != b.shape[0]:
            continue
        text, pair = f"{a_text} @ {b_text}", f"{_transposed(b_text)} @ {_transposed(a_text)}"
        product = true if right == text else true.T if right == pair else a @ b
        yield text, product
        yield pair, product.T


def _transposed(text: str) -> str:
    return text[:-2] if text.endswith(".T") else f"{text}.T"


def _not_summed(u: Use) -> list[tuple[Any, str]]:
    """A broadcast input's gradient not summed back to its shape (db = dout), or summed over other axes."""
    if u.op not in ("add", "sub", "mul") or not hasattr(u.upstream, "shape") or _shape(u.own) == _shape(u.upstream):
        return []
    import numpy as np  # numpy only where arrays are (start-up)

    stage = f"d{u.stage_label}"
    if u.op == "mul":
        unsummed, flowing = u.upstream * u.other, f"{stage} * {u.other_name}"
    elif u.op == "sub" and u.position == 1:
        unsummed, flowing = -u.upstream, f"-{stage}"
    else:
        unsummed, flowing = u.upstream, stage
    right = _broadcast_axes(unsummed.shape, _shape(u.own))
    rule = (f"in {u.where}, {u.name} (shape {_shape_text(u.own)}) is broadcast to {_shape_text(unsummed)}, so "
            f"d{u.name} = {_summed(flowing, right)}")
    readings = [(unsummed, f"{rule}; not summed, d{u.name} = {flowing} has shape {_shape_text(unsummed)}")]
    if unsummed.ndim <= MAX_SUMMED_AXES:
        for size in range(1, unsummed.ndim + 1):
            for axes in itertools.combinations(range(unsummed.ndim), size):
                if axes != right:
                    wrong = np.sum(unsummed, axis=axes)
                    readings.append((wrong, f"{rule}; {_summed(flowing, axes)} sums over the wrong axes "
                                            f"(shape {_shape_text(wrong)})"))
    return readings


def _broadcast_axes(broadcast: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes a value of ``shape`` was broadcast along to make ``broadcast`` (numpy's rules)."""
    extra = len(broadcast) - len(shape)
    return tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and broadcast[extra + i] != 1)


def _summed(text: str, axes: tuple[int, ...]) -> str:
    axis = str(axes[0]) if len(axes) == 1 else str(axes)
    return f"np.sum({text}, axis={axis})"


def _masked(u: Use) -> list[tuple[Any, str]]:
    """A ReLU's mask at the wrong boundary (x >= 0), or the mask of another array of the same shape."""
    import numpy as np  # numpy only where arrays are (start-up)

    if not hasattr(u.own, "shape") or not _is_relu(u):
        return []

    rule = f"in {u.where}, d{u.name} = d{u.stage_label} * ({u.name} > 0)"
    zeros = int(np.count_nonzero(u.own == 0))
    readings = [(u.upstream * (u.own >= 0), f"{rule}; with ({u.name} >= 0) the gradient also passes where "
                                            f"{u.name} is exactly 0 ({zeros} of {u.own.size} elements)")]
    # The mask of another array: a named value of the same shape, or the upstream gradient itself.
    masks = [*((name, value) for name, value in u.named.items() if name != u.name), (f"d{u.stage_label}", u.upstream)]
    for name, value in masks:
        if _shape(value) == _shape(u.own):
            differ = int(np.count_nonzero((value > 0) != (u.own > 0)))
            if differ:
                readings.append((u.upstream * (value > 0), f"{rule}; with the mask of {name} ({name} > 0), "
                                                           f"it differs in {differ} of {u.own.size} elements"))
    return readings


def _tie_masked(u: Use) -> list[tuple[Any, str]]:
    """np.maximum(0, x) where x is exactly 0: a tie, which the truth splits evenly, where a mask
    (the assignment's dx = dout * (x > 0), or >= 0) gives all or nothing."""
    import numpy as np  # numpy only where arrays are (start-up)

    if u.op != "max" or not hasattr(u.own, "shape") or not _is_relu(u):
        return []
    zeros = int(np.count_nonzero(u.own == 0))
    if not zeros:
        return []
    tie = (f"in {u.where}, {u.name} is exactly 0 at {zeros} of {u.own.size} elements, where the gradient is "
           f"split, half to {u.name}")
    return [(u.upstream * (u.own > 0), f"{tie}; the mask ({u.name} > 0) gives it none there, which is "
                                       f"relu({u.name})'s gradient: with the forward pass written relu({u.name}), or "
                                       "an input without exact zeros, it passes"),
            (u.upstream * (u.own >= 0), f"{tie}; the mask ({u.name} >= 0) gives it all")]


def _is_relu(u: Use) -> bool:
    """relu(x), np.maximum(x, 0), or x * (x > 0): the gradient passes where x > 0."""
    import numpy as np  # numpy only where arrays are (start-up)

    if u.op == "relu" or (u.op == "max" and not hasattr(u.other, "shape") and u.other == 0):
        return True
    return (u.op == "mul" and getattr(u.other, "dtype", None) == np.bool_ and _shape(u.other) == _shape(u.own)
            and bool(np.array_equal(u.other, u.own > 0)))


def _rescaled_use(u: Use) -> list[tuple[Any, str]]:
    """What flows back through one gate with a factor of 2 or N too many or too few (dxmu += 2 * xmu * dvar
    where the mean's / N was due)."""
    if getattr(u.contribution, "size", 1) < 2:
        return []
    readings = []
    for size, where in {2: "", **u.sizes}.items():
        n = "2" if size == 2 else f"N = {size} ({where})"
        readings.append((u.contribution * size, f"in {u.where}, {u.name} gets {size} times what flows back "
                                                f"through it: a / {n} is missing, or a factor {n} extra"))
        readings.append((u.contribution / size, f"in {u.where}, {u.name} gets what flows back through it / "
                                                f"{size}: an extra / {n}, or a factor {n} missing"))
    return readings


def _set_not_added(u: Use) -> list[tuple[Any, str]]:
    """A subscript's gradient written with ``=`` where a repeated index must add up (np.add.at)."""
    if u.op != "index" or u.position != 0:
        return []
    import numpy as np  # numpy only where arrays are (start-up)

    from bpcli.engine import indexing

    wrong = np.zeros(_shape(u.own))
    try:
        wrong[indexing.numpy_key(u.attrs["key"], u.operands[1:])] = u.upstream  # a repeated index: the last write
    except (IndexError, ValueError, KeyError):
        return []
    return [(wrong, f"in {u.where}, an element picked several times gets d{u.stage_label} added once per "
                    f"pick (np.add.at(d{u.name}, ..., d{u.stage_label})); with d{u.name}[...] = "
                    f"d{u.stage_label} a repeated index keeps only its last write")]


FACTOR_LESSON = ("the backward pass has each factor of the forward pass exactly once: a loss averaged over "
                 "N examples (/ N) gives every gradient one factor 1 / N, x**2 one factor 2")
MISTAKES: tuple[Mistake, ...] = (
    Mistake("flipped-sign", "a flipped sign", _flipped),
    Mistake("multiply-not-swapped",
            "a multiply gate swaps its inputs: each input gets the other input's value times the upstream gradient",
            _not_swapped),
    Mistake("add-scaled", "an add gate distributes the upstream gradient unchanged to every input", _scaled),
    Mistake("max-misrouted",
            "a max or min gate routes the whole upstream gradient to the input it picked",
            _misrouted),
    Mistake("matmul-factors",
            "dimension analysis: the gradient on a factor of a matrix product has that factor's shape, and "
            "exactly one product of the upstream gradient and the other factor gives it",
            _matmul_factors),
    Mistake("broadcast-not-summed",
            "a value broadcast in the forward pass (a bias added to every row) gets the upstream gradient "
            "summed over the axes it was broadcast along (db = np.sum(dout, axis=0))",
            _not_summed),
    Mistake("maximum-tie",
            "where x is exactly 0, np.maximum(0, x) is not relu(x): the two sides tie there and the gradient "
            "is split evenly between them (as torch.maximum and jnp.maximum do), where a mask gives all or "
            "nothing; away from 0 the mask is right",
            _tie_masked),
    Mistake("relu-mask",
            "a ReLU passes the upstream gradient where its own input is > 0 and blocks it where the input "
            "is <= 0 (dx = dout * (x > 0))",
            _masked),
    Mistake("index-set",
            "an indexed update accumulates: the gradient of a subscript adds up at a repeated index "
            "(np.add.at, dx[idx] += ...), where dx[idx] = ... replaces what is there",
            _set_not_added),
    Mistake("factor", FACTOR_LESSON, _rescaled_use),
)
MAX_SUMMED_AXES = 4  # the axes of a broadcast gradient whose every sum is tried (2**4 - 1 sums)


class ValueMistake(Record, frozen=True):
    """A common mistake in a value's gradient as a whole (its every element, or the elements a subscript picks)."""

    kind: str
    lesson: str
    readings: Callable[[Truth, int], list[tuple[Any, str, str]]]  # (the gradient instead, where, how it reads)
    # Tried before the mistakes at one gate (a factor of the whole array reads better than the same factor at
    # one of its gates); a flipped sign after them, where the gate that flipped it can be named.
    first: bool = True


def _rescaled(truth: Truth, node: int) -> list[tuple[Any, str, str]]:
    """An array's gradient with a factor of 2, or of N (a size of an input's axis), too many or too few."""
    gradient, name = truth.gradient(node), truth.label(node)
    if getattr(gradient, "size", 1) < 2 or node == truth.graph.output:  # the output's gradient is given
        return []
    readings = []
    for size, where in {2: "", **truth.sizes}.items():
        n = "2" if size == 2 else f"N = {size} ({where})"
        readings.append((gradient * size, "every element", f"d{name} is {size} times the true gradient in every "
                                                      f"element: a / {n} is missing, or a factor {n} extra"))
        readings.append((gradient / size, "every element", f"d{name} is the true gradient / {size} in every "
                                                      f"element: an extra / {n}, or a factor {n} missing"))
    return readings


def _flipped_whole(truth: Truth, node: int) -> list[tuple[Any, str, str]]:
    """An array's gradient with the sign of every element flipped (at a fork too: all of it, not one part)."""
    gradient, name = truth.gradient(node), truth.label(node)
    if getattr(gradient, "size", 1) < 2 or node == truth.graph.output:
        return []
    return [(-gradient, "every element", f"d{name} has the sign of every element flipped")]


def _picked_set(truth: Truth, node: int) -> list[tuple[Any, str, str]]:
    """dx[idx] = -1 for dx[idx] -= 1: the gradient right but at the elements a subscript picks, which
    hold the subscript's own gradient alone (set) instead of it added to the rest."""
    gradient, graph = truth.gradient(node), truth.graph
    if not hasattr(gradient, "shape"):
        return []
    from bpcli.engine import indexing

    readings = []
    uses = truth.uses(node)
    for gate in truth.subscripts:
        picked = graph.nodes[gate].inputs
        if [use.stage for use in uses] == [truth.name(gate)]:
            continue  # the subscript is all the value feeds: its own reading at that gate says more (repeats)
        if (_shape(truth.value(picked[0])) != gradient.shape or node > picked[0]
                or not graph.ancestors(picked[0])[node]):
            continue
        wrong = gradient.copy()
        try:
            wrong[indexing.numpy_key(graph.nodes[gate].attrs["key"], tuple(truth.value(i) for i in picked[1:]))] = \
                truth.gradient(gate)
        except (IndexError, ValueError):
            continue
        subscript, picked_gradient = truth.gate_label(gate), truth.gradient(gate)
        readings.append((wrong, subscript, (
            f"d{truth.label(node)} is right except at the {getattr(picked_gradient, 'size', 1)} elements "
            f"{subscript} picks, which hold their own gradient {show(picked_gradient)} alone, "
            f"not added to the rest of d{truth.label(node)}")))
    return readings


VALUE_MISTAKES: tuple[ValueMistake, ...] = (
    ValueMistake("flipped-sign", "a flipped sign", _flipped_whole, first=False),
    ValueMistake("factor", FACTOR_LESSON, _rescaled),
    ValueMistake("index-set",
                 "an indexed update accumulates: dx[idx] -= 1 subtracts 1 from what is there, "
                 "dx[idx] = -1 replaces it",
                 _picked_set),
)
FORK_LESSON = "gradients add up at forks: a value used by several gates gets the sum of what flows back from each"


def hint(lesson: str, detail: str) -> str:
    """The rule a mistake breaks, then the numbers that show it (names keep their case)."""
    return f"{lesson[0].upper()}{lesson[1:]} — {detail}."


class Diagnosis(Record, frozen=True):
    """Where a wrong gradient parts from the truth, and the mistake its numbers show (if any)."""

    stage: str | None  # the stage (or value) where the numbers part from the truth
    mistake: str | None  # a Mistake's kind, or "fork"; None when no common mistake explains the number
    message: str
    hint: str | None = None
    line: int | None = None  # the backward file's line, when there is one

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "line": self.line, "mistake": self.mistake, "message": self.message,
                "hint": self.hint}


class Candidate(Record, frozen=True):
    """A mistake at one value, as the change it makes to that value's gradient."""

    delta: Any  # the student's gradient minus the true one, at the value the mistake is made at
    mistake: str
    stage: str  # the stage (or the forked value) where the numbers part from the truth
    where: str  # the same for a sentence: "stage f = q * z", "the fork x"
    hint: Callable[[], str]  # written only for the candidate that explains the number
    value: Any = None  # with no delta: the gradient a wrong-shaped mistake gives (dX = dD.T @ W), not truth + delta


class Truth:
    """The true numbers of backpropagation, by graph node, read off an evaluated GradResult."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.graph = result.graph
        self.adjoints = result.adjoints
        # What the backward passes that trace a mistake further up may compute, all of them together.
        self.tracing_budget = result.problem.limits.max_total_elements
        # Worked out once per node as they are asked for (one truth serves a whole class in grade).
        self._uses_of: dict[int, list[Use]] = {}
        self._contributions_of: dict[int, list[tuple[str, Any]]] = {}
        self._units: dict[int, dict[int, Any]] = {}
        self._value_readings: dict[int, list[tuple[ValueMistake, Any, str, str]]] = {}
        self._wrong_above: tuple[Mapping[int, Any], list[int]] | None = None  # the last student's table

    @cached_property
    def one_sided(self) -> OneSided:
        """The one-sided gradients at the kinks and ties the run met (analyses.kinks), worked out once."""
        from bpcli.analyses.kinks import OneSided  # kinks reads a Truth: imported where one is asked for

        return OneSided(self)

    @cached_property
    def names(self) -> dict[str, int]:
        """Every value a person can name: inputs, stages and named constants of the forward program."""
        named = {}
        for index, node in enumerate(self.graph.nodes):
            if node.origin is None and node.span is not None and _IDENTIFIER.match(node.name):
                named[node.name] = index
        # A stage that only renames (a = x) is the value it renames: addressable by its own name too.
        return {**self.graph.aliases, **named}

    @cached_property
    def named_values(self) -> dict[str, Any]:
        """The value of everything a person can name, by name."""
        return {name: self.value(node) for name, node in self.names.items()}

    @cached_property
    def sizes(self) -> dict[int, str]:
        """Each size of an axis of an input (2 or more), and the first place it is found: 5 -> "x.shape[0]"."""
        found: dict[int, str] = {}
        for name, value in self.result.inputs.items():
            for axis, size in enumerate(_shape(value)):
                if size >= 2 and size not in found and len(found) < MAX_SIZES:
                    found[size] = f"{name}.shape[{axis}]"
        return found

    @cached_property
    def subscripts(self) -> list[int]:
        """The subscripts of the forward program (x[idx]), whose gradients an indexed update writes."""
        return [i for i, n in enumerate(self.graph.nodes) if n.op == "index" and n.origin is None]

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
        cache = self._uses_of
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
                attrs=self.graph.nodes[gate].attrs or {}, named=self.named_values, sizes=self.sizes,
            ))
        return uses

    def contributions(self, node: int) -> list[tuple[str, Any]]:
        """What adds up to the node's gradient: (where it comes from, value); the output gets the seed."""
        cache = self._contributions_of
        if node not in cache:
            cache[node] = self._contributions(node)
        return cache[node]

    def _contributions(self, node: int) -> list[tuple[str, Any]]:
        if node == self.graph.output:
            return [(f"the upstream gradient of {self.name(node)}", self.seed)]
        return [(f"via {use.expr}", use.contribution) for use in self.uses(node)]

    @cached_property
    def _consumers(self) -> list[list[int]]:
        """The stages of the forward program that read each node and carry a gradient back to it."""
        graph = self.graph
        feeds = graph.ancestors(graph.output)
        consumers: list[list[int]] = [[] for _ in range(graph.output + 1)]
        for index in range(graph.output + 1):
            n = graph.nodes[index]
            if n.origin is None and n.op not in (INPUT, CONST) and feeds[index]:
                for i in dict.fromkeys(n.inputs):
                    consumers[i].append(index)
        return consumers

    def downstream_of(self, node: int, at_most: int | None = None) -> list[int] | None:
        """The stages computed from ``node`` that carry a gradient back, nearest the output first; None
        when there are more than ``at_most`` (found by visiting at most that many)."""
        reached: set[int] = set()
        work = list(self._consumers[node])
        while work:
            index = work.pop()
            if index not in reached:
                if at_most is not None and len(reached) == at_most:
                    return None
                reached.add(index)
                work.extend(self._consumers[index])
        return sorted(reached, reverse=True)

    def nearest_wrong_above(self, node: int, student: Mapping[int, Any],
                            matches: Callable[[int, Any], bool]) -> int | None:
        """The stage computed from ``node`` nearest the output whose gradient the student gave wrong.

        Found for every node in one pass back from the output, the first time a student's
        numbers are diagnosed (``matches`` must judge them the same way at every call with
        them): each diagnosis is then a lookup, and N wrong answers cost N, not N**2.
        """
        table = self._wrong_above
        if table is None or table[0] is not student:  # one table, the last student's (grade has many)
            consumers = self._consumers
            wrong = [i in student and not matches(i, self.gradient(i)) for i in range(len(consumers))]
            highest = [-1] * len(consumers)
            for index in range(len(consumers) - 1, -1, -1):
                for consumer in consumers[index]:
                    highest[index] = max(highest[index], highest[consumer], consumer if wrong[consumer] else -1)
            table = self._wrong_above = (student, highest)
        found = table[1][node]
        return None if found < 0 else found

    def spread(self, source: int, delta: Any) -> dict[int, Any]:
        """How an error ``delta`` in d(source) shows in every gradient computed from it (backprop is linear)."""
        if not hasattr(delta, "shape"):
            unit = self._unit_spread(source)
            return {node: delta * value for node, value in unit.items()}
        return self._backward_from(source, delta)

    def _unit_spread(self, source: int) -> dict[int, Any]:
        cache = self._units
        if source not in cache:
            cache[source] = self._backward_from(source, 1.0)
        return cache[source]

    def _backward_from(self, source: int, delta: Any) -> dict[int, Any]:
        """One backward pass from ``source``, or OverBudget if the passes so far and it would compute more
        numbers than the budget."""
        graph = self._forward_copy
        seed = graph.add(CONST, (), "delta", value=delta)
        adjoints = backward(graph, output=source, seed=seed)
        roots = list(adjoints.total.values())
        computed = sum(size_of(graph.shape(i)) for i, needed in enumerate(graph.live(roots)) if needed)
        if computed > self.tracing_budget:
            raise OverBudget
        self.tracing_budget -= computed
        evaluation = evaluate(graph, self.result.inputs, roots=roots)
        return {node: evaluation.values[total] for node, total in adjoints.total.items()}

    @cached_property
    def _forward_copy(self) -> Any:
        """The forward graph again, to append backward passes to without touching the result's graph."""
        return self.forward_copy()

    def forward_copy(self) -> Any:
        """A new copy of the forward graph, bound and shaped as the result's (its nodes numbered alike)."""
        graph = self.result.graph
        # The --const inputs stay constants (index inputs are found again by lowering).
        given = {name: Constant(value) if name in graph.constant_inputs else value
                 for name, value in self.result.inputs.items()}
        return Problem.of(self.result.source, given, limits=self.result.problem.limits).graph


# ---- finding the mistake ---------------------------------------------------------------


def value_readings(truth: Truth, node: int, first: bool) -> Iterator[tuple[ValueMistake, Any, str, str]]:
    """Every wrong gradient of ``node`` as a whole that the value mistakes table gives: (mistake, the
    gradient instead, where, how it reads), those tried before the mistakes at one gate or after them;
    worked out once per node."""
    cache = truth._value_readings
    if node not in cache:
        gradient = truth.gradient(node)
        cache[node] = [(mistake, wrong, where, detail) for mistake in VALUE_MISTAKES
                       for wrong, where, detail in mistake.readings(truth, node) if not _equal(wrong, gradient)]
    return (reading for reading in cache[node] if reading[0].first == first)


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
    yield from _value_candidates(truth, node, first=True)
    for use in truth.uses(node):
        for mistake, wrong, detail in use.readings:
            delta = _fitting(operator.sub, wrong, use.contribution)
            if delta is not None or len(parts) == 1:  # one use: the wrong-shaped gradient is all there is
                yield Candidate(delta, mistake.kind, use.stage, use.where, partial(hint, mistake.lesson, detail),
                                wrong if delta is None else None)
    yield from _value_candidates(truth, node, first=False)


def _value_candidates(truth: Truth, node: int, first: bool) -> Iterator[Candidate]:
    gradient = truth.gradient(node)
    for value_mistake, wrong, where, detail in value_readings(truth, node, first):
        yield Candidate(wrong - gradient, value_mistake.kind, truth.name(node), where,
                        partial(hint, value_mistake.lesson, detail))


def _fitting(operation: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    """``operation(a, b)`` on a wrong-shaped gradient and a right one, or None where their shapes do not
    broadcast (that candidate then matches nothing)."""
    try:
        return operation(a, b)
    except ValueError:
        return None


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
    earlier = truth.nearest_wrong_above(node, student, matches)
    if earlier is not None:
        return Diagnosis(truth.name(earlier), None,
                         f"d{name} follows from d{truth.label(earlier)}, which is already wrong")
    for candidate in candidates(truth, node):
        value = candidate.value if candidate.delta is None else _fitting(
            operator.add, truth.gradient(node), candidate.delta)
        if value is not None and matches(node, value):
            return Diagnosis(candidate.stage, candidate.mistake, f"d{name} goes wrong at {candidate.where}",
                             candidate.hint())
    above = truth.downstream_of(node, at_most=MAX_TRACED_STAGES)
    if above is not None:
        found = _traced(truth, node, [k for k in above if k not in student], matches)
        if found is not None:
            return found
    return Diagnosis(truth.name(node), None, f"d{name} is wrong, and no common mistake explains its number")


class OverBudget(Exception):
    """Tracing a mistake further up would compute more numbers than the budget (--max-total-elements)."""


def _traced(truth: Truth, node: int, unknown: list[int], matches: Callable[[int, Any], bool]) -> Diagnosis | None:
    """A mistake at a stage further up, whose gradient the student did not give, that backpropagation
    carries to the student's number at ``node``. Each array candidate costs a backward pass: together
    they are bounded by MAX_TRACED_ELEMENTS elements, and by the budget in the numbers they compute
    (the search stops there, and says so)."""
    try:
        return _traced_within_budget(truth, node, unknown, matches)
    except OverBudget:
        return Diagnosis(
            truth.name(node), None,
            f"d{truth.label(node)} is wrong; no common mistake at its own stage explains its number, and looking "
            f"for one further up would compute more than the budget of "
            f"{truth.result.problem.limits.max_total_elements:,} numbers, which --max-total-elements raises",
        )


def _traced_within_budget(truth: Truth, node: int, unknown: list[int],
                          matches: Callable[[int, Any], bool]) -> Diagnosis | None:
    name, traced = truth.label(node), 0
    for source in unknown:
        for candidate in candidates(truth, source):
            if candidate.delta is None or _shape(candidate.delta) != _shape(truth.gradient(source)):
                continue  # a wrong-shaped gradient further up is not carried back
            traced += max(1, getattr(candidate.delta, "size", 1))
            if traced > MAX_TRACED_ELEMENTS:
                return None
            predicted = truth.gradient(node) + truth.spread(source, candidate.delta).get(node, 0.0)
            if matches(node, predicted):
                return Diagnosis(
                    candidate.stage, candidate.mistake,
                    f"d{name} is what backpropagation gives after a mistake at {candidate.where}, "
                    f"on the way back to {name}",
                    candidate.hint(),
                )
    return None


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


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(getattr(value, "shape", ()))


def _shape_text(value: Any) -> str:
    from bpcli.engine.shapes import show as show_shape

    return show_shape(_shape(value))


# ---- which elements are wrong ----------------------------------------------------------

ELEMENTS_NAMED = 4  # wrong rows, columns or elements named one by one


def wrong_elements(mine: Any, true: Any, allowed: Any) -> str | None:
    """Which elements of an array are wrong, in a few words ("rows 0 and 3", "every element, by a factor
    of 5", "3 of 12 elements"); None for a number or arrays of different shapes."""
    if not hasattr(mine, "shape") or _shape(mine) != _shape(true) or mine.size < 2:
        return None
    import numpy as np  # numpy only where arrays are (start-up)

    from bpcli.analyses.expected import close

    mine, true = np.asarray(mine, dtype=np.float64), np.asarray(true, dtype=np.float64)
    wrong = ~close(mine, true, allowed)
    count = int(np.count_nonzero(wrong))
    if count == mine.size:
        return _every_element(mine, true, allowed)
    if count > 1 and not np.any(wrong & (true == 0)) and (scaled := _scaled_by(mine, true, allowed)) is not None:
        return f"every nonzero element is wrong, {_by(scaled, mine, true, allowed)}"  # dx without its / N: 0s stay
    if mine.ndim == 2:
        for axis, word in ((1, "row"), (0, "column")):
            whole = np.all(wrong, axis=axis)
            if np.array_equal(np.any(wrong, axis=axis), whole):  # the wrong elements fill their rows (columns)
                return _numbered(word, np.flatnonzero(whole), wrong.shape[1 - axis])
    if mine.ndim == 1:
        return _numbered("element", np.flatnonzero(wrong), mine.size)
    if count <= ELEMENTS_NAMED:
        places = [str(tuple(int(i) for i in place)) for place in np.argwhere(wrong)]
        return f"element{'s' if count > 1 else ''} {_and(places)} {'are' if count > 1 else 'is'} wrong"
    return f"{count} of {mine.size} elements are wrong"


def _every_element(mine: Any, true: Any, allowed: Any) -> str:
    factor = _scaled_by(mine, true, allowed)
    return "every element is wrong" if factor is None else f"every element is wrong, {_by(factor, mine, true, allowed)}"


def _by(factor: float, mine: Any, true: Any, allowed: Any) -> str:
    return "with its sign flipped" if _all_close(mine, -true, allowed) else f"by a factor of {show(factor)}"


def _scaled_by(mine: Any, true: Any, allowed: Any) -> float | None:
    """The factor k with mine = k * true in every element (within ``allowed``), if there is one."""
    import numpy as np  # numpy only where arrays are (start-up)

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        scale = float(np.sum(true * true))
        factor = float(np.sum(mine * true)) / scale if scale else 0.0
        if factor and np.isfinite(factor) and _all_close(mine, factor * true, allowed):
            return factor
    return None


def _all_close(mine: Any, true: Any, allowed: Any) -> bool:
    import numpy as np  # numpy only where arrays are (start-up)

    from bpcli.analyses.expected import close

    return bool(np.all(close(mine, true, allowed)))


def _numbered(word: str, indices: Any, of: int) -> str:
    """rows 0 and 3 are wrong; column 2 is wrong; 7 of 10 elements are wrong (past a few, a count)."""
    if len(indices) > ELEMENTS_NAMED:
        return f"{len(indices)} of {of} {word}s are wrong"
    if len(indices) == 1:
        return f"{word} {int(indices[0])} is wrong"
    return f"{word}s {_and([str(int(i)) for i in indices])} are wrong"


def _and(labels: list[str]) -> str:
    """0, 1 and 3."""
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def summarised(diagnosis: Diagnosis | None, mine: Any, true: Any, allowed: Any) -> Diagnosis | None:
    """The diagnosis with which elements are wrong added to its message (for arrays of the right shape)."""
    summary = None if diagnosis is None or allowed is None else wrong_elements(mine, true, allowed)
    if diagnosis is None or summary is None:
        return diagnosis
    return replace(diagnosis, message=f"{diagnosis.message} ({summary})")


def _shaped(value: Any, like: Any) -> Any:
    """A gate-shaped gradient summed back to the shape of the input it flows to (broadcasting)."""
    if not hasattr(value, "shape") or value.shape == getattr(like, "shape", ()):
        return value
    from bpcli.engine.backends import array  # the backend the values need

    return array.unbroadcast(value, like)

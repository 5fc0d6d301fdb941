"""Gradient checking: backpropagation's gradient against a centred finite difference.

For every input element x_i, with a step that scales with the input,
h_i = h·max(1, |x_i|) (so a large x_i + h_i still differs from x_i),

    numeric = (f(x + h_i) - f(x - h_i)) / (2 h_i)
    error   = |analytic - numeric| / max(|analytic| + |numeric|, 1e-12)

read as the lecture reads it: above 1e-2 wrong, 1e-4 to 1e-2 suspicious,
1e-7 to 1e-4 acceptable near kinks, below 1e-7 good. A non-scalar output is
checked through sum(upstream · output), whose gradient is the vector-Jacobian
product backpropagation computes.

Two things make a finite difference lie. Near a kink (relu at 0, a max tie,
abs at 0) within h_i of the input, the centred difference averages the two
sides: the check warns, shows the one-sided differences, and accepts a
gradient that agrees with either side. And when the difference is smaller
than the rounding error of the difference itself (about 10·ε·|f| / h_i), the
check cannot tell, and says "inconclusive" rather than "wrong".
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from bpcli.analyses.grad import grad_shown
from bpcli.analyses.result import Result
from bpcli.engine.backends import backend_for
from bpcli.engine.budget import room_left
from bpcli.engine.errors import EXIT_CHECK_FAILED, EXIT_OK, BpcliError
from bpcli.engine.evaluate import ShapeChanged, evaluate
from bpcli.engine.formulas import gate_text
from bpcli.engine.gates import REGISTRY
from bpcli.engine.graph import INPUT
from bpcli.engine.indexing import IndexProblem
from bpcli.engine.limits import Limits
from bpcli.engine.problem import Notice
from bpcli.engine.record import NamedTuple, Record, field
from bpcli.engine.shapes import size

EPSILON = 2.0**-52
DEFAULT_H = 1e-5
DEFAULT_MAX_ERROR = 1e-4
DEFAULT_MAX_CHECKS = 10_000
# Each check evaluates the expression twice. Unless told how many to check,
# gradcheck checks no more elements than fit this many element-evaluations
# (about ten seconds): all 10,000 of a small input, a few hundred of randn:1000,1000.
WORK_BUDGET = 1_000_000_000
BATCH_ELEMENTS = 1 << 20  # numbers per node in one batch of moved copies (8 MB)
ROUNDING_FACTOR = 10.0  # rounding error of a difference quotient: about 10·ε·|f| / h
FLOOR = 1e-12
# The lecture's reading of a relative error, from the best band down.
READINGS = ((1e-7, "good"), (1e-4, "acceptable near kinks"), (1e-2, "suspicious"), (float("inf"), "wrong"))
INCONCLUSIVE = "inconclusive"


class ElementCheck(NamedTuple):
    """One input element: backpropagation's gradient against finite differences."""

    input: str
    # The field shadows tuple.index (a method); it is the public name, in results and JSON alike.
    index: tuple[int, ...]  # type: ignore[assignment]  # () for a number
    value: float
    analytic: float
    numeric: float  # the centred difference
    step: float  # the h actually used: h·max(1, |x|)
    error: float  # the relative error (at a kink: against the closest of centred, left and right)
    reading: str
    passed: bool
    kink: bool = False  # a kink lies within the step: the one-sided differences are given
    left: float | None = None
    right: float | None = None

    @property
    def label(self) -> str:
        return self.input if not self.index else f"{self.input}[{','.join(map(str, self.index))}]"


class GradcheckResult(Result, Record):
    """Every input element's analytic gradient next to its centred finite difference.

    ``checks`` has an ElementCheck per element checked (analytic, numeric,
    error, reading, and the one-sided differences where a kink lies within
    the step); ``passed`` is whether every error is within ``max_error``.

        >>> import bpcli
        >>> r = bpcli.gradcheck("relu(x) * y", x=0, y=3)
        >>> r.passed, [(c.label, c.kink, c.left, c.right) for c in r.checks][0]
        (True, ('x', True, 0.0, 3.0))
    """

    source: str
    output: str
    inputs: dict[str, Any]
    h: float
    max_error: float
    checks: list[ElementCheck]
    warnings: list[Notice] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.passed else EXIT_CHECK_FAILED

    @property
    def worst(self) -> float:
        counted = [c.error for c in self.checks if c.reading != INCONCLUSIVE]
        return max(counted, default=0.0)


def relative_error(analytic: float, numeric: float) -> float:
    return abs(analytic - numeric) / max(abs(analytic) + abs(numeric), FLOOR)


def reading(error: float) -> str:
    return next((word for bound, word in READINGS if error < bound), "wrong")  # nan: a gradient of nan


def gradcheck(
    expression: str,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    h: float = DEFAULT_H,
    max_error: float = DEFAULT_MAX_ERROR,
    upstream: Any = None,
    max_checks: int | None = None,
    seed: int = 0,
    limits: Limits = Limits(),
    **values: Any,
) -> GradcheckResult:
    """Compare the gradient of every input element with a centred finite difference.

    With more than ``max_checks`` elements, that many are chosen at random
    (from ``seed``) and a warning says so. By default that is 10,000, or
    fewer where two evaluations per check would exceed ``WORK_BUDGET``.

        >>> import bpcli
        >>> r = bpcli.gradcheck("sigmoid(w * x)", w=2, x=-1)
        >>> r.passed, [c.reading for c in r.checks]
        (True, ['good', 'good'])
    """
    if not (h > 0 and math.isfinite(h)):  # inf or nan would make every check inconclusive, and pass
        raise BpcliError(f"the step h must be a finite number above 0, not {h}")
    if not (max_error >= 0 and math.isfinite(max_error)):
        raise BpcliError(f"--max-error must be a finite number, 0 or more, not {max_error}")
    # The graph at once (stages=True): the checks evaluate it again with each input moved, so a large
    # expression gains nothing on the flat tape, and the tape's module is not even imported (start-up).
    result = grad_shown(expression, {**(bindings or {}), **values}, upstream=upstream, limits=limits, stages=True)
    if not result.inputs:
        raise BpcliError(f"nothing to check: {expression!r} has no input variables")
    probe = _Probe(result)
    # Index inputs and --const inputs take no gradient: there is nothing to check.
    elements = [(name, index) for name, value in result.inputs.items() if name in result.gradients
                for index in _indices(value)]
    warnings = list(result.warnings)
    if max_checks is None:
        max_checks = max(1, min(DEFAULT_MAX_CHECKS, WORK_BUDGET // (2 * probe.work)))
    if len(elements) > max_checks:
        import numpy as np  # numpy only where arrays are (start-up)

        chosen = sorted(np.random.default_rng(seed).choice(len(elements), size=max_checks, replace=False))
        warnings.append(Notice(None, None, "sampled",
                               f"checked {max_checks:,} of {len(elements):,} input elements, chosen at random "
                               f"(--seed {seed}); raise --max-checks to check them all"))
        elements = [elements[i] for i in chosen]
    checks = [check for name, indices in _by_input(elements) for check in probe.checks(name, indices, h, max_error)]
    for check in checks:
        if check.kink:
            warnings.append(Notice(None, None, "kink-within-step", probe.kink_message(check)))
        if (check.input, check.index) in probe.reshaped:
            warnings.append(Notice(None, None, "mask-within-step", probe.reshaped_message(check)))
    return GradcheckResult(expression, result.output, result.inputs, h, max_error, checks, warnings)


class _Measured(NamedTuple):
    """What the moved evaluations of one element give: f(x + h_i), f(x - h_i), the kinks in between."""

    plus: float
    minus: float
    crossed: list[int]
    reshaped: int | None = None  # the subscript whose mask picked another number of elements at x ± h_i


def _by_input(elements: list[tuple[str, tuple[int, ...]]]) -> list[tuple[str, list[tuple[int, ...]]]]:
    """The elements grouped by input, in order (they come input by input)."""
    groups: list[tuple[str, list[tuple[int, ...]]]] = []
    for name, index in elements:
        if not groups or groups[-1][0] != name:
            groups.append((name, []))
        groups[-1][1].append(index)
    return groups


class _Probe:
    """Evaluates the forward pass with one input element moved, recomputing only what depends on it."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.graph = result.graph
        self.seed = result.value_of(result.adjoints.seed)
        self.gradients = result.gradients  # a property that builds its dict: read once
        self.base = self._loss(result.evaluation.values)
        self.crossed: dict[tuple[str, tuple[int, ...]], list[int]] = {}
        # The elements whose move by ± h changed how many elements a mask picks: the subscript's node.
        self.reshaped: dict[tuple[str, tuple[int, ...]], int] = {}
        self._moved_by_cache: dict[str, list[int]] = {}  # each input's moved stages, worked out once
        # How many numbers one evaluation of the forward pass computes.
        values = result.evaluation.values
        self._forward = [node.origin is None for node in self.graph.nodes]  # what a moved input changes
        sizes = [getattr(values[i], "size", 1) for i, forward in enumerate(self._forward) if forward]
        self.work = sum(sizes)
        # Elements checked together: their moved copies (two each) keep every node's batch near BATCH_ELEMENTS.
        self._chunk = max(1, BATCH_ELEMENTS // (2 * max(sizes, default=1)))
        self._moving: list[bool] = []  # the nodes that hold a batch while an input's elements are checked
        self._max_total = result.problem.limits.max_total_elements

    def checks(self, name: str, indices: list[tuple[int, ...]], h: float, max_error: float) -> list[ElementCheck]:
        """The checks of some elements of one input, in order.

        An array input's moved copies are evaluated as one batch (``evaluate_batch``),
        in chunks; a number's two moved values go through the evaluator as before.
        """
        from bpcli.engine.batched import depends_on

        steps = [self._steps(name, index, h) for index in indices]
        self._moving = [moved and forward for moved, forward in zip(depends_on(self.graph, [name]), self._forward)]
        fit = self._elements_in_budget()
        if not indices[0]:
            return [self._judge(name, (), x, plus, minus, self._measure(name, (), plus, minus), max_error)
                    for (x, plus, minus) in steps]
        chunk = min(fit, self._chunk)
        checks = []
        for start in range(0, len(indices), chunk):
            part = slice(start, start + chunk)
            try:
                measured = self._measure_batch(name, indices[part], steps[part])
            except IndexProblem:  # a mask picks another number of elements in some copy: one at a time, as before
                measured = [self._measure(name, index, plus, minus)
                            for index, (_, plus, minus) in zip(indices[part], steps[part])]
            checks += [self._judge(name, index, *step, measure, max_error)
                       for index, step, measure in zip(indices[part], steps[part], measured)]
        return checks

    def _elements_in_budget(self) -> int:
        """How many elements' moved copies fit in the budget beside every value of the gradient (at least
        one), or the budget's BpcliError: each element's check holds what it moves twice, at x ± h."""
        each = 2 * sum(size(self.graph.shape(i)) for i, moving in enumerate(self._moving) if moving)
        return room_left(self.graph, self._max_total, 0, each,
                         f", and {each:,} more for each element checked (what it moves, at x + h and x - h)")

    def _steps(self, name: str, index: tuple[int, ...], h: float) -> tuple[float, float, float]:
        """x, x + h_i and x - h_i, or a BpcliError where the step cannot move x in float64."""
        x = _element(self.result.inputs[name], index)
        step = h * max(1.0, abs(x))
        plus, minus = x + step, x - step
        if math.isfinite(x) and not (minus < x < plus and math.isfinite(plus - minus)):
            raise BpcliError(f"the step h = {h:g} cannot move {name} = {x:g} in float64 ({name} ± h is "
                             f"{'the same number' if math.isfinite(plus - minus) else 'beyond float64'}): "
                             f"give --h between 1e-12 and 1 (the default is {DEFAULT_H:g})")
        return x, plus, minus

    def _measure(self, name: str, index: tuple[int, ...], plus: float, minus: float) -> _Measured:
        try:
            up, down = self._moved(name, index, plus), self._moved(name, index, minus)
        except ShapeChanged as changed:  # x ± h is on the other side of a mask's edge: no difference to take
            return _Measured(math.nan, math.nan, [], reshaped=changed.node)
        return _Measured(self._loss(up.values), self._loss(down.values),
                         self._kinks_crossed(name, up.values, down.values))

    def _measure_batch(self, name: str, indices: list[tuple[int, ...]],
                       steps: list[tuple[float, float, float]]) -> list[_Measured]:
        """f(x + h_i) and f(x - h_i) of each element, and the kinks crossed: the moved copies as one batch."""
        import numpy as np  # numpy only where arrays are (start-up)

        from bpcli.engine.batched import evaluate_batch

        original = self.result.inputs[name]
        count = len(indices)
        moved = np.empty((2 * count, *original.shape))
        moved[...] = original
        flat = np.ravel_multi_index(tuple(np.array(indices).T), original.shape)
        rows = np.arange(count)
        moved.reshape(2 * count, -1)[rows, flat] = [plus for _, plus, _ in steps]
        moved.reshape(2 * count, -1)[count + rows, flat] = [minus for _, _, minus in steps]
        values = evaluate_batch(self.graph, self.result.evaluation.values, {name: moved}, self._forward)
        losses = self._losses(values[self.graph.output], 2 * count)
        crossed = self._kinks_crossed_batch(name, values, count)
        return [_Measured(losses[k], losses[count + k], crossed[k]) for k in range(count)]

    def _losses(self, out: Any, size: int) -> list[float]:
        """``_loss`` of each batch element's output."""
        import numpy as np  # numpy only where arrays are (start-up)

        if np.ndim(out) == 1 and self.graph.shape(self.graph.output) == ():  # a number each: seed × output
            return (np.asarray(self.seed) * out).tolist()
        return [self._loss([*[None] * self.graph.output, row]) for row in np.broadcast_to(
            out, (size, *self.graph.shape(self.graph.output)))]

    def _kinks_crossed_batch(self, name: str, values: list[Any], count: int) -> list[list[int]]:
        """``_kinks_crossed`` of each element: values holds the x + h_i batch, then the x - h_i one."""
        import numpy as np  # numpy only where arrays are (start-up)

        from bpcli.engine.backends import array
        from bpcli.engine.batched import aligned

        crossed: list[list[int]] = [[] for _ in range(count)]
        for node in self._moved_by(name):
            gate = REGISTRY[self.graph.nodes[node].op]
            if gate.kink_side is None or gate.kink is None:  # a gate with a side has a kink
                continue
            if not gate.elementwise:  # the one evaluation's test, element by element
                for k in range(count):
                    if self._kinks_crossed_at(node, self._row(values, k), self._row(values, count + k)):
                        crossed[k].append(node)
                continue
            attrs = self.graph.nodes[node].attrs or {}
            inputs, flags = [values[i] for i in self.graph.nodes[node].inputs], \
                [self._moving[i] for i in self.graph.nodes[node].inputs]
            ends = [aligned([v[half] if flag else v for v, flag in zip(inputs, flags)], flags,
                            self.graph.shape(node), count) for half in (slice(0, count), slice(count, None))]
            shape = (count, *self.graph.shape(node))
            sides = [np.broadcast_to(gate.kink_side(array, *end, **attrs), shape) for end in ends]
            moved = values[node][:count] != values[node][count:]  # the elements this input moves
            on_kink = (np.broadcast_to(gate.kink(array, *ends[0], **attrs), shape) & moved) | \
                (np.broadcast_to(gate.kink(array, *ends[1], **attrs), shape) & moved)
            hit = (on_kink | (sides[0] != sides[1])).reshape(count, -1).any(axis=1)
            for k in np.flatnonzero(hit).tolist():
                crossed[k].append(node)
        return crossed

    def _row(self, values: list[Any], k: int) -> list[Any]:
        """One batch element's values: the forward pass with that element's moved input."""
        moving = self._moving
        return [value[k] if moving[i] else value for i, value in enumerate(values)]

    def _judge(self, name: str, index: tuple[int, ...], x: float, plus: float, minus: float, measured: _Measured,
               max_error: float) -> ElementCheck:
        f_plus, f_minus, crossed, reshaped = measured
        analytic = _element(self.gradients[name], index)
        if reshaped is not None:
            self.reshaped[(name, index)] = reshaped
            return ElementCheck(name, index, x, analytic, math.nan, plus - x, math.nan, INCONCLUSIVE, True)
        numeric = (f_plus - f_minus) / (plus - minus)
        left = right = None
        error = relative_error(analytic, numeric)
        if crossed:
            self.crossed[(name, index)] = crossed
            left, right = (self.base - f_minus) / (x - minus), (f_plus - self.base) / (plus - x)
            error = min(error, _error_to_interval(analytic, left, right))
        rounding = ROUNDING_FACTOR * EPSILON * max(abs(f_plus), abs(f_minus)) / (plus - x)
        word = reading(error)
        # A difference below its own rounding error, or one that is not a number at all (an input
        # of inf or nan, a step that leaves the function's domain), cannot judge the gradient.
        if word != "good" and (abs(analytic - numeric) <= rounding or not math.isfinite(numeric)):
            word = INCONCLUSIVE
        passed = word == INCONCLUSIVE or error <= max_error
        return ElementCheck(name, index, x, analytic, numeric, plus - x, error, word, passed, bool(crossed),
                            left, right)

    def reshaped_message(self, check: ElementCheck) -> str:
        node = self.reshaped[(check.input, check.index)]
        return (f"{check.label} ± {check.step:.3g} changes how many elements the mask of "
                f"{self.graph.nodes[node].name} = {gate_text(self.graph, node)} picks, so the shape changes with "
                f"the value and there is no centred difference: the check is inconclusive")

    def kink_message(self, check: ElementCheck) -> str:
        stages = ", ".join(f"{self.graph.nodes[n].name} = {gate_text(self.graph, n)}"
                           for n in self.crossed[(check.input, check.index)])
        return (f"{check.label} ± {check.step:.3g} crosses a kink ({stages}), so the centred difference is "
                f"unreliable there; the one-sided differences are {check.left:.6g} (left) and {check.right:.6g} "
                "(right), and a gradient between them passes")

    def _moved_by(self, name: str) -> list[int]:
        """The forward stages whose value depends on the input ``name``."""
        cache = self._moved_by_cache
        if name not in cache:
            reached = {i for i, n in enumerate(self.graph.nodes) if n.op == INPUT and n.name == name}
            for node in self.graph.stages:
                if any(i in reached for i in self.graph.nodes[node].inputs):
                    reached.add(node)
            cache[name] = [node for node in self.graph.stages if node in reached]
        return cache[name]

    def _moved(self, name: str, index: tuple[int, ...], value: float) -> Any:
        original = self.result.inputs[name]
        if index:
            moved = original.copy()
            moved[index] = value
        else:
            moved = value
        bindings = {**self.result.inputs, name: moved}
        return evaluate(self.graph, bindings, roots=[self.graph.output], reuse=self.result.evaluation, changed=name)

    def _loss(self, values: list[Any]) -> float:
        """The output, or sum(upstream · output) for an array: what backpropagation differentiated."""
        out = values[self.graph.output]
        if hasattr(out, "shape") or hasattr(self.seed, "shape"):
            import numpy as np  # numpy only where arrays are (start-up)

            return float(np.sum(np.asarray(self.seed) * out))
        return float(self.seed * out)

    def _kinks_crossed(self, name: str, up: list[Any], down: list[Any]) -> list[int]:
        """The stages moved by ``name`` whose kink lies between the two moved points (or at one of them)."""
        return [node for node in self._moved_by(name)
                if up[node] is not None and self._kinks_crossed_at(node, up, down)]

    def _kinks_crossed_at(self, node: int, up: list[Any], down: list[Any]) -> bool:
        gate = REGISTRY[self.graph.nodes[node].op]
        if gate.kink_side is None or gate.kink is None:  # a gate with a side has a kink
            return False
        attrs = self.graph.nodes[node].attrs or {}
        ends = [[values[i] for i in self.graph.nodes[node].inputs] for values in (up, down)]
        xp = backend_for(*ends[0], *ends[1])
        sides = [gate.kink_side(xp, *inputs, **attrs) for inputs in ends]
        moved = up[node] != down[node]  # the elements this input moves: only their kinks count
        on_kink = any(xp.count(gate.kink(xp, *inputs, **attrs) & moved) for inputs in ends)
        return bool(on_kink) or not _same(*sides)


def _indices(value: Any) -> list[tuple[int, ...]]:
    if not hasattr(value, "shape"):
        return [()]
    import numpy as np  # numpy only where arrays are (start-up)

    return list(np.ndindex(*value.shape))


def _error_to_interval(analytic: float, left: float, right: float) -> float:
    """0 inside [left, right] (a subgradient at a kink), else the relative error to the nearer end."""
    low, high = min(left, right), max(left, right)
    if low <= analytic <= high:
        return 0.0
    return relative_error(analytic, low if analytic < low else high)


def _element(value: Any, index: tuple[int, ...]) -> float:
    return float(value[index]) if index else float(value)


def _same(a: Any, b: Any) -> bool:
    if hasattr(a, "shape") or hasattr(b, "shape"):
        import numpy as np  # numpy only where arrays are (start-up)

        return bool(np.array_equal(a, b))
    return a == b

"""A problem: an expression parsed, lowered, bound to its values and shaped, once.

Every analysis starts from one: ``Problem.of(expression, values)`` does the
work every command shares (parse → lower → bind → shape), with the limits
given as a value, and the problem then offers the backward pass, the
evaluation and the warnings of a run. What an analysis adds is only what is
its own (more passes, a matrix, a comparison with a student's numbers).

    >>> from bpcli.engine.problem import Problem
    >>> problem = Problem.of("(x+y)*z", {"x": -2, "y": 5, "z": -4})
    >>> adjoints = problem.backward()
    >>> values = problem.evaluate().values
    >>> [values[adjoints.total[v]] for v in problem.graph.variables]
    [-4.0, -4.0, 3.0]
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from itertools import chain
from numbers import Real
from typing import Any, Iterable, Iterator, Mapping

from bpcli.engine import indexing
from bpcli.engine.backward import Adjoints, backward
from bpcli.engine.budget import check_budget
from bpcli.engine.errors import BpcliError
from bpcli.engine.evaluate import evaluate
from bpcli.engine.formulas import gate_text
from bpcli.engine.gates import REGISTRY
from bpcli.engine.graph import CONST, INPUT, Graph, gate_shape
from bpcli.engine.indexing import first_not_whole
from bpcli.engine.limits import DEFAULT_MAX_ELEMENTS
from bpcli.engine.limits import Limits as Limits  # re-exported: every analysis takes it with Problem
from bpcli.engine.lower import lower
from bpcli.engine.record import NamedTuple
from bpcli.engine.shapes import ShapeError, show, size, value_shape
from bpcli.engine.syntax.ast import Program
from bpcli.engine.syntax.parser import parse as parse_text
from bpcli.engine.syntax.printer import format_number
from bpcli.engine.values import Constant, ShapeOnly


class Notice(NamedTuple):
    """A warning about one stage (a kink, a tie, an inf or nan) or about the input."""

    stage: str | None  # the stage's name, or None for a warning about the input as a whole
    # The field shadows tuple.index (a method); it is the public name, in results and JSON alike.
    index: int | None  # type: ignore[assignment]
    kind: str
    message: str


def parse(expression: str) -> Program:
    """Parse an expression or a staged program into its AST (immutable nodes with source spans).

    Never evaluates anything; bad syntax raises BpcliError with a caret under
    the offending column.

        >>> import bpcli
        >>> [statement.target for statement in bpcli.parse("q = x + y; f = q * z").statements]
        ['q', 'f']
    """
    return parse_text(expression)


def build(expression: str, expand: bool = False) -> Graph:
    """Parse and lower an expression to its gate graph (no values, no gradients yet).

    ``expand`` decomposes grouped gates (sigmoid, tanh) into primitive gates.

        >>> import bpcli
        >>> [(node.name, node.op) for node in bpcli.build("(x+y)*z").nodes]
        [('x', 'input'), ('y', 'input'), ('t1', 'add'), ('z', 'input'), ('f', 'mul')]
    """
    return lower(parse(expression), expression, expand=expand)


class Problem:
    """A graph with its inputs bound and every node's shape known; ``notices`` are what binding found."""

    def __init__(self, graph: Graph, inputs: dict[str, Any], notices: list[Notice], limits: Limits) -> None:
        self.graph = graph
        self.inputs = inputs
        self.notices = notices
        self.limits = limits
        self.forward_nodes = len(graph.nodes)  # the nodes after these are gradient nodes

    @classmethod
    def of(
        cls, expression: str, given: Mapping[str, Any], *, expand: bool = False, limits: Limits = Limits()
    ) -> Problem:
        """Parse, lower, bind ``given`` (a value per variable) and shape, once."""
        with collector_paused():
            return cls.bound(build(expression, expand), given, limits)

    @classmethod
    def bound(cls, graph: Graph, given: Mapping[str, Any], limits: Limits = Limits()) -> Problem:
        """A built graph with ``given`` bound to its variables and its shapes checked."""
        inputs, notices = bind(graph, given)
        shape_graph(graph, inputs, limits)
        return cls(graph, inputs, notices, limits)

    @classmethod
    def unbound(cls, graph: Graph, limits: Limits = Limits(), shapes: Mapping[str, Any] | None = None) -> Problem:
        """A built graph with no values, for what needs the structure only: every variable a number,
        or of the shape ``shapes`` gives it (a tuple, or a ShapeOnly read from ``-W shape:5,10``)."""
        shapes = {name: tuple(getattr(shape, "dims", shape)) for name, shape in (shapes or {}).items()}
        names = [graph.nodes[v].name for v in graph.variables]
        unused = [name for name in shapes if name not in names]
        if unused:
            raise BpcliError(f"{unused[0]} is given a shape but the expression has no variable {unused[0]}")
        shape_graph(graph, {name: _placeholder(shapes.get(name, ())) for name in names}, limits, values_known=False)
        return cls(graph, {}, [], limits)

    @property
    def source(self) -> str:
        return self.graph.source

    @property
    def output(self) -> str:
        return self.graph.nodes[self.graph.output].name

    def upstream(self, upstream: Any) -> Any:
        """The upstream gradient as given, checked against the output's shape; None for the number 1."""
        underflow = getattr(upstream, "underflow", None)  # --upstream '[1e-400, 1]' (bpcli.engine.values marks it)
        if underflow:
            self.notices.append(Notice(None, None, "underflow-input", f"the upstream gradient: {underflow}"))
        return _upstream_value(self.graph, upstream)

    def backward(self, upstream: Any = None, output: int | None = None) -> Adjoints:
        """Append a backward pass from ``output`` (the graph's output), seeded with ``upstream`` (None: 1)."""
        seed = None if upstream is None else self.graph.add(CONST, (), "d" + self.output, value=upstream)
        with collector_paused():
            return backward(self.graph, output=output, seed=seed)

    def evaluate(self, roots: Iterable[int] | None = None, watch: list[int] | None = None) -> Any:
        """Compute the ``roots`` (every node) at the bound inputs; ``watch``: the gradients reported.

        Refused before anything is computed if it would hold more numbers than the budget.
        """
        check_budget(self.graph, self.limits.max_total_elements)
        with collector_paused():
            return evaluate(self.graph, self.inputs, roots=roots, watch=watch)

    def gradients(self, adjoints: Adjoints) -> Any:
        """Evaluate the forward pass and the backward pass ``adjoints`` (watching the inputs' gradients)."""
        reported = [adjoints.total[v] for v in self.graph.variables if v in adjoints.total]
        # The roots are read only if a gradient goes non-finite, so they are not listed.
        return self.evaluate(roots=chain(range(self.forward_nodes), adjoints.nodes()), watch=reported)

    def warnings(self, findings: Iterable[Any]) -> list[Notice]:
        """The notices of binding, then a notice per finding of an evaluation, then the unused stages."""
        # The stage numbers are read once per call: a run may have thousands of findings.
        numbers = self.graph.stage_numbers()
        found = [self._warning(f.node, f.kind, f.note, numbers) for f in findings]
        return self.notices + found + self._unused_stage_warnings(numbers)

    def _warning(self, node: int, kind: str, note: str, numbers: dict[int, int]) -> Notice:
        graph = self.graph
        node = graph.forward_node(node)  # a finding in a higher-order pass belongs to the stage its gradient serves
        index = numbers.get(node)
        if index is None:  # an input variable (x is nan), or the fork where its gradients add up
            if kind == "nonfinite-gradient":
                note = f"{graph.nodes[node].name}: {note}"
            return Notice(None, None, kind, note)
        name = graph.nodes[node].name
        return Notice(name, index, kind, f"stage {index}, {name} = {gate_text(graph, node)}: {note}")

    def _unused_stage_warnings(self, numbers: dict[int, int]) -> list[Notice]:
        graph = self.graph
        feeds = graph.ancestors(graph.output)
        return [
            Notice(graph.nodes[node].name, index, "unused-stage",
                   f"stage {index}, {graph.nodes[node].name}: its value does not reach the output "
                   f"{self.output}, so no gradient flows through it")
            for node, index in numbers.items()
            if node > graph.output or not feeds[node]
        ]


def shape_graph(graph: Graph, inputs: Mapping[str, Any], limits: Limits = Limits(), values_known: bool = True) -> None:
    """Check every gate's shapes against the inputs' before anything is computed.

    ``values_known``: whether ``inputs`` are the values, or stand-ins of the right shapes.

    A graph of numbers only keeps no shapes at all (every node is a scalar),
    which spares the backward pass a shape rule per node it adds.
    """
    numbers_only = all(not hasattr(v, "shape") for v in inputs.values()) and all(
        not hasattr(graph.nodes[i].value, "shape") for i in graph.constants
    )
    if numbers_only and graph.elementwise():
        graph.shapes = None  # elementwise gates on numbers: every value is a number
        return
    shapes = infer_shapes(graph, {name: value_shape(v) for name, v in inputs.items()}, limits.max_elements, inputs,
                          values_known=values_known)
    graph.shapes = shapes if any(shapes) else None


def infer_shapes(
    graph: Graph, input_shapes: Mapping[str, tuple[int, ...]], max_elements: int = DEFAULT_MAX_ELEMENTS,
    values: Mapping[str, Any] | None = None, numbers_fixed: bool = False, values_known: bool = True,
) -> list[tuple[int, ...]]:
    """Every forward node's shape, or a BpcliError naming the gate, the subexpression and the shapes.

    ``values``: the inputs' values, of which the index inputs that are numbers fix shapes (np.arange(n)),
    and from which the masks read through are computed (x[x > 0]) unless they are only stand-ins
    of the right shapes (not ``values_known``). With ``numbers_fixed``, every input that is a number
    fixes shapes (a backward file's line, whose ``N`` an earlier line computed: ``x.reshape(N, -1)``).
    """
    shapes: list[tuple[int, ...]] = []
    known: dict[int, Any] = {}  # the values computed before evaluation, for masks read through
    # Numbers known before evaluation: the program's own, and those the shapes fix (x.shape[0]),
    # for the gates whose output shape depends on them (np.arange(N), x.reshape(N, -1)).
    fixed: dict[int, Any] = {}
    for index, node in enumerate(graph.nodes):
        if node.op == INPUT:
            shapes.append(tuple(input_shapes[node.name]))
            if values is not None and (numbers_fixed or node.name in graph.index_inputs) and not shapes[-1]:
                fixed[index] = values[node.name]
        elif node.op == CONST:
            shapes.append(value_shape(node.value))
            if not shapes[-1]:
                fixed[index] = node.value
        else:
            try:
                gate = REGISTRY[node.op]
                if node.op == "at_set" and node.attrs:
                    key = indexing.assignment_key(node.attrs["key"], shapes[node.inputs[1]])
                    node.attrs = {**node.attrs, "key": key}
                if node.op in _SUBSCRIPTS and node.attrs and indexing.needs_values(node.attrs["key"]):
                    given = values if values_known else None
                    node.attrs = {**node.attrs, "key": _resolved_key(graph, index, fixed, given, known)}
                if gate.value_shape is not None:
                    inputs = node.inputs
                    shapes.append(gate.value_shape([shapes[i] for i in inputs], [fixed.get(i) for i in inputs]))
                else:
                    shapes.append(gate_shape(node.op, [shapes[i] for i in node.inputs], node.attrs))
                _fix_number(graph, index, gate, shapes, fixed)
            except ShapeError as error:
                what = ("" if isinstance(error, indexing.ValuesNeeded)  # its message says what is missing
                        else "index out of range in " if node.op == "index" else "shape mismatch in ")
                raise BpcliError(
                    f"{what}{gate_text(graph, index)}: {error}",
                    source=graph.source or None,
                    span=node.span,
                ) from None
            if size(shapes[-1]) > max_elements:
                raise BpcliError(
                    f"{gate_text(graph, index)} would have {size(shapes[-1]):,} elements {show(shapes[-1])}; "
                    f"the limit is {max_elements:,} (raise it with --max-elements)",
                    source=graph.source or None,
                    span=node.span,
                )
    return shapes


_SUBSCRIPTS = {"index": 1, "at_set": 2}  # the gates with a subscript key: where the key's inputs begin


def _resolved_key(graph: Graph, index: int, fixed: dict[int, Any], values: Mapping[str, Any] | None,
                  known: dict[int, Any]) -> Any:
    """A subscript's key with its computed slice bounds (fixed by the shapes) and the counts of its masks
    read through (computed from the bound values, which must be given) written in."""
    node = graph.nodes[index]
    key = (node.attrs or {})["key"]
    inputs = node.inputs[_SUBSCRIPTS[node.op]:]
    given = [
        (None if values is None else _value_before_evaluation(graph, used, values, known))
        if isinstance(mark, type(indexing.SELECTION)) else fixed.get(used)
        for mark, used in zip(indexing.marks(key), inputs)
    ]
    return indexing.resolved(key, given)


def _value_before_evaluation(graph: Graph, node: int, values: Mapping[str, Any], known: dict[int, Any]) -> Any:
    """A node's value computed from the bound values while shapes are inferred (every node it is computed
    from has its shape checked already): a mask's values fix the shape of what it picks."""
    import numpy as np  # a mask is an array

    from bpcli.engine.backends import array  # the backend arrays need

    needed = graph.ancestors(node)
    with np.errstate(all="ignore"):
        for i in range(node + 1):
            if not needed[i] or i in known:
                continue
            current = graph.nodes[i]
            if current.op == INPUT:
                known[i] = values[current.name]
            elif current.op == CONST:
                known[i] = current.value
            else:
                try:
                    known[i] = REGISTRY[current.op].forward(array, *(known[j] for j in current.inputs),
                                                            **(current.attrs or {}))
                except indexing.IndexProblem as error:
                    raise ShapeError(str(error)) from None
    return known[node]


def _fix_number(graph: Graph, index: int, gate: Any, shapes: list[tuple[int, ...]], fixed: dict[int, Any]) -> None:
    """Note the value of a number fixed by the shapes, or computed from such numbers only."""
    node = graph.nodes[index]
    if gate.from_shapes is not None:
        fixed[index] = gate.from_shapes(*(shapes[i] for i in node.inputs), **(node.attrs or {}))
    elif gate.elementwise and node.inputs and all(i in fixed for i in node.inputs):
        from bpcli.engine.backends import scalar  # numbers only (start-up: the backend of a scalar run)

        fixed[index] = gate.forward(scalar, *(fixed[i] for i in node.inputs), **(node.attrs or {}))


def bind(graph: Graph, given: Mapping[str, Any]) -> tuple[dict[str, Any], list[Notice]]:
    """Match the given values to the graph's variables: every variable needs one.

    A variable the program gives an example value (``x = 3``) takes it unless
    a value is given here, which replaces it.
    """
    names = [graph.nodes[v].name for v in graph.variables]
    given = _constants_marked(graph, given)
    examples = graph.example_values
    missing = [name for name in names if name not in given and name not in examples]
    if missing:
        example = " ".join(f"-{name} 1" for name in missing)
        plural = "s" if len(missing) > 1 else ""
        raise BpcliError(
            f"unbound variable{plural}: {', '.join(missing)}; give {'them' if plural else 'it'} "
            f"a value: {example}"
        )
    inputs = {name: to_value(name, given[name] if name in given else examples[name]) for name in names}
    for name in graph.index_inputs:
        inputs[name] = _index_values(name, inputs[name])
    notices = [
        Notice(None, None, "replaced-example", f"{name} = {_text(examples[name])} in the program is replaced by "
               f"the value bound to it, {_text(inputs[name])}")
        for name in names
        if name in given and name in examples and not _same(inputs[name], examples[name])
    ] + [
        Notice(None, None, "unused-binding", f"{name} is bound but the expression does not use it")
        for name in given
        if name not in inputs
    ]
    # A number written nonzero that float64 makes 0 (-x 1e-400; bpcli.engine.values marks it), as 1e999 is flagged inf.
    notices += [
        Notice(None, None, "underflow-input", f"{name}: {given[name].underflow}")
        for name in names
        if getattr(given.get(name), "underflow", None)
    ]
    return inputs, notices


def _constants_marked(graph: Graph, given: Mapping[str, Any]) -> dict[str, Any]:
    """The given values with Constant unwrapped; the graph learns which inputs are constants."""
    unwrapped = dict(given)
    for name, value in given.items():
        if isinstance(value, Constant):
            unwrapped[name] = value.value
            graph.constant_inputs.add(name)
    return unwrapped


def _index_values(name: str, value: Any) -> Any:
    """An index input as integers (numpy indexes with those); whole numbers are required, as numpy does."""
    import numpy as np  # an index input is an array, or a number that sizes one

    wrong = first_not_whole(value)
    if wrong is not None:
        where = "" if np.ndim(value) == 0 else f" (element {wrong} is {float(np.ravel(value)[wrong])!r})"
        raise BpcliError(
            f"{name} is used as an index, so its values must be whole numbers, not floats{where}"
        )
    return int(value) if np.ndim(value) == 0 else np.asarray(value).astype(np.int64)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b
    import numpy as np  # numpy only where arrays are (start-up)

    return bool(np.array_equal(a, b))


def _text(value: Any) -> str:
    return format_number(value) if isinstance(value, float) else str(value.tolist())


def to_value(name: str, value: Any) -> Any:
    """A float, or a float64 array for a list or an array (integers are promoted to float64)."""
    if isinstance(value, ShapeOnly):
        raise BpcliError(
            f"{name} has a shape but no values ({value.text}): give it values (a number, an array, or a fill "
            f"such as randn:{','.join(map(str, value.dims)) or '1'}); a shape alone is for bpcli code and bpcli graph"
        )
    if isinstance(value, Real) and not isinstance(value, bool) and not hasattr(value, "shape"):
        try:
            return float(value)
        except OverflowError:
            raise BpcliError(f"the value of {name} is too large for float64 (beyond ±1.8e308)") from None
    if isinstance(value, (list, tuple)) or hasattr(value, "shape"):
        import numpy as np  # numpy only where arrays are (start-up)

        try:
            array = np.asarray(value)
            if array.dtype.kind not in "iuf":  # not a bool mask, a complex number, a string or None
                raise TypeError(array.dtype)
            array = np.asarray(array, dtype=np.float64)  # no copy of an array that is float64 already
        except (ValueError, TypeError, OverflowError):
            raise BpcliError(f"the value of {name} is not a rectangular array of real numbers") from None
        if array.ndim == 0:
            return float(array)
        if array.size == 0:
            raise BpcliError(f"the value of {name} is an empty array")
        return array
    raise BpcliError(f"the value of {name} must be a number or an array, not {type(value).__name__}: {value!r}")


def _placeholder(shape: tuple[int, ...]) -> Any:
    """A value of that shape for shape checking only: zeros that take no memory (a broadcast view)."""
    if shape == ():
        return 0.0
    import numpy as np  # numpy only where arrays are (start-up)

    return np.broadcast_to(0.0, shape)


def _upstream_value(graph: Graph, upstream: Any) -> Any:
    output = graph.nodes[graph.output]
    shape = graph.shape(graph.output)
    if upstream is None:
        if shape == ():
            return None
        raise BpcliError(
            f"the output {output.name} is not a number but has shape {show(shape)}, so backpropagation "
            f"needs the gradient flowing into it: give an upstream gradient of that shape "
            f"(--upstream ones for all ones), or reduce the output to a number with sum(...)"
        )
    if isinstance(upstream, str) and upstream == "ones":
        import numpy as np  # numpy only where arrays are (start-up)

        value: Any = np.ones(shape) if shape else 1.0
    else:
        value = to_value("the upstream gradient", upstream)
    if value_shape(value) != shape:
        raise BpcliError(
            f"the upstream gradient has shape {show(value_shape(value))} but the output {output.name} "
            f"has shape {show(shape)}; they must be the same"
        )
    return value


@contextmanager
def collector_paused() -> Iterator[None]:
    """Building a large graph makes millions of small objects and no garbage
    cycles; the cyclic collector would scan them over and over (a quarter of
    the time for 100,000 gates), so it waits until the graph is built."""
    if not gc.isenabled():  # already paused by an outer call
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        # Hand the new objects straight to the oldest generation (freeze,
        # then unfreeze), or the first collection after this would scan
        # them all at once.
        gc.freeze()
        gc.unfreeze()
        gc.enable()

"""The library's entry points; the command line is a thin layer over these.

    >>> import bpcli
    >>> r = bpcli.grad("(x+y)*z", x=-2, y=5, z=-4)
    >>> r.value, r.gradients
    (-12.0, {'x': -4.0, 'y': -4.0, 'z': 3.0})
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from itertools import chain
from numbers import Real
from typing import Any, Iterator, Mapping

from bpcli.engine.backward import Adjoints
from bpcli.engine.errors import BpcliError
from bpcli.engine.graph import Graph
from bpcli.analyses.result import GradResult, Notice
from bpcli.engine.syntax.ast import Program


def parse(expression: str) -> Program:
    """Parse an expression or a staged program into its AST (immutable nodes with source spans).

    Never evaluates anything; bad syntax raises BpcliError with a caret under
    the offending column.

        >>> import bpcli
        >>> [statement.target for statement in bpcli.parse("q = x + y; f = q * z").statements]
        ['q', 'f']
    """
    from bpcli.engine.syntax.parser import parse as parse_text

    return parse_text(expression)


def build(expression: str, expand: bool = False) -> Graph:
    """Parse and lower an expression to its gate graph (no values, no gradients yet).

    ``expand`` decomposes grouped gates (sigmoid, tanh) into primitive gates.

        >>> import bpcli
        >>> [(node.name, node.op) for node in bpcli.build("(x+y)*z").nodes]
        [('x', 'input'), ('y', 'input'), ('t1', 'add'), ('z', 'input'), ('f', 'mul')]
    """
    from bpcli.engine.lower import lower

    return lower(parse(expression), expression, expand=expand)


def grad(
    expression: str,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    upstream: Any = None,
    expand: bool = False,
    **values: Any,
) -> GradResult:
    """Run the forward pass and backpropagate through ``expression``.

    Values (numbers, nested lists or numpy arrays) are given as keyword
    arguments (``x=-2``) or, for names that clash with this function's own
    (``bindings``, ``upstream``, ``expand``), in ``bindings``. A non-scalar
    output needs ``upstream``, the gradient flowing into it: an array of its
    shape, or ``"ones"``. ``expand`` decomposes grouped gates into primitive
    gates (sigmoid into negate, exp, add 1, reciprocal); the gradients are the
    same. ``bpcli grad`` prints the result's table, ``--json`` its ``to_json()``.

        >>> import bpcli
        >>> r = bpcli.grad("q = x + y; f = q * z", x=-2, y=5, z=-4)
        >>> r.value, r.gradients
        (-12.0, {'x': -4.0, 'y': -4.0, 'z': 3.0})
        >>> [(s.name, s.expression, s.upstream, s.downstream) for s in r.stages]
        [('q', 'x + y', -4.0, (-4.0, -4.0)), ('f', 'q * z', 1.0, (-4.0, 3.0))]
        >>> relu = bpcli.grad("relu(x)", x=[1, -2, 3, -1], upstream=[4, -1, 5, 9])
        >>> relu.gradients["x"].tolist() == [4, 0, 5, 0]  # an array for an array
        True
    """
    with _collector_paused():
        graph = build(expression, expand)
        inputs, notices = bind(graph, {**(bindings or {}), **values})
        shape_graph(graph, inputs)
        return differentiate(graph, inputs, _upstream_value(graph, upstream), notices)


def differentiate(
    graph: Graph, inputs: Mapping[str, Any], upstream: Any = None, notices: list[Notice] | None = None
) -> GradResult:
    """Backpropagate through a bound, shaped graph and evaluate it.

    ``upstream`` is the gradient flowing into the output; None is the number 1
    (for a non-scalar output that is the gradient of the sum of its elements,
    as with all ones, without an array of ones to multiply by).
    """
    from bpcli.engine.evaluate import evaluate

    with _collector_paused():
        forward_nodes = len(graph.nodes)
        adjoints = _append_backward(graph, upstream)
        reported = [adjoints.total[v] for v in graph.variables if v in adjoints.total]
        # The roots are read only if a gradient goes non-finite, so they are not listed.
        evaluation = evaluate(graph, inputs, roots=chain(range(forward_nodes), adjoints.nodes()), watch=reported)
        return GradResult(graph.source, graph, adjoints, evaluation, notices)


def circuit(expression: str, *, upstream: Any = None, expand: bool = False) -> GradResult:
    """The circuit and its backward pass with no values bound: every input a number, nothing evaluated.

    For the views that need the structure only (the staged code of an
    expression given without values, a diagram without numbers): the result's
    values and gradients are None. An expression without variables needs no
    values, so it is evaluated.
    """
    from bpcli.engine.evaluate import Evaluation

    graph = build(expression, expand)
    if all(graph.nodes[v].name in graph.example_values for v in graph.variables):  # every value is known
        return grad(expression, upstream=upstream, expand=expand)
    shape_graph(graph, {graph.nodes[v].name: 0.0 for v in graph.variables})
    adjoints = _append_backward(graph, _upstream_value(graph, upstream))
    return GradResult(expression, graph, adjoints, Evaluation([None] * len(graph.nodes), []))


def _append_backward(graph: Graph, upstream: Any) -> Adjoints:
    """The backward pass, seeded with ``upstream`` (None: the number 1), appended to the graph."""
    from bpcli.engine.backward import backward
    from bpcli.engine.graph import CONST

    output = graph.nodes[graph.output].name
    seed = None if upstream is None else graph.add(CONST, (), "d" + output, value=upstream)
    return backward(graph, seed=seed)


def shape_graph(graph: Graph, inputs: Mapping[str, Any]) -> None:
    """Check every gate's shapes against the inputs' before anything is computed.

    A graph of numbers only keeps no shapes at all (every node is a scalar),
    which spares the backward pass a shape rule per node it adds.
    """
    from bpcli.engine.shapes import infer_shapes, value_shape

    numbers_only = all(not hasattr(v, "shape") for v in inputs.values()) and all(
        not hasattr(graph.nodes[i].value, "shape") for i in graph.constants
    )
    if numbers_only and graph.elementwise():
        graph.shapes = None  # elementwise gates on numbers: every value is a number
        return
    shapes = infer_shapes(graph, {name: value_shape(v) for name, v in inputs.items()}, inputs)
    graph.shapes = shapes if any(shapes) else None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Building a large graph makes millions of small objects and no garbage
    cycles; the cyclic collector would scan them over and over (a quarter of
    the time for 100,000 gates), so it waits until the graph is built."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            # Hand the new objects straight to the oldest generation (freeze,
            # then unfreeze), or the first collection after this would scan
            # them all at once.
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def _upstream_value(graph: Graph, upstream: Any) -> Any:
    """The upstream gradient as given, checked against the output's shape; None for the number 1."""
    from bpcli.engine.shapes import show, value_shape

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
        import numpy as np

        value: Any = np.ones(shape) if shape else 1.0
    else:
        value = to_value("the upstream gradient", upstream)
    if value_shape(value) != shape:
        raise BpcliError(
            f"the upstream gradient has shape {show(value_shape(value))} but the output {output.name} "
            f"has shape {show(shape)}; they must be the same"
        )
    return value


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


class Constant:
    """A value bound to an input that takes no gradient (``--const NAME``): a one-hot matrix, a dropout mask.

        >>> import bpcli
        >>> r = bpcli.grad("sum(x * m)", x=[1, 2], m=bpcli.Constant([0, 1]))
        >>> r.gradients, r.constants
        ({'x': array([0., 1.])}, ['m'])
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


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
    import numpy as np

    wrong = np.flatnonzero(np.asarray(value) != np.round(value))
    if wrong.size:
        where = "" if np.ndim(value) == 0 else f" (element {int(wrong[0])} is {np.ravel(value)[wrong[0]]!r})"
        raise BpcliError(
            f"{name} is used as an index, so its values must be whole numbers, not floats{where}"
        )
    return int(value) if np.ndim(value) == 0 else np.asarray(value).astype(np.int64)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b
    import numpy as np

    return bool(np.array_equal(a, b))


def _text(value: Any) -> str:
    from bpcli.engine.syntax.printer import format_number

    return format_number(value) if isinstance(value, float) else str(value.tolist())


def to_value(name: str, value: Any) -> Any:
    """A float, or a float64 array for a list or an array (integers are promoted to float64)."""
    if isinstance(value, Real) and not isinstance(value, bool) and not hasattr(value, "shape"):
        try:
            return float(value)
        except OverflowError:
            raise BpcliError(f"the value of {name} is too large for float64 (beyond ±1.8e308)") from None
    if isinstance(value, (list, tuple)) or hasattr(value, "shape"):
        import numpy as np

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

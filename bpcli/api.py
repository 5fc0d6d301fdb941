"""The library's entry points; the command line is a thin layer over these.

    >>> import bpcli
    >>> r = bpcli.grad("(x+y)*z", x=-2, y=5, z=-4)
    >>> r.value, r.gradients
    (-12.0, {'x': -4.0, 'y': -4.0, 'z': 3.0})
"""

from __future__ import annotations

from numbers import Real
from typing import Any, Mapping

from bpcli.errors import BpcliError
from bpcli.graph import Graph
from bpcli.result import GradResult, Notice
from bpcli.syntax.ast import Program


def parse(expression: str) -> Program:
    """Parse an expression or a staged program into its AST."""
    from bpcli.syntax.parser import parse as parse_text

    return parse_text(expression)


def build(expression: str) -> Graph:
    """Parse and lower an expression to its gate graph (no values, no gradients yet)."""
    from bpcli.lower import lower

    return lower(parse(expression), expression)


def grad(
    expression: str,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    upstream: Any = None,
    **values: Any,
) -> GradResult:
    """Run the forward pass and backpropagate through ``expression``.

    Values (numbers, nested lists or numpy arrays) are given as keyword
    arguments (``x=-2``) or, for names that clash with this function's own
    (``bindings``, ``upstream``), in ``bindings``. A non-scalar output needs
    ``upstream``, the gradient flowing into it: an array of its shape, or
    ``"ones"``.
    """
    from bpcli.backward import backward
    from bpcli.evaluate import evaluate
    from bpcli.shapes import infer_shapes, value_shape

    given = {**(bindings or {}), **values}
    graph = build(expression)
    inputs, notices = bind(graph, given)
    graph.shapes = infer_shapes(graph, {name: value_shape(v) for name, v in inputs.items()})
    forward_nodes = len(graph.nodes)
    adjoints = backward(graph, seed=_seed(graph, upstream))
    evaluation = evaluate(graph, inputs, roots=[*range(forward_nodes), *adjoints.nodes()])
    return GradResult(expression, graph, adjoints, evaluation, notices)


def shape_graph(graph: Graph, inputs: Mapping[str, Any]) -> None:
    """Check every gate's shapes against the inputs' before anything is computed.

    A graph of numbers only keeps no shapes at all (every node is a scalar).
    """
    from bpcli.shapes import infer_shapes, value_shape

    shapes = infer_shapes(graph, {name: value_shape(v) for name, v in inputs.items()})
    graph.shapes = shapes if any(shapes) else None


def _seed(graph: Graph, upstream: Any) -> int | None:
    """The node holding the upstream gradient of the output; None for the constant 1."""
    from bpcli.graph import CONST
    from bpcli.shapes import show, value_shape

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
    return graph.add(CONST, (), "d" + output.name, value=value)


def bind(graph: Graph, given: Mapping[str, Any]) -> tuple[dict[str, Any], list[Notice]]:
    """Match the given values to the graph's variables: every variable needs one."""
    names = [graph.nodes[v].name for v in graph.variables]
    missing = [name for name in names if name not in given]
    if missing:
        example = " ".join(f"-{name} 1" for name in missing)
        plural = "s" if len(missing) > 1 else ""
        raise BpcliError(
            f"unbound variable{plural}: {', '.join(missing)}; give {'them' if plural else 'it'} "
            f"a value: {example}"
        )
    inputs = {name: to_value(name, given[name]) for name in names}
    notices = [
        Notice(None, None, "unused-binding", f"{name} is bound but the expression does not use it")
        for name in given
        if name not in inputs
    ]
    return inputs, notices


def to_value(name: str, value: Any) -> Any:
    """A float, or a float64 array for a list or an array."""
    if isinstance(value, Real) and not isinstance(value, bool) and not hasattr(value, "shape"):
        return float(value)
    if isinstance(value, (list, tuple)) or hasattr(value, "shape"):
        import numpy as np

        try:
            array = np.array(value, dtype=np.float64)
        except (ValueError, TypeError):
            raise BpcliError(f"the value of {name} is not a rectangular array of numbers") from None
        if array.ndim == 0:
            return float(array)
        if array.size == 0:
            raise BpcliError(f"the value of {name} is an empty array")
        return array
    raise BpcliError(f"the value of {name} must be a number or an array, not {type(value).__name__}: {value!r}")

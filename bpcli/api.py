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


def grad(expression: str, bindings: Mapping[str, Any] | None = None, /, **values: Any) -> GradResult:
    """Run the forward pass and backpropagate through ``expression``.

    Values are given as keyword arguments (``x=-2``) or, for names that are not
    Python identifiers or clash with this function's own, in ``bindings``.
    """
    from bpcli.backward import backward
    from bpcli.evaluate import evaluate

    given = {**(bindings or {}), **values}
    graph = build(expression)
    inputs, notices = bind(graph, given)
    forward_nodes = len(graph.nodes)
    adjoints = backward(graph)
    evaluation = evaluate(graph, inputs, roots=[*range(forward_nodes), *adjoints.nodes()])
    return GradResult(expression, graph, adjoints, evaluation, notices)


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
    inputs = {name: _number(name, given[name]) for name in names}
    notices = [
        Notice(None, None, "unused-binding", f"{name} is bound but the expression does not use it")
        for name in given
        if name not in inputs
    ]
    return inputs, notices


def _number(name: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise BpcliError(f"the value of {name} must be a number, not {type(value).__name__}: {value!r}")
    return float(value)

"""bpcli grad --symbolic: derivatives as simplified expressions (SymbolicResult).

The simplification itself is bpcli.engine.simplify; this reads the derivatives
of a problem back through it and, given values, evaluates them too.
"""

from __future__ import annotations

from typing import Any, Mapping

from bpcli import views
from bpcli.analyses import derivative as higher
from bpcli.analyses.result import Result
from bpcli.engine.errors import BpcliError
from bpcli.engine.problem import Limits, Problem, build
from bpcli.engine.record import NamedTuple, Record, field
from bpcli.engine.shapes import show
from bpcli.engine.simplify import DEFAULT_MAX_SIZE, simplify


class SymbolicDerivative(NamedTuple):
    label: str  # df/dx, d²f/dx²
    wrt: str
    order: int
    expression: str  # may use the stages' names
    program: str  # stands alone: the stages it uses, then the expression; bpcli parses it
    value: Any = None  # at the given values, when there are any


class SymbolicResult(Result, Record):
    """Derivatives as simplified expressions in the input names, shared parts as stages.

        >>> import bpcli
        >>> r = bpcli.symbolic("x * sigmoid(y)")
        >>> r.stages, r.gradients
        ([('t1', 'sigmoid(y)')], {'x': 't1', 'y': 'x * t1 * (1 - t1)'})
        >>> print(r)
        t1 = sigmoid(y)
        df/dx = t1
        df/dy = x * t1 * (1 - t1)
    """

    source: str
    output: str
    stages: list[tuple[str, str]]
    derivatives: list[SymbolicDerivative]
    inputs: dict[str, Any] = field(default_factory=dict)  # the values, if any were given
    warnings: list[Any] = field(default_factory=list)

    @property
    def gradients(self) -> dict[str, str]:
        """Every first derivative's expression, by variable."""
        return {d.wrt: d.expression for d in self.derivatives if d.order == 1}

    def to_text(self, precision: int = 4, warnings: bool = True) -> str:
        """The stages and derivatives, one per line; then the warnings, unless not ``warnings``."""
        return views.text_of(self, precision=precision, warnings=warnings)

    def __str__(self) -> str:
        return self.to_text()


def symbolic(
    expression: str,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    wrt: str | None = None,
    order: int = 1,
    max_nodes: int | None = None,
    max_order: int | None = None,
    limits: Limits = Limits(),
    **values: Any,
) -> SymbolicResult:
    """The gradient of ``expression`` (or, with ``wrt``, its derivatives up to ``order``) as expressions.

    Needs no values; every variable is a number. Given values (for all the
    variables), each derivative is also evaluated there.

        >>> import bpcli
        >>> bpcli.symbolic("(x+y)*z").gradients
        {'x': 'z', 'y': 'z', 'z': 'x + y'}
    """
    given = {**(bindings or {}), **values}
    problem = _numbers_problem(expression, given, limits)
    graph, forward_nodes = problem.graph, problem.forward_nodes
    if wrt is None and order == 1:
        passes = higher.gradients(graph)
    else:
        passes = higher.repeated(
            graph, wrt, order, max_nodes or higher.DEFAULT_MAX_NODES, max_order or higher.DEFAULT_MAX_ORDER
        )
    output = graph.nodes[graph.output].name
    labels = [higher.label(output, t.wrt, t.order) for t in passes.targets]
    rendering = simplify(graph, {text: t.node for text, t in zip(labels, passes.targets)},
                         max_nodes or DEFAULT_MAX_SIZE)
    derived: list[Any] = [None] * len(labels)
    warnings: list[Any] = []
    if given:
        roots = [*range(forward_nodes), *(t.node for t in passes.targets if t.node is not None)]
        evaluation = problem.evaluate(roots=roots, watch=roots[forward_nodes:])
        derived = [0.0 if t.node is None else evaluation.values[t.node] for t in passes.targets]
        warnings = higher.passes_warnings(problem, passes, evaluation)
    return SymbolicResult(
        source=expression,
        output=output,
        stages=rendering.stages,
        derivatives=[
            SymbolicDerivative(text, t.wrt, t.order, rendering.expressions[text], rendering.programs[text], value)
            for text, t, value in zip(labels, passes.targets, derived)
        ],
        inputs=problem.inputs,
        warnings=warnings,
    )


def _numbers_problem(expression: str, given: Mapping[str, Any], limits: Limits) -> Problem:
    """The problem with every variable a number; bound to the values if there are any."""
    if given:
        problem = Problem.of(expression, given, limits=limits)
    else:
        graph = build(expression)
        try:
            problem = Problem.unbound(graph, limits)
        except BpcliError as error:
            first = graph.nodes[graph.variables[0]].name if graph.variables else "W"
            error.message = (
                f"symbolic derivatives treat every variable as a number: {error.message}; --symbolic "
                f"differentiates numbers only: for arrays, give values (-{first} randn:5,10) without --symbolic to "
                f"see each stage's formula, or shapes alone to bpcli code or bpcli graph (-{first} shape:5,10)"
            )
            raise
    graph = problem.graph
    arrays = [i for i in range(len(graph.nodes)) if graph.shape(i) != ()]
    if arrays:
        node = graph.nodes[arrays[0]]
        raise BpcliError(
            f"symbolic derivatives are of numbers, but {node.name} has shape {show(graph.shape(arrays[0]))}; "
            "for arrays, bpcli grad without --symbolic shows each stage's formula (dD @ X.T)",
            source=graph.source or None, span=node.span,
        )
    return problem

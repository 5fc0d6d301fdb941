"""Higher derivatives of one variable: backward applied to its own result, N times.

d^N f/dx^N is the gradient with respect to x of d^(N-1) f/dx^(N-1), a node
the previous backward pass appended; so each order is one more backward pass
over the same graph, and the evaluator computes all of them at once. The
stages of that derivative graph are what ``bpcli grad --order N`` shows.

Both x and the output must be numbers: for a vector x the second derivative
is a matrix (``bpcli hessian``) and the third a three-way tensor, and a
non-scalar output would need one derivative per element.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from bpcli.engine.backward import Adjoints
from bpcli.engine.errors import BpcliError
from bpcli.engine.graph import Graph
from bpcli.analyses.result import Notice

DEFAULT_MAX_NODES = 1_000_000  # each order multiplies the graph's size by about three
# Each pass walks the whole graph built so far, so time grows with the square of the order even where
# the graph stays small (x*y: order 1,000 takes a quarter of a second, 10,000 fifteen, 100,000 half an hour).
DEFAULT_MAX_ORDER = 1_000

_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def label(output: str, wrt: str, order: int) -> str:
    """How the derivative is written: f, df/dx, d²f/dx²."""
    if order == 0:
        return output
    power = "" if order == 1 else str(order).translate(_SUPERSCRIPTS)
    return f"d{power}{output}/d{wrt}{power}"


@dataclass
class Target:
    """One derivative to compute: d^order(output)/d(wrt)^order, held by ``node`` (None: zero)."""

    wrt: str
    order: int
    node: int | None


@dataclass
class Passes:
    """What the backward passes appended: the derivatives asked for, and where each pass began."""

    targets: list[Target]
    adjoints: Adjoints  # the first pass: the gradient of the output
    starts: list[int]  # pass k (1-based) appended the nodes from starts[k - 1] up to starts[k]


def gradients(graph: Graph) -> Passes:
    """One backward pass: the gradient of the output with respect to every variable."""
    from bpcli.engine.backward import backward

    start = len(graph.nodes)
    adjoints = backward(graph)
    targets = [Target(graph.nodes[v].name, 1, adjoints.gradient(v)) for v in graph.variables]
    return Passes(targets, adjoints, [start, len(graph.nodes)])


def repeated(
    graph: Graph, wrt: str | None, order: int, max_nodes: int = DEFAULT_MAX_NODES, max_order: int = DEFAULT_MAX_ORDER
) -> Passes:
    """``order`` backward passes, each differentiating the last one's result with respect to ``wrt``."""
    from bpcli.engine.backward import backward
    from bpcli.engine.graph import Builder

    if order < 1:
        raise BpcliError(f"the order of a derivative is 1 or more, not {order}")
    _check_order(order, max_order)
    x = variable(graph, wrt)
    name = graph.nodes[x].name
    starts = [len(graph.nodes)]
    targets: list[Target] = []
    first: Adjoints | None = None
    current = graph.output
    for k in range(1, order + 1):
        adjoints = backward(graph, output=current)
        if first is None:
            first = adjoints
        # A zero derivative is a node too, so that the next pass has something to start from.
        current = adjoints.gradient(x)
        if current is None:
            current = Builder(graph).const(0.0)
        targets.append(Target(name, k, current))
        starts.append(len(graph.nodes))
        if len(graph.nodes) > max_nodes:
            raise BpcliError(
                f"the derivative graph of order {k} already has {len(graph.nodes):,} nodes; the limit is "
                f"{max_nodes:,} (raise it with --max-nodes, or ask for a lower order)"
            )
    return Passes(targets, first, starts)


def _check_order(order: int, max_order: int) -> None:
    """A BpcliError for an order over the limit, before any work is done."""
    if order > max_order:
        raise BpcliError(
            f"a derivative of order {order:,} takes {order:,} backward passes; the limit is {max_order:,} "
            "(raise it with --max-order)"
        )


def variable(graph: Graph, wrt: str | None) -> int:
    """The input variable named ``wrt``; with None, the expression's only variable."""
    names = [graph.nodes[v].name for v in graph.variables]
    if wrt is None:
        if len(graph.variables) == 1:
            return graph.variables[0]
        if not graph.variables:
            raise BpcliError("the expression has no variables to differentiate with respect to")
        raise BpcliError(f"say which variable to differentiate with respect to: --wrt {names[0]} "
                         f"(the variables are {', '.join(names)})")
    if wrt in names:
        return graph.variables[names.index(wrt)]
    stage = any(graph.nodes[i].name == wrt for i in graph.stages)
    what = "a stage, not an input variable" if stage else "not a variable of the expression"
    raise BpcliError(f"{wrt} is {what}; the variables are {', '.join(names) or '(none)'}")


def passes_warnings(
    expression: str, graph: Graph, passes: Passes, evaluation: Any, notices: list[Notice]
) -> list[Notice]:
    """The warnings of an evaluation of ``passes``; past the first order, kinks say what they do."""
    from bpcli.analyses.result import GradResult

    if max((t.order for t in passes.targets), default=1) == 1:  # no targets: an expression without variables
        return GradResult(expression, graph, passes.adjoints, evaluation, notices).warnings
    first_pass = range(passes.starts[0], passes.starts[1])
    return higher_order_warnings(expression, graph, passes.adjoints, evaluation, [], notices, first_pass)


def higher_order_warnings(
    expression: str, graph: Graph, first: Adjoints, evaluation: Any, findings: list[Any], notices: list[Notice],
    first_pass: range,
) -> list[Notice]:
    """The warnings of every pass, once each; a kink says what second derivatives do there.

    ``findings`` are those of further evaluations; ``first_pass`` is where the
    first backward pass's nodes are in the graph.
    """
    from bpcli.engine.evaluate import Evaluation, Finding
    from bpcli.engine.gates import REGISTRY
    from bpcli.analyses.result import GradResult

    # A kink whose gradient is a flat indicator (step, sign, greater, share) is a jump in the derivative.
    jumps = {
        graph.nodes[i].origin for i in first_pass
        if graph.nodes[i].op in REGISTRY and REGISTRY[graph.nodes[i].op].role == "blocks"
    }
    merged = []
    for finding in [*evaluation.findings, *findings]:
        if finding.kind == "kink" and finding.node in jumps:
            finding = Finding(finding.node, finding.kind, finding.note + (
                "; the derivative jumps there, so the second derivative does not exist: "
                "it is taken as 0, its value on either side"))
        if finding not in merged:
            merged.append(finding)
    result = GradResult(expression, graph, first, Evaluation(evaluation.values, merged), notices)
    unique: list[Notice] = []
    for notice in result.warnings:
        if notice not in unique:
            unique.append(notice)
    return unique


def require_number(graph: Graph, node: int, role: str, advice: str) -> None:
    from bpcli.engine.shapes import show

    shape = graph.shape(node)
    if shape != ():
        raise BpcliError(f"{role} {graph.nodes[node].name} has shape {show(shape)}; {advice}")


# ---- bpcli grad --order N --wrt x -------------------------------------------------------


@dataclass(frozen=True)
class Derivative:
    order: int
    label: str  # f, df/dx, d²f/dx²
    stage: str  # the name of the node that holds it
    value: Any
    formula: str | None  # simplified, as a program bpcli parses; None when arrays are involved


@dataclass(frozen=True)
class DerivativeStage:
    """One gate of the derivative graph."""

    index: int
    node: int
    name: str
    order: int  # 0: the forward pass; k: appended by the k-th backward pass
    op: str
    expr: str
    inputs: tuple[str, ...]
    value: Any
    holds: tuple[str, ...]  # the derivatives this stage's value is (df/dx), if any


@dataclass
class DerivativeResult:
    """d^k f/dx^k for k = 0..order, and every stage of the graph that computes them.

        >>> import bpcli
        >>> r = bpcli.derivative("x**4", x=2, order=2)
        >>> [(d.label, d.value, d.formula) for d in r.derivatives]
        [('f', 16.0, 'x**4'), ('df/dx', 32.0, '4 * x**3'), ('d²f/dx²', 48.0, '12 * x**2')]
    """

    source: str
    output: str
    wrt: str
    order: int
    inputs: dict[str, Any]
    derivatives: list[Derivative]  # order 0 (f itself) to ``order``
    stages: list[DerivativeStage]
    warnings: list[Notice] = field(default_factory=list)

    @property
    def value(self) -> Any:
        """The highest derivative's value."""
        return self.derivatives[-1].value

    def to_json(self, indent: int | None = 2) -> str:
        """The bpcli.derivative/1 document that ``bpcli grad --order N --json`` prints."""
        from bpcli.views.json_doc import derivative_document, dumps

        return dumps(derivative_document(self), indent=indent)

    def __rich__(self) -> Any:
        from bpcli.views.derivative_table import derivative_table

        return derivative_table(self)


    def _repr_html_(self) -> str:
        """How a notebook shows the result: the terminal's tables as HTML (views/html.py)."""
        from bpcli.views.html import notebook_html

        return notebook_html(self)

    def _repr_markdown_(self) -> str:
        from bpcli.views.html import notebook_markdown

        return notebook_markdown(self)

def derivative(
    expression: str,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    wrt: str | None = None,
    order: int = 1,
    max_nodes: int = DEFAULT_MAX_NODES,
    max_order: int = DEFAULT_MAX_ORDER,
    **values: Any,
) -> DerivativeResult:
    """d^order f/d(wrt)^order of ``expression`` at the given values, by ``order`` backward passes.

        >>> import bpcli
        >>> bpcli.derivative("x**4", x=2, order=3).value
        48.0
    """
    from bpcli.analyses.grad import bind, build, shape_graph
    from bpcli.engine.evaluate import evaluate
    from bpcli.engine.formulas import gate_text
    from bpcli.analyses.symbolic import simplify

    graph = build(expression)
    inputs, notices = bind(graph, {**(bindings or {}), **values})
    shape_graph(graph, inputs)
    require_number(graph, graph.output, "the output", "higher derivatives are of a number: reduce it with sum(...)")
    forward_nodes = len(graph.nodes)
    x = variable(graph, wrt)
    require_number(graph, x, "the variable", "higher derivatives are with respect to a number: "
                   "bpcli hessian gives the second derivatives over an array's elements")
    passes = repeated(graph, wrt, order, max_nodes, max_order)
    output = graph.nodes[graph.output].name
    holders = [graph.output, *(t.node for t in passes.targets)]
    labels = [label(output, graph.nodes[x].name, k) for k in range(order + 1)]
    evaluation = evaluate(graph, inputs, roots=[*range(forward_nodes), *holders], watch=holders)
    value = evaluation.values
    live = graph.live(holders)
    numbers_only = all(graph.shape(i) == () for i, needed in enumerate(live) if needed)
    formulas = simplify(graph, dict(zip(labels, holders))).programs if numbers_only else {}
    holds: dict[int, list[str]] = {}
    for node, text in zip(holders, labels):  # exp(x) is its own derivative: one node, several labels
        holds.setdefault(node, []).append(text)
    stage_nodes = [i for i, needed in enumerate(live) if needed and graph.is_gate(i)]
    for node in stage_nodes:  # gradient nodes go unnamed (Builder); here each is a stage of its own
        if not graph.nodes[node].name:
            graph.nodes[node].name = graph.fresh_name("_g")
    stages = [
        DerivativeStage(
            index=index,
            node=node,
            name=graph.nodes[node].name,
            order=_pass_of(node, passes.starts),
            op=graph.nodes[node].op,
            expr=gate_text(graph, node),
            inputs=tuple(graph.nodes[i].name for i in graph.nodes[node].inputs),
            value=value[node],
            holds=tuple(holds.get(node, ())),
        )
        for index, node in enumerate(stage_nodes, start=1)
    ]
    derivatives = [
        Derivative(k, labels[k], graph.nodes[node].name, value[node], formulas.get(labels[k]))
        for k, node in enumerate(holders)
    ]
    warnings = passes_warnings(expression, graph, passes, evaluation, notices)
    return DerivativeResult(
        source=expression,
        output=output,
        wrt=graph.nodes[x].name,
        order=order,
        inputs=inputs,
        derivatives=derivatives,
        stages=stages,
        warnings=warnings,
    )


def _pass_of(node: int, starts: list[int]) -> int:
    """0 for a forward node, k for a node the k-th backward pass appended."""
    from bisect import bisect_right

    return min(bisect_right(starts, node), len(starts) - 1)

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

from typing import Any, Mapping

from bpcli.analyses.result import Result
from bpcli.engine.backward import Adjoints, GraphTooLarge, backward
from bpcli.engine.errors import BpcliError
from bpcli.engine.evaluate import Finding
from bpcli.engine.formulas import gate_text
from bpcli.engine.gates import REGISTRY
from bpcli.engine.graph import Builder, Graph
from bpcli.engine.problem import Limits, Notice, Problem
from bpcli.engine.record import NamedTuple, Record, field
from bpcli.engine.shapes import show

DEFAULT_MAX_NODES = 1_000_000  # each order multiplies the graph's size by about three
# Each pass walks the whole graph built so far, so time grows with the square of the order even where
# the graph stays small (x*y: order 1,000 takes a quarter of a second, 10,000 fifteen, 100,000 half an hour).
DEFAULT_MAX_ORDER = 1_000
# --order's formulas are there to be read: sigmoid's 12th derivative is already 117,000 characters. Past
# this size they are left out, before simplifying them takes longer than everything else (minutes by
# order 15); --symbolic --order N writes them up to --max-nodes.
FORMULA_MAX_SIZE = 20_000

_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def label(output: str, wrt: str, order: int) -> str:
    """How the derivative is written: f, df/dx, d²f/dx²."""
    if order == 0:
        return output
    power = "" if order == 1 else str(order).translate(_SUPERSCRIPTS)
    return f"d{power}{output}/d{wrt}{power}"


class Target(NamedTuple):
    """One derivative to compute: d^order(output)/d(wrt)^order, held by ``node`` (None: zero)."""

    wrt: str
    order: int
    node: int | None


class Passes(NamedTuple):
    """What the backward passes appended: the derivatives asked for, and where each pass began."""

    targets: list[Target]
    adjoints: Adjoints  # the first pass: the gradient of the output
    starts: list[int]  # pass k (1-based) appended the nodes from starts[k - 1] up to starts[k]


def gradients(graph: Graph) -> Passes:
    """One backward pass: the gradient of the output with respect to every variable."""
    start = len(graph.nodes)
    adjoints = backward(graph)
    targets = [Target(graph.nodes[v].name, 1, adjoints.gradient(v)) for v in graph.variables]
    return Passes(targets, adjoints, [start, len(graph.nodes)])


def repeated(
    graph: Graph, wrt: str | None, order: int, max_nodes: int = DEFAULT_MAX_NODES, max_order: int = DEFAULT_MAX_ORDER
) -> Passes:
    """``order`` backward passes, each differentiating the last one's result with respect to ``wrt``."""
    if order < 1:
        raise BpcliError(f"the order of a derivative is 1 or more, not {order}")
    _check_order(order, max_order)
    x = variable(graph, wrt)
    name = graph.nodes[x].name
    graph.share_gradients()
    starts = [len(graph.nodes)]
    targets: list[Target] = []
    first: Adjoints | None = None
    current = graph.output
    for k in range(1, order + 1):
        try:  # stopped at the limit, not after building the whole pass
            adjoints = backward(graph, output=current, max_nodes=max_nodes)
        except GraphTooLarge:
            raise _too_large(k, len(graph.nodes), max_nodes) from None
        if first is None:
            first = adjoints
        # A zero derivative is a node too, so that the next pass has something to start from.
        gradient = adjoints.gradient(x)
        current = Builder(graph).const(0.0) if gradient is None else gradient
        targets.append(Target(name, k, current))
        starts.append(len(graph.nodes))
        if len(graph.nodes) > max_nodes:
            raise _too_large(k, len(graph.nodes), max_nodes)
    assert first is not None  # order >= 1: there was a pass
    return Passes(targets, first, starts)


def _too_large(order: int, nodes: int, max_nodes: int) -> BpcliError:
    return BpcliError(
        f"the derivative graph of order {order} already has {nodes:,} nodes; the limit is "
        f"{max_nodes:,} (raise it with --max-nodes, or ask for a lower order)"
    )


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


def passes_warnings(problem: Problem, passes: Passes, evaluation: Any) -> list[Notice]:
    """The warnings of an evaluation of ``passes``; past the first order, kinks say what they do."""
    if max((t.order for t in passes.targets), default=1) == 1:  # no targets: an expression without variables
        return problem.warnings(evaluation.findings)
    first_pass = range(passes.starts[0], passes.starts[1])
    return higher_order_warnings(problem, evaluation, [], first_pass)


def higher_order_warnings(problem: Problem, evaluation: Any, findings: list[Any], first_pass: range) -> list[Notice]:
    """The warnings of every pass, once each; a kink says what second derivatives do there.

    ``findings`` are those of further evaluations; ``first_pass`` is where the
    first backward pass's nodes are in the graph.
    """
    graph = problem.graph
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
    unique: list[Notice] = []
    for notice in problem.warnings(merged):
        if notice not in unique:
            unique.append(notice)
    return unique


def require_number(graph: Graph, node: int, role: str, advice: str) -> None:
    shape = graph.shape(node)
    if shape != ():
        raise BpcliError(f"{role} {graph.nodes[node].name} has shape {show(shape)}; {advice}")


# ---- bpcli grad --order N --wrt x -------------------------------------------------------


class Derivative(NamedTuple):
    order: int
    label: str  # f, df/dx, d²f/dx²
    stage: str  # the name of the node that holds it
    value: Any
    formula: str | None  # simplified, as a program bpcli parses; None when arrays are involved


class DerivativeStage(NamedTuple):
    """One gate of the derivative graph."""

    index: int  # type: ignore[assignment]  # shadows tuple.index, as result.Stage's does
    node: int
    name: str
    order: int  # 0: the forward pass; k: appended by the k-th backward pass
    op: str
    expr: str
    inputs: tuple[str, ...]
    value: Any
    holds: tuple[str, ...]  # the derivatives this stage's value is (df/dx), if any


class DerivativeResult(Result, Record):
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


def derivative(
    expression: str,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    wrt: str | None = None,
    order: int = 1,
    max_nodes: int = DEFAULT_MAX_NODES,
    max_order: int = DEFAULT_MAX_ORDER,
    limits: Limits = Limits(),
    **values: Any,
) -> DerivativeResult:
    """d^order f/d(wrt)^order of ``expression`` at the given values, by ``order`` backward passes.

        >>> import bpcli
        >>> bpcli.derivative("x**4", x=2, order=3).value
        48.0
    """
    problem = Problem.of(expression, {**(bindings or {}), **values}, limits=limits)
    graph, inputs = problem.graph, problem.inputs
    require_number(graph, graph.output, "the output", "higher derivatives are of a number: reduce it with sum(...)")
    forward_nodes = len(graph.nodes)
    x = variable(graph, wrt)
    require_number(graph, x, "the variable", "higher derivatives are with respect to a number: "
                   "bpcli hessian gives the second derivatives over an array's elements")
    passes = repeated(graph, wrt, order, max_nodes, max_order)
    output = graph.nodes[graph.output].name
    holders = [graph.output]
    for target in passes.targets:
        assert target.node is not None  # repeated() makes a node for a zero derivative too
        holders.append(target.node)
    labels = [label(output, graph.nodes[x].name, k) for k in range(order + 1)]
    evaluation = problem.evaluate(roots=[*range(forward_nodes), *holders], watch=holders)
    value = evaluation.values
    live = graph.live(holders)
    numbers_only = all(graph.shape(i) == () for i, needed in enumerate(live) if needed)
    formulas, left_out = _formulas(graph, dict(zip(labels, holders)), max_nodes) if numbers_only else ({}, [])
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
            order=pass_of,
            op=graph.nodes[node].op,
            expr=gate_text(graph, node),
            inputs=tuple(graph.nodes[i].name for i in graph.nodes[node].inputs),
            value=value[node],
            holds=tuple(holds.get(node, ())),
        )
        for index, (node, pass_of) in enumerate(zip(stage_nodes, _passes_of(stage_nodes, passes.starts)), start=1)
    ]
    derivatives = [
        Derivative(k, labels[k], graph.nodes[node].name, value[node], formulas.get(labels[k]))
        for k, node in enumerate(holders)
    ]
    warnings = passes_warnings(problem, passes, evaluation) + left_out
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


def _formulas(graph: Graph, roots: dict[str, int], max_nodes: int) -> tuple[dict[str, str], list[Notice]]:
    """The simplified formula of each derivative, or none (with a warning) where they grow past what is read,
    ``FORMULA_MAX_SIZE``, or past ``max_nodes``: the derivatives' values do not need them."""
    from bpcli.engine.simplify import programs  # only --order's formulas, not the Hessian's helpers here (start-up)

    max_size = min(max_nodes, FORMULA_MAX_SIZE)
    try:
        return programs(graph, roots, max_size), []
    except BpcliError:
        how = ("raise the limit with --max-nodes" if max_size == max_nodes
               else "too long to read; --symbolic --order N writes them, up to --max-nodes")
        return {}, [Notice(None, None, "formulas-left-out",
                           f"the simplified formulas are left out: they grow past {max_size:,} terms and factors "
                           f"({how}); the values above do not depend on them")]


def _passes_of(nodes: list[int], starts: list[int]) -> list[int]:
    """For nodes in increasing order: 0 for a forward node, k for one the k-th backward pass appended (one walk
    along both lists; bisect's import alone took longer than the walk)."""
    passes, count, last = [], 0, len(starts) - 1
    for node in nodes:
        while count < last and starts[count] <= node:
            count += 1
        passes.append(count)
    return passes

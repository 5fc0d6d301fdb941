"""The Jacobian matrix, built from one vector-Jacobian product per output element.

Backpropagation never needs the Jacobian; this is for when a person asks to
see it. The gradient graph is built once with the upstream gradient as an
input; each pass binds it to a one-hot vector (row k of the identity) and
recomputes only the nodes that depend on it, which gives row k: the gradient
of output element k with respect to every input element.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Iterable, Mapping, Sequence

from bpcli.analyses.result import Result
from bpcli.engine.backward import Adjoints, backward
from bpcli.engine.budget import check_budget, check_work
from bpcli.engine.errors import BpcliError
from bpcli.engine.evaluate import Evaluation, Finding, evaluate
from bpcli.engine.graph import INPUT, Graph
from bpcli.engine.problem import Limits, Notice, Problem
from bpcli.engine.record import NamedTuple, Record, field
from bpcli.engine.shapes import size

LAYOUTS = ("outputs-first", "inputs-first")
DEFAULT_MAX_ENTRIES = 1_000_000


class JacobianResult(Result, Record):
    """One matrix per input variable: rows are output elements, columns input elements
    (``outputs-first``, as torch.autograd.functional.jacobian), or the transpose
    (``inputs-first``, the lecture notes' convention).

    ``matrix(name)`` is the matrix in the chosen layout (``matrices`` holds
    them outputs-first), a numpy array; ``rows(name)`` the same entries as
    lists of floats; ``passes`` counts the vector-Jacobian products.

        >>> import bpcli
        >>> r = bpcli.jacobian("W @ x", W=[[1, 2], [3, 4]], x=[5, 6])
        >>> r.matrix("W").tolist()
        [[5.0, 6.0, 0.0, 0.0], [0.0, 0.0, 5.0, 6.0]]
        >>> r.matrix("x").tolist(), r.passes
        ([[1.0, 2.0], [3.0, 4.0]], 2)
    """

    source: str
    output: str
    output_shape: tuple[int, ...]
    inputs: dict[str, Any]
    shapes: dict[str, tuple[int, ...]]
    # Outputs-first, a list of floats per output element: numpy only when ``matrices`` is read (start-up).
    entries: dict[str, list[list[float]]]
    passes: int
    layout: str = "outputs-first"
    warnings: list[Notice] = field(default_factory=list)

    @cached_property
    def matrices(self) -> dict[str, Any]:
        """The numpy matrices, always outputs-first; ``matrix`` applies the layout."""
        import numpy as np  # numpy only where arrays are asked for (start-up)

        return {name: np.array(rows, dtype=float).reshape(len(rows), size(self.shapes[name]))
                for name, rows in self.entries.items()}

    def matrix(self, name: str) -> Any:
        m = self.matrices[name]
        return m.T if self.layout == "inputs-first" else m

    def rows(self, name: str) -> list[list[float]]:
        """``matrix(name)`` as a list of rows of floats (the views read it without numpy)."""
        rows = self.entries[name]
        if self.layout == "outputs-first":
            return rows
        if not rows:  # an output with no element: a row of nothing per input element
            return [[] for _ in range(size(self.shapes[name]))]
        return [list(column) for column in zip(*rows)]


def jacobian(
    expression: str,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    layout: str = "outputs-first",
    max_entries: int = DEFAULT_MAX_ENTRIES,
    limits: Limits = Limits(),
    **values: Any,
) -> JacobianResult:
    """The Jacobian of ``expression``'s output with respect to every input variable.

    Values as for ``bpcli.grad``. ``layout`` is ``"outputs-first"`` (a row per
    output element) or ``"inputs-first"`` (the transpose); a Jacobian of more
    than ``max_entries`` entries is refused (BpcliError).

        >>> import bpcli
        >>> bpcli.jacobian("relu(x)", x=[1, -2]).matrix("x").tolist()
        [[1.0, 0.0], [0.0, 0.0]]
    """
    if layout not in LAYOUTS:
        raise BpcliError(f"layout is {' or '.join(LAYOUTS)}, not {layout!r}")
    problem = Problem.of(expression, {**(bindings or {}), **values}, limits=limits)
    graph, inputs = problem.graph, problem.inputs
    output = graph.nodes[graph.output].name
    output_shape = graph.shape(graph.output)
    rows = size(output_shape)
    variables = graph.differentiable_variables()  # index inputs and constants have no columns
    columns = sum(size(graph.shape(v)) for v in variables)
    if rows * columns > max_entries:
        raise BpcliError(
            f"the Jacobian would have {rows:,} × {columns:,} = {rows * columns:,} entries; the limit is "
            f"{max_entries:,} (raise it with --max-entries)"
        )
    passes = vjp_rows(graph, graph.output, inputs, variables, limits.max_total_elements, also=range(len(graph.nodes)))
    return JacobianResult(
        source=expression,
        output=output,
        output_shape=output_shape,
        inputs=inputs,
        shapes={graph.nodes[v].name: graph.shape(v) for v in variables},
        entries={graph.nodes[v].name: m for v, m in zip(variables, passes.matrices)},
        passes=rows,
        layout=layout,
        warnings=problem.warnings(passes.first.findings),
    )


class VjpRows(NamedTuple):
    """The Jacobian of one node with respect to some variables, a row per element of the node."""

    # One per variable: a row of floats per element of the node, a column per element of the variable.
    matrices: list[list[list[float]]]
    seed: str  # the input that holds the upstream gradient of the node: bind it in later evaluations
    adjoints: Adjoints  # where the backward pass with the one-hot seed put each gradient
    first: Evaluation  # the first pass: every node evaluated, with its findings
    findings: list[Finding]  # what every pass ran into


def vjp_rows(
    graph: Graph, output: int, inputs: Mapping[str, Any], variables: Sequence[int], max_total: int,
    also: Iterable[int] = (),
) -> VjpRows:
    """Row k of d(output)/d(variable), for every element k of ``output``: one backward pass each.

    The backward pass is built once, its upstream gradient an input bound in
    turn to each one-hot vector; a pass recomputes only the nodes that depend
    on it. ``output`` may be any node, a gradient node included (the Hessian
    is the Jacobian of the gradient). ``also`` names further nodes to evaluate
    in the first pass (the forward pass, for its warnings). Refused before
    anything is computed if the first pass's values, a later pass's and the
    matrix would hold more than ``max_total`` numbers (the budget).
    """
    output_shape = graph.shape(output)
    seed_name = graph.claim("d" + graph.nodes[output].name)
    seed = graph.add(INPUT, (), seed_name, shape=output_shape)
    adjoints = backward(graph, output=output, seed=seed)
    gradients = [adjoints.gradient(v) for v in variables]
    reported = [g for g in gradients if g is not None]
    roots = [*also, *reported]
    rows = size(output_shape)
    _check_rows_budget(graph, seed_name, rows, sum(size(graph.shape(v)) for v in variables), max_total)
    matrices: list[list[list[float]]] = [[] for _ in variables]
    first: Evaluation | None = None
    findings: list[Finding] = []
    for row in range(rows):
        # Watching the rows: an inf that a selecting gate turns into 0 on its way is no warning (as in grad).
        evaluation = evaluate(
            graph, {**inputs, seed_name: _one_hot(output_shape, row)}, roots, reuse=first, changed=seed_name,
            watch=reported,
        )
        if first is None:
            first = evaluation
        findings.extend(evaluation.findings)
        for matrix, v, node in zip(matrices, variables, gradients):
            matrix.append([0.0] * size(graph.shape(v)) if node is None else _flat(evaluation.values[node]))
    if first is None:  # an output with no element (x[:0]): no rows; the forward pass for its warnings
        first = evaluate(graph, {**inputs, seed_name: _zeros(output_shape)}, roots, watch=reported)
        findings.extend(first.findings)
    return VjpRows(matrices, seed_name, adjoints, first, findings)


def _check_rows_budget(graph: Graph, seed: str, rows: int, columns: int, max_total: int) -> None:
    """The budget, before the first pass: what is held at once (every value, a later pass's values of
    what the seed changes beside them, and the matrix), and what all the passes compute."""
    from bpcli.engine.batched import depends_on

    recomputed = sum(size(graph.shape(i)) for i, moved in enumerate(depends_on(graph, [seed])) if moved)
    check_budget(graph, max_total, recomputed + rows * columns,
                 f", {recomputed:,} more that each pass recomputes, and the matrix's {rows:,} × {columns:,} entries")
    check_work(graph, max_total, rows, recomputed, f"the matrix's {rows:,} rows, a backward pass each,")


def _flat(value: Any) -> list[float]:
    """A value's elements in row-major order, as floats: a number needs no numpy (start-up)."""
    if isinstance(value, (int, float)):
        return [float(value)]
    import numpy as np  # numpy only where arrays are (start-up)

    flat: list[float] = np.reshape(np.asarray(value, dtype=float), -1).tolist()
    return flat


def _zeros(shape: tuple[int, ...]) -> Any:
    import numpy as np  # only a shape with no element comes here

    return np.zeros(shape)


def _one_hot(shape: tuple[int, ...], index: int) -> Any:
    if shape == ():
        return 1.0
    import numpy as np  # numpy only where arrays are (start-up)

    vector = np.zeros(shape)
    vector.flat[index] = 1.0
    return vector

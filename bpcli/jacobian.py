"""The Jacobian matrix, built from one vector-Jacobian product per output element.

Backpropagation never needs the Jacobian; this is for when a person asks to
see it. The gradient graph is built once with the upstream gradient as an
input; each pass binds it to a one-hot vector (row k of the identity) and
recomputes only the nodes that depend on it, which gives row k: the gradient
of output element k with respect to every input element.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from bpcli.errors import BpcliError
from bpcli.result import Notice

LAYOUTS = ("outputs-first", "inputs-first")
DEFAULT_MAX_ENTRIES = 1_000_000


@dataclass
class JacobianResult:
    """One matrix per input variable: rows are output elements, columns input elements
    (``outputs-first``, as torch.autograd.functional.jacobian), or the transpose
    (``inputs-first``, the lecture notes' convention)."""

    source: str
    output: str
    output_shape: tuple[int, ...]
    inputs: dict[str, Any]
    shapes: dict[str, tuple[int, ...]]
    matrices: dict[str, Any]  # always outputs-first here; ``matrix`` applies the layout
    passes: int
    layout: str = "outputs-first"
    warnings: list[Notice] = field(default_factory=list)

    def matrix(self, name: str) -> Any:
        m = self.matrices[name]
        return m.T if self.layout == "inputs-first" else m

    def to_json(self, indent: int | None = 2) -> str:
        from bpcli.views.json_doc import dumps, jacobian_document

        return dumps(jacobian_document(self), indent=indent)

    def __rich__(self) -> Any:
        from bpcli.views.jacobian_table import jacobian_table

        return jacobian_table(self)


def jacobian(
    expression: str,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    layout: str = "outputs-first",
    max_entries: int = DEFAULT_MAX_ENTRIES,
    **values: Any,
) -> JacobianResult:
    """The Jacobian of ``expression``'s output with respect to every input variable."""
    import numpy as np

    from bpcli.api import bind, build, shape_graph
    from bpcli.backward import backward
    from bpcli.evaluate import evaluate
    from bpcli.graph import INPUT
    from bpcli.result import GradResult
    from bpcli.shapes import size

    if layout not in LAYOUTS:
        raise BpcliError(f"layout is {' or '.join(LAYOUTS)}, not {layout!r}")
    graph = build(expression)
    inputs, notices = bind(graph, {**(bindings or {}), **values})
    shape_graph(graph, inputs)
    output = graph.nodes[graph.output].name
    output_shape = graph.shape(graph.output)
    rows = size(output_shape)
    columns = sum(size(graph.shape(v)) for v in graph.variables)
    if rows * columns > max_entries:
        raise BpcliError(
            f"the Jacobian would have {rows:,} × {columns:,} = {rows * columns:,} entries; the limit is "
            f"{max_entries:,} (raise it with --max-entries)"
        )
    forward_nodes = len(graph.nodes)
    seed_name = graph.claim("d" + output)
    seed = graph.add(INPUT, (), seed_name, shape=output_shape)
    adjoints = backward(graph, seed=seed)
    gradients = {graph.nodes[v].name: adjoints.gradient(v) for v in graph.variables}
    roots = [*range(forward_nodes), *(g for g in gradients.values() if g is not None)]

    matrices = {name: np.zeros((rows, size(graph.shape(v)))) for name, v in zip(gradients, graph.variables)}
    first = None
    for row in range(rows):
        one_hot = _one_hot(output_shape, row)
        evaluation = evaluate(graph, {**inputs, seed_name: one_hot}, roots, reuse=first, changed=seed_name)
        if first is None:
            first = evaluation
        for name, node in gradients.items():
            if node is not None:
                matrices[name][row] = np.reshape(evaluation.values[node], -1)
    forward = GradResult(expression, graph, adjoints, first, notices)
    return JacobianResult(
        source=expression,
        output=output,
        output_shape=output_shape,
        inputs=inputs,
        shapes={graph.nodes[v].name: graph.shape(v) for v in graph.variables},
        matrices=matrices,
        passes=rows,
        layout=layout,
        warnings=forward.warnings,
    )


def _one_hot(shape: tuple[int, ...], index: int) -> Any:
    if shape == ():
        return 1.0
    import numpy as np

    vector = np.zeros(shape)
    vector.flat[index] = 1.0
    return vector

"""One evaluation for many values of some inputs: a leading batch axis on what depends on them.

A Hessian's rows are the backward pass from one-hot seeds, one seed per row;
a gradient check moves one input element at a time. Rather than walk the graph
once per seed or per moved element (a Python loop over the nodes each time),
the inputs that change are bound to a stack of values, and every node that
depends on them is computed once for the whole stack: element k of the batch
axis is what the one evaluation with the k-th values would give, number for
number (elementwise gates broadcast over the batch in numpy; the others run
once per batch element, the same calls the one evaluation makes).

Nothing is reported here: the caller has evaluated the graph once the usual
way (``evaluate``), with its findings, and reads the batch's values.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from bpcli.engine.gates import REGISTRY, Gate
from bpcli.engine.graph import INPUT, Graph


def depends_on(graph: Graph, names: Sequence[str] | set[str]) -> list[bool]:
    """Which nodes depend on any of the inputs ``names``."""
    wanted = set(names)
    depends = [False] * len(graph.nodes)
    for i, node in enumerate(graph.nodes):
        depends[i] = (node.op == INPUT and node.name in wanted) or any(depends[j] for j in node.inputs)
    return depends


def evaluate_batch(
    graph: Graph, values: Sequence[Any], batches: Mapping[str, Any], live: Sequence[bool] | None = None,
) -> list[Any]:
    """The values of every node, those that depend on ``batches``'s inputs with a leading batch axis.

    ``values`` is an evaluation of every node (its values are kept where
    nothing changes); ``batches`` maps input names to arrays whose first axis
    is the batch, the same length for all. With ``live``, only those nodes
    are computed.
    """
    import numpy as np  # numpy only where arrays are (start-up)

    from bpcli.engine.backends import array  # batches are arrays

    batched = depends_on(graph, list(batches))
    out = list(values)
    size = len(next(iter(batches.values())))
    with np.errstate(all="ignore"):
        for index, node in enumerate(graph.nodes):
            if not batched[index] or (live is not None and not live[index]):
                continue
            if node.op == INPUT:
                out[index] = batches[node.name]
                continue
            gate = REGISTRY[node.op]
            flags = [batched[i] for i in node.inputs]
            inputs = [out[i] for i in node.inputs]
            out[index] = _forward(array, gate, inputs, flags, graph.shape(index), size, node.attrs or {})
    return out


def _forward(xp: Any, gate: Gate, inputs: list[Any], flags: list[bool], shape: tuple[int, ...], size: int,
             attrs: Mapping[str, Any]) -> Any:
    """The gate over the batch: broadcast where it is elementwise, else once per batch element."""
    import numpy as np  # numpy only where arrays are (start-up)

    if gate.elementwise:
        return np.broadcast_to(gate.forward(xp, *aligned(inputs, flags, shape, size), **attrs), (size, *shape))
    if gate.op == "sum" and attrs.get("axis") is None and flags == [True]:
        # Each row summed as the one evaluation sums it: numpy's pairwise sum along a contiguous last axis.
        return np.sum(np.reshape(inputs[0], (size, -1)), axis=1)
    rows = [gate.forward(xp, *[v[k] if flag else v for v, flag in zip(inputs, flags)], **attrs)
            for k in range(size)]
    return np.stack([np.asarray(row, dtype=np.result_type(row)) for row in rows])


def aligned(inputs: list[Any], flags: list[bool], shape: tuple[int, ...], size: int) -> list[Any]:
    """An elementwise gate's inputs over the batch: a batched one of shape (B, *s) lines up with the
    output's trailing axes as s did, the others broadcast as they did."""
    import numpy as np  # numpy only where arrays are (start-up)

    rank = len(shape)
    return [np.reshape(v, (size, *(1,) * (rank - np.ndim(v) + 1), *np.shape(v)[1:])) if flag else v
            for v, flag in zip(inputs, flags)]

"""The Hessian: second derivatives by reverse-over-reverse, never by finite differences.

The backward pass appends the gradient g = df/dw as ordinary nodes, so the
Hessian is the Jacobian of g: for each element of each variable, one more
backward pass, from that element of g (a one-hot seed), gives one row. All
of them are one backward pass from <g, s> whose seed s is bound to the rows
of the identity matrix as a batch, evaluated once (``_matrix``). Arrays are
flattened, each variable's elements in row-major order, variables in the
order listed.

A Hessian-vector product H v needs no matrix: it is the gradient of the
number <g, v>, so one extra backward pass gives it, whatever the size.

At a kink (relu at 0, a max tie) the first derivative jumps and the second
does not exist; the Hessian takes the derivative of the jump as 0, as it is
on either side, and says so in a warning.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any, Callable, Mapping, Sequence

from bpcli.analyses.derivative import higher_order_warnings, require_number, variable
from bpcli.analyses.jacobian import vjp_rows
from bpcli.analyses.result import Result, zero_like
from bpcli.engine.backward import backward
from bpcli.engine.budget import check_work, room_left
from bpcli.engine.errors import BpcliError
from bpcli.engine.graph import CONST, INPUT, Builder
from bpcli.engine.problem import Limits, Notice, Problem, to_value
from bpcli.engine.record import Record, field
from bpcli.engine.shapes import element_labels, show, size, value_shape

DEFAULT_MAX_ENTRIES = 1_000_000
BATCH_ELEMENTS = 1 << 20  # numbers per node in one chunk of rows evaluated together (8 MB)
# Up to this many variables, all numbers, the rows are separate passes on numbers: the batch would
# import numpy, which takes longer than the passes (start-up). The rows are the same to the last bit.
ROWS_ON_NUMBERS = 8
MODES = ("matrix", "hvp")


class HessianResult(Result, Record):
    """The Hessian matrix of a number over its variables' elements, or the product H v.

    In ``"matrix"`` mode ``matrix`` is n × n over the flattened elements
    (``elements`` labels them), a numpy array, and ``entries`` the same rows
    as lists of floats; in ``"hvp"`` mode ``product`` is H v, shaped like
    each variable.

        >>> import bpcli
        >>> r = bpcli.hessian("x**2 * y", x=1, y=2, vector={"x": 1, "y": 0})
        >>> r.mode, r.product
        ('hvp', {'x': 4.0, 'y': 2.0})
    """

    source: str
    output: str
    value: Any
    variables: list[str]  # the variables differentiated with respect to, in order
    shapes: dict[str, tuple[int, ...]]
    inputs: dict[str, Any]
    gradients: dict[str, Any]
    # n rows of n floats over the flattened elements (mode "matrix"), else None: numpy only when
    # ``matrix`` is read (start-up).
    entries: list[list[float]] | None
    vector: dict[str, Any] | None  # v, shaped like each variable (mode "hvp")
    product: dict[str, Any] | None  # H v, shaped like each variable (mode "hvp")
    passes: int  # backward passes through the gradient
    warnings: list[Notice] = field(default_factory=list)

    @cached_property
    def matrix(self) -> Any:
        """The n × n numpy matrix over the flattened elements (mode "matrix"), else None."""
        if self.entries is None:
            return None
        import numpy as np  # numpy only where arrays are asked for (start-up)

        return np.array(self.entries, dtype=float).reshape(len(self.entries), len(self.entries))

    @property
    def mode(self) -> str:
        return "matrix" if self.product is None else "hvp"

    @property
    def elements(self) -> list[str]:
        """The rows' and columns' labels: x, or W[0,0], W[0,1], ... for an array."""
        return [label for name in self.variables for label in element_labels(name, self.shapes[name])]


def hessian(
    expression: str,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    wrt: Sequence[str] | str | None = None,
    vector: Any = None,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    limits: Limits = Limits(),
    **values: Any,
) -> HessianResult:
    """The Hessian of ``expression`` at the given values, over the variables ``wrt`` (default: all).

    With ``vector`` (a value per variable, or one flat vector over all their
    elements), the Hessian-vector product H v instead, without the matrix.

        >>> import bpcli
        >>> bpcli.hessian("x**2 * y", x=1, y=2).matrix.tolist()
        [[4.0, 2.0], [2.0, 0.0]]
    """
    problem = Problem.of(expression, {**(bindings or {}), **values}, limits=limits)
    graph, inputs = problem.graph, problem.inputs
    require_number(graph, graph.output, "the output", "the Hessian is of a number: reduce it with sum(...)")
    chosen = _chosen(graph, wrt)
    if vector is None:
        _check_size(graph, chosen, max_entries)
    forward_nodes = problem.forward_nodes
    graph.share_gradients()  # as --order does: the second derivatives agree with it to the last bit
    first = problem.backward()
    first_pass = range(forward_nodes, len(graph.nodes))
    gradient = {v: first.gradient(v) for v in chosen}
    evaluated = [*range(forward_nodes), *(g for g in gradient.values() if g is not None)]
    findings: list[Any]  # the matrix's passes' (none for a product with a vector)
    matrix, passes, findings, vectors, product_nodes = None, 1, [], None, None
    if vector is not None:
        vectors = _vectors(graph, chosen, vector)
        product_nodes = _hvp_nodes(graph, gradient, vectors)
        evaluated += [node for node in product_nodes.values() if node is not None]
    # Before the matrix's passes add their one-hot inputs to the graph.
    evaluation = problem.evaluate(roots=evaluated, watch=evaluated[forward_nodes:])
    if vector is None:
        matrix, passes, findings = _matrix(graph, inputs, gradient, evaluation, limits.max_total_elements)

    def value_of(v: int, node: int | None) -> Any:
        return zero_like(inputs[graph.nodes[v].name]) if node is None else evaluation.values[node]

    def by_name(nodes: dict[int, Any], read: Callable[[int, Any], Any] = value_of) -> dict[str, Any]:
        return {graph.nodes[v].name: read(v, node) for v, node in nodes.items()}

    return HessianResult(
        source=expression,
        output=graph.nodes[graph.output].name,
        value=evaluation.values[graph.output],
        variables=[graph.nodes[v].name for v in chosen],
        shapes={graph.nodes[v].name: graph.shape(v) for v in chosen},
        inputs=inputs,
        gradients=by_name(gradient),
        entries=matrix,
        vector=None if vectors is None else by_name(vectors, read=lambda v, value: value),
        product=None if product_nodes is None else by_name(product_nodes),
        passes=passes,
        warnings=[
            *higher_order_warnings(problem, evaluation, findings, first_pass),
            *_asymmetry(graph, chosen, matrix),
        ],
    )


def _asymmetry(graph: Any, chosen: list[int], matrix: list[list[float]] | None) -> list[Notice]:
    """A warning where the matrix is not symmetric: a true Hessian is, wherever it exists.

    Mixed partials differ (or one is nan) only where f is not twice
    differentiable, so the entry says which pair and why it cannot be trusted.
    """
    if not matrix:
        return []
    pair = _asymmetric_pair(matrix)
    if pair is None:
        return []
    labels = [label for v in chosen for label in element_labels(graph.nodes[v].name, graph.shape(v))]
    i, j = pair
    message = (
        f"the Hessian is not symmetric: ∂²f/∂{labels[i]} ∂{labels[j]} = {matrix[i][j]:g} but "
        f"∂²f/∂{labels[j]} ∂{labels[i]} = {matrix[j][i]:g}; f is not twice differentiable there "
        "(an inf or nan in its second derivatives, or a kink), so neither entry is a true second derivative"
    )
    return [Notice(None, None, "asymmetric", message)]


def _asymmetric_pair(matrix: list[list[float]]) -> tuple[int, int] | None:
    """The first entry, row by row, that differs from its mirror image by more than rounding."""
    n = len(matrix)
    if n <= ROWS_ON_NUMBERS:  # a few numbers, compared without numpy's import (start-up)
        return next(((i, j) for i in range(n) for j in range(n) if not _close(matrix[i][j], matrix[j][i])), None)
    import numpy as np  # a large matrix is compared as an array (the batch has imported numpy already)

    array = np.array(matrix, dtype=float)
    with np.errstate(all="ignore"):
        same = np.isclose(array, array.T, rtol=1e-7, atol=1e-12, equal_nan=True)  # rounding differs by order
    if same.all():
        return None
    i, j = (int(k) for k in np.argwhere(~same)[0])
    return i, j


def _close(a: float, b: float) -> bool:
    """numpy's isclose(a, b, rtol=1e-7, atol=1e-12, equal_nan=True): the rounding differs by the order of passes."""
    if a == b or (a != a and b != b):
        return True
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= 1e-12 + 1e-7 * abs(b)


def _check_size(graph: Any, chosen: list[int], max_entries: int) -> None:
    count = sum(size(graph.shape(v)) for v in chosen)
    if count * count > max_entries:
        raise BpcliError(
            f"the Hessian would have {count:,} × {count:,} = {count * count:,} entries; the limit is "
            f"{max_entries:,} (raise it with --max-entries, or ask for a Hessian-vector product with --vector)"
        )


def _matrix(graph: Any, inputs: Mapping[str, Any], gradient: dict[int, int | None],
            evaluation: Any, max_total: int) -> tuple[list[list[float]], int, list[Any]]:
    """Every row at once: one backward pass from <g, s>, its seeds s a batch of one-hot vectors.

    Row k is the gradient of g's k-th element, the backward pass through the
    gradient seeded with the k-th one-hot vector. The passes of all the
    variables are one pass, from the number <g, s> = sum over v of <g_v, s_v>
    whose seeds s_v are inputs; bound to the identity matrix's rows as a
    batch, one evaluation gives every row (``evaluate_batch``). In a row, the
    seeds of the other variables are 0, and what they contribute adds exactly
    0: the rows are those of separate passes to the last bit, unless a second
    derivative is inf or nan (0 × inf is nan). Then the seeded pass is undone
    and the rows are computed as separate passes (``_matrix_by_rows``), and
    their warnings with them; so are a few numbers' (``ROWS_ON_NUMBERS``).
    The rows go in chunks that keep what is held at once within the budget
    ``max_total``.
    """
    chosen = list(gradient)
    if graph.shapes is None and len(chosen) <= ROWS_ON_NUMBERS:
        return _matrix_by_rows(graph, inputs, gradient, max_total)
    import numpy as np  # numpy only where arrays are (start-up)

    from bpcli.engine.batched import evaluate_batch
    from bpcli.engine.evaluate import evaluate

    sizes = [size(graph.shape(v)) for v in chosen]
    count = sum(sizes)
    before = graph.checkpoint()
    seeds, second = _seeded_pass(graph, gradient)
    if not seeds:
        return [[0.0] * count for _ in range(count)], 0, []
    wanted = [node for node in (second.gradient(v) for v in chosen) if node is not None]
    live = graph.live(wanted)
    rows_fit = _rows_in_budget(graph, live, list(seeds.values()), count, max_total)
    bound = {**inputs, **{name: zero_like(inputs[graph.nodes[v].name]) for v, name in seeds.items()}}
    # The new nodes that do not depend on the seeds (the second pass's local gradients), computed once.
    base = evaluate(graph, bound, roots=wanted, reuse=evaluation, watch=[])
    matrix = np.zeros((count, count))
    offsets = np.cumsum([0, *sizes])
    for rows in _row_chunks(graph, count, rows_fit):
        batches = {name: _one_hots(chosen, sizes, offsets, v, rows, graph.shape(v)) for v, name in seeds.items()}
        values = evaluate_batch(graph, base.values, batches, live)
        for v, start, n in zip(chosen, offsets, sizes):
            node = second.gradient(v)
            if node is not None:  # a folded constant has no batch axis: the same in every row
                block = np.broadcast_to(values[node], (len(rows), *graph.shape(v)))
                matrix[rows, start:start + n] = np.reshape(block, (len(rows), n))
    for v, start, n in zip(chosen, offsets, sizes):
        if gradient[v] is None:  # f does not depend on v: its rows are zero
            matrix[start:start + n] = 0.0
    if not np.all(np.isfinite(matrix)):
        # The separate passes on the graph as it was: the seeded pass's nodes, shared with
        # theirs, would change the order they are evaluated in, and so their warnings'.
        graph.restore(before)
        return _matrix_by_rows(graph, inputs, gradient, max_total)
    passes = sum(n for v, n in zip(chosen, sizes) if gradient[v] is not None)
    entries: list[list[float]] = matrix.tolist()
    return entries, passes, []


def _matrix_by_rows(graph: Any, inputs: Mapping[str, Any],
                    gradient: dict[int, int | None], max_total: int) -> tuple[list[list[float]], int, list[Any]]:
    """Row by row: the Jacobian of each variable's gradient, one backward pass (and evaluation) per element."""
    chosen = list(gradient)
    count = sum(size(graph.shape(v)) for v in chosen)
    matrix: list[list[float]] = []
    passes, findings = 0, []
    bound = dict(inputs)
    for v, node in gradient.items():
        if node is None:  # f does not depend on v: its rows are zero
            matrix.extend([0.0] * count for _ in range(size(graph.shape(v))))
            continue
        rows = vjp_rows(graph, node, bound, chosen, max_total)
        matrix.extend([entry for block in pieces for entry in block] for pieces in zip(*rows.matrices))
        findings.extend(rows.findings)
        passes += size(graph.shape(v))
        bound[rows.seed] = zero_like(inputs[graph.nodes[v].name])  # every input has a value from now on
    return matrix, passes, findings


def _seeded_pass(graph: Any, gradient: dict[int, int | None]) -> tuple[dict[int, str], Any]:
    """The backward pass from <g, s>: a seed input s_v per variable whose gradient g_v is a node."""
    g = Builder(graph)
    seeds: dict[int, str] = {}
    terms = []
    for v, node in gradient.items():
        if node is None:
            continue
        g.origin = node  # these nodes serve the gradient, and are no stage of the forward pass
        seeds[v] = graph.claim("d" + graph.nodes[node].name)
        seed = graph.add(INPUT, (), seeds[v], shape=graph.shape(node))
        product = g.mul(node, seed)
        terms.append(product if graph.shape(node) == () else g.sum(product))
    if not terms:
        return seeds, None
    inner = terms[0] if len(terms) == 1 else g.accumulate(*terms)
    return seeds, backward(graph, output=inner)


def _rows_in_budget(graph: Any, live: list[bool], seeds: list[str], count: int, max_total: int) -> int:
    """How many rows one batch may hold beside every value and the matrix, within the budget (which
    bounds what all the rows compute as well)."""
    from bpcli.engine.batched import depends_on

    per_row = sum(size(graph.shape(i)) for i, moved in enumerate(depends_on(graph, seeds)) if moved and live[i])
    fit = room_left(graph, max_total, count * count, per_row,
                    f", the matrix's {count:,} × {count:,} entries, and {per_row:,} more for each row of a batch")
    check_work(graph, max_total, count, per_row, f"the Hessian's {count:,} rows, a backward pass each,")
    return fit


def _row_chunks(graph: Any, count: int, fit: int) -> list[Any]:
    """The rows in chunks whose batched values stay near ``BATCH_ELEMENTS`` numbers per node, and
    within the ``fit`` rows the budget holds."""
    largest = max([size(graph.shape(i)) for i in range(len(graph.nodes))] + [1]) if graph.shapes is not None else 1
    step = max(1, min(fit, BATCH_ELEMENTS // largest))
    return [range(start, min(start + step, count)) for start in range(0, count, step)]


def _one_hots(chosen: list[int], sizes: list[int], offsets: Any, v: int, rows: range, shape: tuple[int, ...]) -> Any:
    """Seed s_v for each row of the chunk: row k's one-hot where k is an element of v, else zeros."""
    import numpy as np  # numpy only where arrays are (start-up)

    start = int(offsets[chosen.index(v)])
    seeds = np.zeros((len(rows), sizes[chosen.index(v)]))
    for position, row in enumerate(rows):
        if start <= row < start + seeds.shape[1]:
            seeds[position, row - start] = 1.0
    return seeds.reshape((len(rows), *shape))


def _chosen(graph: Any, wrt: Sequence[str] | str | None) -> list[int]:
    if wrt is None:
        return graph.differentiable_variables()  # index inputs and constants take no derivative
    names = [wrt] if isinstance(wrt, str) else list(wrt)
    chosen = [variable(graph, name) for name in names]
    if len(set(chosen)) != len(chosen):
        raise BpcliError("a variable is named twice in wrt")
    return chosen


def _vectors(graph: Any, chosen: list[int], vector: Any) -> dict[int, Any]:
    """v as one value per chosen variable, shaped like it (missing ones are zero)."""
    import numpy as np  # numpy only where arrays are (start-up)

    names = {graph.nodes[v].name: v for v in chosen}
    if isinstance(vector, Mapping):
        unknown = [name for name in vector if name not in names]
        if unknown:
            raise BpcliError(f"the vector names {', '.join(unknown)}, but the Hessian is over {', '.join(names)}")
        given = {names[name]: to_value(f"the vector's {name}", value) for name, value in vector.items()}
    else:
        flat = np.reshape(np.asarray(to_value("the vector", vector), dtype=float), -1)
        count = sum(size(graph.shape(v)) for v in chosen)
        if flat.size != count:
            raise BpcliError(
                f"the vector has {flat.size} element{'s' if flat.size != 1 else ''}, but the Hessian is over "
                f"{count} ({', '.join(f'{n} {show(graph.shape(v))}' for n, v in names.items())}); give one "
                "number per element, in that order, or a value per variable (x=...)"
            )
        given, offset = {}, 0
        for v in chosen:
            n = size(graph.shape(v))
            piece = flat[offset:offset + n]
            given[v] = float(piece[0]) if graph.shape(v) == () else piece.reshape(graph.shape(v))
            offset += n
    vectors = {}
    for v in chosen:
        value = given.get(v, 0.0 if graph.shape(v) == () else np.zeros(graph.shape(v)))
        if value_shape(value) != graph.shape(v):
            raise BpcliError(
                f"the vector's {graph.nodes[v].name} has shape {show(value_shape(value))}, but "
                f"{graph.nodes[v].name} has shape {show(graph.shape(v))}"
            )
        vectors[v] = value
    return vectors


def _hvp_nodes(graph: Any, gradient: dict[int, int | None], vectors: dict[int, Any]) -> dict[int, int | None]:
    """H v: the gradient of <g, v>, one more backward pass through the gradient graph."""
    g = Builder(graph)
    terms = []
    for v, node in gradient.items():
        if node is None:
            continue
        g.origin = node  # these nodes serve the gradient, and are no stage of the forward pass
        value = vectors[v]
        direction = g.const(value) if isinstance(value, float) else graph.add(
            CONST, (), graph.fresh_name("_v"), value=value
        )
        terms.append(g.sum(g.mul(node, direction)))
    if not terms:
        return {v: None for v in gradient}
    inner = terms[0]
    for term in terms[1:]:
        inner = g.add(inner, term)
    second = backward(graph, output=inner)
    return {v: second.gradient(v) for v in gradient}

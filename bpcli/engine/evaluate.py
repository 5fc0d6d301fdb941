"""The one evaluator: computes every node of a graph, forward and gradient nodes alike.

It picks the backend from the values bound to the inputs (Python floats: the
scalar backend, no numpy needed; any array: numpy) and notes every point where
the numbers need a word: a kink whose derivative is a convention, a tie, a
division by zero, an overflow, a logarithm of zero.
"""

from __future__ import annotations

import math
import sys
from types import ModuleType
from typing import Any, Iterable, Mapping

from bpcli.engine.batched import depends_on
from bpcli.engine.errors import BpcliError
from bpcli.engine.gates import DEFAULT_NONFINITE, NUMPY_FORWARDS, REGISTRY, Gate
from bpcli.engine.graph import CONST, INPUT, Graph
from bpcli.engine.indexing import IndexProblem, MaskChanged
from bpcli.engine.record import NamedTuple
from bpcli.engine.values import underflowed_numbers, underflows


class Finding(NamedTuple):
    """Something the evaluation ran into at a node, in the gate's words."""

    node: int
    kind: str  # "kink", "nonfinite", "nonfinite-gradient", "nonfinite-input", "underflow-input"
    note: str


class Evaluation(NamedTuple):
    values: list[Any]
    findings: list[Finding]


def evaluate(
    graph: Graph,
    bindings: Mapping[str, Any],
    roots: Iterable[int] | None = None,
    reuse: Evaluation | None = None,
    changed: str | None = None,
    watch: list[int] | None = None,
) -> Evaluation:
    """Compute the nodes; ``bindings`` maps each input variable's name to its value.

    ``roots`` are the nodes whose values are wanted: folding in the backward
    builder can leave a node that nothing uses, and a non-finite value there
    must not be reported. With ``reuse`` (an earlier evaluation) and
    ``changed`` (the one input whose value is new, or None), only the nodes
    that depend on that input are computed again, and those added to the
    graph since.

    On arrays, a pass over every element of every gradient node to look for
    inf and nan would cost a third of the evaluation; with ``watch`` (the
    gradients that are reported), gradient nodes are looked at only if one
    of those is not finite; the same on numbers, so that an inf the
    conventions turn back into 0 (mul0 in the power gate's gradient) raises
    no warning about a gradient that is finite.
    """
    recompute = None if reuse is None else _depends_on(graph, changed, len(reuse.values))
    # Arrays anywhere (a bound value, or a literal such as [1, 2]) need numpy.
    if graph.shapes is not None or any(hasattr(value, "shape") for value in bindings.values()):
        import numpy as np  # numpy only where arrays are (start-up)

        from bpcli.engine.backends import array  # the backend the values need

        with np.errstate(all="ignore"):
            return _run(graph, bindings, array, recompute, reuse, roots, watch)
    from bpcli.engine.backends import scalar  # the backend the values need

    if "numpy" not in sys.modules and not _computes_with_numpy(graph):
        return _run(graph, bindings, scalar, recompute, reuse, roots, watch)
    import numpy as np  # numpy's booleans and np.where on numbers: numpy's scalars follow them

    with np.errstate(all="ignore"):  # inf * 0 on np.float64: a finding, not a RuntimeWarning
        return _run(graph, bindings, scalar, recompute, reuse, roots, watch)


def _computes_with_numpy(graph: Graph) -> bool:
    """Whether a gate of ``graph`` computes with numpy on numbers too (a comparison, where, //, %); the
    nodes added since the last evaluation are looked at (a small table evaluates the same graph per row)."""
    seen, found = graph.numpy_scan
    nodes = graph.nodes
    if seen < len(nodes):
        found = found or any(node.op in REGISTRY and REGISTRY[node.op].forward in NUMPY_FORWARDS
                             for node in nodes[seen:])
        graph.numpy_scan = (len(nodes), found)
    return found


class ShapeChanged(BpcliError):
    """Values other than the bound ones (gradcheck's x ± h) made a mask read through pick another number
    of elements: the shapes checked before evaluation no longer hold. ``node``: the subscript."""

    def __init__(self, message: str, *, source: str | None, span: tuple[int, int] | None, node: int) -> None:
        super().__init__(message, source=source, span=span)
        self.node = node


def _index_error(graph: Graph, node: int, problem: IndexProblem) -> BpcliError:
    """An index out of range or not whole, at the subscript that used it."""
    from bpcli.engine.formulas import gate_text

    node = graph.forward_node(node)
    return BpcliError(f"bad index in {gate_text(graph, node)}: {problem}", source=graph.source or None,
                      span=graph.nodes[node].span)


def _depends_on(graph: Graph, changed: str | None, known: int) -> list[bool]:
    """The nodes to compute again: those that depend on ``changed``, and those past the ``known`` first."""
    depends = depends_on(graph, [] if changed is None else [changed])
    return [depend or i >= known for i, depend in enumerate(depends)]  # the nodes added since come after


def _run(
    graph: Graph,
    bindings: Mapping[str, Any],
    xp: ModuleType,
    recompute: list[bool] | None,
    reuse: Evaluation | None,
    roots: Iterable[int] | None,
    watch: list[int] | None,
) -> Evaluation:
    values: list[Any] = [None] * len(graph.nodes)
    if reuse is not None:
        values[:len(reuse.values)] = reuse.values
    findings: list[Finding] = []
    suspects: list[tuple[int, int, str]] = []  # gradient nodes gone non-finite: (node, origin, word)
    all_finite = xp.all_finite
    deferred = watch is not None
    value_of = values.__getitem__
    index = 0
    try:
        for index, node in enumerate(graph.nodes):
            if recompute is not None and not recompute[index]:
                continue
            op = node.op
            if op == INPUT:
                value = values[index] = bindings[node.name]
                if not all_finite(value):
                    findings.append(Finding(index, "nonfinite-input", f"{node.name} is {_nonfinite_word(value)}"))
                continue
            if op == CONST:
                value = values[index] = node.value
                if node.span is not None and not all_finite(value):  # a number written too large: 1e999
                    word = _nonfinite_word(value)
                    findings.append(Finding(index, "nonfinite-input", f"the number {node.name} is {word} in float64"))
                elif node.span is not None and isinstance(value, float) and underflows(node.name, value):
                    message = f"the number {node.name} underflows float64 to 0"
                    findings.append(Finding(index, "underflow-input", message))
                elif node.span is not None and hasattr(value, "shape"):  # an array literal: [1e-400, 2]
                    findings.extend(Finding(index, "underflow-input", f"the number {number} in {node.name} underflows "
                                            "float64 to 0") for number in underflowed_numbers(node.name)[:1])
                continue
            gate = REGISTRY[op]
            inputs = [*map(value_of, node.inputs)]
            attrs = node.attrs
            out = values[index] = gate.forward(xp, *inputs, **attrs) if attrs else gate.forward(xp, *inputs)
            if node.origin is None and gate.kink is not None:
                hits = xp.count(gate.kink(xp, *inputs, **(attrs or {})))
                if hits:
                    findings.append(Finding(index, "kink", gate.kink_note + _how_many(hits, out)))
            if all_finite(out) or (deferred and node.origin is not None):
                continue
            if node.origin is not None:
                if _went_nonfinite(xp, inputs, out):
                    suspects.append((index, node.origin, _nonfinite_word(out)))
                continue
            if not all(all_finite(v) for v in inputs):
                continue  # non-finite because an input already was: reported where it began
            findings.append(Finding(index, "nonfinite", _nonfinite_note(xp, gate, inputs, out)))
    except IndexProblem as problem:
        error = _index_error(graph, index, problem)
        if isinstance(problem, MaskChanged):
            subscript = graph.forward_node(index)
            raise ShapeChanged(error.message, source=error.source, span=error.span, node=subscript) from None
        raise error from None
    if watch is not None and not all(values[w] is None or all_finite(values[w]) for w in watch):
        # Where the reported gradients that are not finite began (an inf that
        # the conventions turned back into 0 on its way is not one of them).
        roots = [w for w in watch if values[w] is not None and not all_finite(values[w])]
        nodes = graph.nodes
        suspects = [
            (index, node.origin, _nonfinite_word(values[index]))
            for index, node in enumerate(nodes)
            if node.origin is not None and values[index] is not None
            and _went_nonfinite(xp, [values[i] for i in node.inputs if not _unreported(nodes[i])], values[index])
        ]
    return Evaluation(values, findings + _gradient_findings(graph, values, suspects, roots))


def _unreported(node: Any) -> bool:
    """A constant the backward pass made (a folded log(0) is -inf) or was given (an upstream of nan):
    nothing reports it, so a gradient it makes inf or nan is where that began."""
    return node.op == CONST and node.span is None


def _went_nonfinite(xp: ModuleType, inputs: list[Any], out: Any) -> bool:
    """Whether ``out`` is where inf or nan began: not finite from finite inputs, or nan from inputs
    without a nan (inf * 0: the gradient of log(1 + exp(x)) at x = 1000, whose exp overflows)."""
    if xp.all_finite(out):
        return False
    if all(xp.all_finite(v) for v in inputs):
        return True
    return xp.is_nan(out) and not any(xp.is_nan(v) for v in inputs)


def _gradient_findings(
    graph: Graph, values: list[Any], suspects: list[tuple[int, int, str]], roots: Iterable[int] | None,
) -> list[Finding]:
    """One finding per stage whose gradient went non-finite, at nodes the wanted values use."""
    if not suspects:
        return []
    live = None if roots is None else graph.live(roots)
    reported: dict[int, Finding] = {}
    made = _made_for(graph, {origin for _, origin, _ in suspects}, live)
    for node, origin, word in suspects:
        if origin not in reported and (live is None or live[node]):
            word = _passed_on_word(graph, values, made[origin]) or word
            reported[origin] = Finding(origin, "nonfinite-gradient", f"the gradient through it is {word}")
    return list(reported.values())


def _made_for(graph: Graph, origins: set[int], live: list[bool] | None) -> dict[int, list[int]]:
    """The gradient nodes made for each of ``origins`` (the stages they serve), in one pass over the graph."""
    made: dict[int, list[int]] = {origin: [] for origin in origins}
    for i, node in enumerate(graph.nodes):
        if node.origin in made and (live is None or live[i]):
            made[node.origin].append(i)
    return made


def _passed_on_word(graph: Graph, values: list[Any], made: list[int]) -> str:
    """What is not finite in the gradients a stage passes on (its nodes no other node of the stage uses):
    where inf began, a -inf or a nan may be what its inputs receive."""
    used_inside = {j for i in made for j in graph.nodes[i].inputs}
    passed = [values[i] for i in made if i not in used_inside and values[i] is not None]
    return _nonfinite_word(*passed)


def _how_many(hits: int, out: Any) -> str:
    size = getattr(out, "size", 1)
    return f" (at {hits} of {size} elements)" if size > 1 else ""


def _nonfinite_word(*values: Any) -> str:
    """What the values hold that is not finite, every kind named: "-inf", "inf and nan"."""
    kinds = [word for word, present in zip(("inf", "-inf", "nan"), _nonfinite_kinds(values)) if present]
    return " and ".join(kinds) if len(kinds) < 3 else "inf, -inf and nan"


def _nonfinite_kinds(values: tuple[Any, ...]) -> tuple[bool, bool, bool]:
    """Whether any of the values holds inf, -inf, nan."""
    inf = minus_inf = nan = False
    for value in values:
        if hasattr(value, "shape"):
            import numpy as np  # numpy only where arrays are (start-up)

            inf, minus_inf, nan = inf or bool(np.isposinf(value).any()), \
                minus_inf or bool(np.isneginf(value).any()), nan or bool(np.isnan(value).any())
        else:
            inf, minus_inf, nan = inf or value == math.inf, minus_inf or value == -math.inf, nan or value != value
    return inf, minus_inf, nan


def _nonfinite_note(xp: ModuleType, gate: Gate, inputs: list[Any], out: Any) -> str:
    """The gate's explanation, at the first element that went non-finite."""
    if gate.nonfinite is None:
        reason = DEFAULT_NONFINITE
    else:
        reason = gate.nonfinite(*_first_nonfinite_point(inputs, out))
    return f"{reason}: the value is {_nonfinite_word(out)}" + _how_many(_count_nonfinite(out), out)


def _first_nonfinite_point(inputs: list[Any], out: Any) -> list[float]:
    if not hasattr(out, "shape") or out.shape == ():
        return [float(v) for v in inputs]
    import numpy as np  # numpy only where arrays are (start-up)

    where = np.unravel_index(int(np.argmax(~np.isfinite(out))), out.shape)
    return [float(np.broadcast_to(v, out.shape)[where]) for v in inputs]


def _count_nonfinite(out: Any) -> int:
    if not hasattr(out, "shape"):
        return 1
    import numpy as np  # numpy only where arrays are (start-up)

    return int(np.count_nonzero(~np.isfinite(out)))

"""The one evaluator: computes every node of a graph, forward and gradient nodes alike.

It picks the backend from the values bound to the inputs (Python floats: the
scalar backend, no numpy needed; any array: numpy) and notes every point where
the numbers need a word: a kink whose derivative is a convention, a tie, a
division by zero, an overflow, a logarithm of zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from bpcli.gates import DEFAULT_NONFINITE, REGISTRY
from bpcli.graph import CONST, INPUT, Graph


@dataclass(frozen=True)
class Finding:
    """Something the evaluation ran into at a node, in the gate's words."""

    node: int
    kind: str  # "kink", "nonfinite", "nonfinite-gradient", "nonfinite-input"
    note: str


@dataclass
class Evaluation:
    values: list[Any]
    findings: list[Finding]


def evaluate(
    graph: Graph,
    bindings: Mapping[str, Any],
    roots: Iterable[int] | None = None,
    reuse: Evaluation | None = None,
    changed: str | None = None,
) -> Evaluation:
    """Compute the nodes; ``bindings`` maps each input variable's name to its value.

    With ``roots``, only the nodes those are computed from are evaluated (the
    rest stay None): folding in the backward builder can leave nodes that
    nothing uses, and they must neither cost time nor raise warnings. With
    ``reuse`` (an earlier evaluation) and ``changed`` (the one input whose value
    is new), only the nodes that depend on that input are computed again.
    """
    live = None if roots is None else graph.live(roots)
    if reuse is not None:
        live = _changed_only(graph, live, changed)
    if any(hasattr(value, "shape") for value in bindings.values()):
        import numpy as np

        from bpcli.backends import array as xp

        with np.errstate(all="ignore"):
            return _run(graph, bindings, xp, live, reuse)
    from bpcli.backends import scalar as xp

    return _run(graph, bindings, xp, live, reuse)


def _changed_only(graph: Graph, live: list[bool] | None, changed: str | None) -> list[bool]:
    depends = [False] * len(graph.nodes)
    for i, node in enumerate(graph.nodes):
        depends[i] = (node.op == INPUT and node.name == changed) or any(depends[j] for j in node.inputs)
    return [d and (live is None or live[i]) for i, d in enumerate(depends)]


def _run(
    graph: Graph, bindings: Mapping[str, Any], xp: Any, live: list[bool] | None, reuse: Evaluation | None
) -> Evaluation:
    values: list[Any] = [None] * len(graph.nodes) if reuse is None else list(reuse.values)
    findings: list[Finding] = []
    gradient_warned: set[int] = set()
    for index, node in enumerate(graph.nodes):
        if live is not None and not live[index]:
            continue
        if node.op == INPUT:
            value = bindings[node.name]
            if not xp.all_finite(value):
                findings.append(Finding(index, "nonfinite-input", f"{node.name} is {_nonfinite_word(xp, value)}"))
            values[index] = value
            continue
        if node.op == CONST:
            values[index] = node.value
            continue
        gate = REGISTRY[node.op]
        inputs = [values[i] for i in node.inputs]
        attrs = node.attrs or {}
        out = gate.forward(xp, *inputs, **attrs)
        values[index] = out
        if node.origin is None:
            if gate.kink is not None:
                hits = xp.count(gate.kink(xp, *inputs, **attrs))
                if hits:
                    findings.append(Finding(index, "kink", gate.kink_note + _how_many(hits, out)))
            if not xp.all_finite(out) and all(xp.all_finite(v) for v in inputs):
                findings.append(Finding(index, "nonfinite", _nonfinite_note(xp, gate, inputs, out)))
        elif node.origin not in gradient_warned and not xp.all_finite(out) and all(
            xp.all_finite(v) for v in inputs
        ):
            gradient_warned.add(node.origin)
            findings.append(
                Finding(node.origin, "nonfinite-gradient", f"the gradient through it is {_nonfinite_word(xp, out)}")
            )
    return Evaluation(values, findings)


def _how_many(hits: int, out: Any) -> str:
    size = getattr(out, "size", 1)
    return f" (at {hits} of {size} elements)" if size > 1 else ""


def _nonfinite_word(xp: Any, value: Any) -> str:
    if xp.is_nan(value):
        return "nan"
    return "-inf" if xp.count(value < 0) else "inf"


def _nonfinite_note(xp: Any, gate: Any, inputs: list[Any], out: Any) -> str:
    """The gate's explanation, at the first element that went non-finite."""
    if gate.nonfinite is None:
        reason = DEFAULT_NONFINITE
    else:
        reason = gate.nonfinite(*_first_nonfinite_point(inputs, out))
    return f"{reason}: the value is {_nonfinite_word(xp, out)}" + _how_many(_count_nonfinite(out), out)


def _first_nonfinite_point(inputs: list[Any], out: Any) -> list[float]:
    if not hasattr(out, "shape") or out.shape == ():
        return [float(v) for v in inputs]
    import numpy as np

    where = np.unravel_index(int(np.argmax(~np.isfinite(out))), out.shape)
    return [float(np.broadcast_to(v, out.shape)[where]) for v in inputs]


def _count_nonfinite(out: Any) -> int:
    if not hasattr(out, "shape"):
        return 1
    import numpy as np

    return int(np.count_nonzero(~np.isfinite(out)))

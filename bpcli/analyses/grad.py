"""bpcli grad: the forward pass and one backward pass, every stage of it (GradResult).

    >>> import bpcli
    >>> r = bpcli.grad("(x+y)*z", x=-2, y=5, z=-4)
    >>> r.value, r.gradients
    (-12.0, {'x': -4.0, 'y': -4.0, 'z': 3.0})
"""

from __future__ import annotations

from typing import Any, Mapping

from bpcli.analyses.result import GradResult, TapeGradResult
from bpcli.engine.errors import BpcliError
from bpcli.engine.evaluate import Evaluation
from bpcli.engine.problem import Limits, Problem, build, collector_paused


def grad(
    expression: str,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    upstream: Any = None,
    expand: bool = False,
    limits: Limits = Limits(),
    **values: Any,
) -> GradResult:
    """Run the forward pass and backpropagate through ``expression``.

    Values (numbers, nested lists or numpy arrays) are given as keyword
    arguments (``x=-2``) or, for names that clash with this function's own
    (``bindings``, ``upstream``, ``expand``, ``limits``), in ``bindings``. A
    non-scalar output needs ``upstream``, the gradient flowing into it: an
    array of its shape, or ``"ones"``. ``expand`` decomposes grouped gates into
    primitive gates (sigmoid into negate, exp, add 1, reciprocal); the
    gradients are the same. ``limits`` bounds the work (``bpcli.Limits``: the
    largest array). ``bpcli grad`` prints the result's table, ``--json`` its
    ``to_json()``.

        >>> import bpcli
        >>> r = bpcli.grad("q = x + y; f = q * z", x=-2, y=5, z=-4)
        >>> r.value, r.gradients
        (-12.0, {'x': -4.0, 'y': -4.0, 'z': 3.0})
        >>> [(s.name, s.expression, s.upstream, s.downstream) for s in r.stages]
        [('q', 'x + y', -4.0, (-4.0, -4.0)), ('f', 'q * z', 1.0, (-4.0, 3.0))]
        >>> relu = bpcli.grad("relu(x)", x=[1, -2, 3, -1], upstream=[4, -1, 5, 9])
        >>> relu.gradients["x"].tolist() == [4, 0, 5, 0]  # an array for an array
        True
    """
    return grad_shown(expression, {**(bindings or {}), **values}, upstream=upstream, expand=expand, limits=limits)


# Shorter texts go the usual way, without the tape's import: their graph is small, and a view of their
# stages needs it anyway.
TAPE_SHORTEST = 4_000


def grad_shown(
    expression: str, given: Mapping[str, Any], *, upstream: Any = None, expand: bool = False,
    limits: Limits = Limits(), stages: bool = False,
) -> GradResult:
    """``grad`` for a caller that knows what it will show: with ``stages`` (--explain, a view that reads
    the graph), the graph is built at once; without, a large expression of numbers is differentiated on
    the flat tape (engine/tape.py), whose run the stages, the forks and the JSON document are read from,
    and the graph built only if another view asks for it."""

    def usual() -> GradResult:
        with collector_paused():
            problem = Problem.of(expression, given, expand=expand, limits=limits)
            return differentiate(problem, problem.upstream(upstream))

    if stages or upstream is not None or expand or len(expression) < TAPE_SHORTEST:
        return usual()
    from bpcli.engine import tape  # only for a large expression (start-up)

    # A large expression of numbers: the flat tape, unless it meets what the graph must say.
    answer = tape.differentiate(expression, given, limits)
    return usual() if answer is None else TapeGradResult(expression, answer, usual)


def differentiate(problem: Problem, upstream: Any = None) -> GradResult:
    """Backpropagate through a problem and evaluate it.

    ``upstream`` is the gradient flowing into the output; None is the number 1
    (for a non-scalar output that is the gradient of the sum of its elements,
    as with all ones, without an array of ones to multiply by).
    """
    adjoints = problem.backward(upstream)
    return GradResult(problem, adjoints, problem.gradients(adjoints))


def circuit(
    expression: str, *, upstream: Any = None, expand: bool = False, limits: Limits = Limits(),
    shapes: Mapping[str, Any] | None = None,
) -> GradResult:
    """The circuit and its backward pass with no values bound, nothing evaluated.

    For the views that need the structure only (the staged code of an
    expression given without values, a diagram without numbers): the result's
    values and gradients are None. ``shapes`` gives variables a shape
    (a tuple, or a ShapeOnly read from ``-W shape:5,10``); the others are
    numbers. An expression without variables needs no values, so it is evaluated.
    """
    graph = build(expression, expand)
    if not shapes and all(graph.nodes[v].name in graph.example_values for v in graph.variables):
        return grad(expression, upstream=upstream, expand=expand, limits=limits)  # every value is known
    try:
        problem = Problem.unbound(graph, limits, shapes)
    except BpcliError as error:
        unshaped = [graph.nodes[v].name for v in graph.variables if graph.nodes[v].name not in (shapes or {})]
        if unshaped:  # scalar @ scalar: say what was assumed, and how to say otherwise
            error.message += (
                f"; without values, {', '.join(unshaped)} {'is' if len(unshaped) == 1 else 'are'} taken as "
                f"{'a number' if len(unshaped) == 1 else 'numbers'}: give shapes (-{unshaped[0]} shape:5,10) or values"
            )
        raise
    adjoints = problem.backward(problem.upstream(upstream))
    return GradResult(problem, adjoints, Evaluation([None] * len(graph.nodes), []))

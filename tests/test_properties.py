"""Random expressions: analytic gradients agree with centred finite differences."""

from __future__ import annotations

import math
import sys

from hypothesis import assume, example, given

import bpcli
from bpcli.engine.evaluate import evaluate
from expressions import coordinates, expressions, far_from_kinks, moderate

@given(expressions, coordinates, coordinates, coordinates)
@example("((z)*(z))*((z)*(3))", 0.0, 0.0, 0.0)  # a zero gradient, the quotient 3h**2 beside it
def test_gradients_match_centred_differences(expression, x, y, z):
    graph = bpcli.build(expression)
    point = {name: {"x": x, "y": y, "z": z}[name] for name in _variables(expression)}
    result = bpcli.grad(expression, point)
    assume(moderate(result) and far_from_kinks(result))
    for name, analytic in result.gradients.items():
        h = 1e-5 * max(1.0, abs(point[name]))

        def f(v):
            return evaluate(graph, {**point, name: v}).values[graph.output]

        def quotient(step):
            return (f(point[name] + step) - f(point[name] - step)) / (2 * step)

        numeric = quotient(h)
        # Below the rounding error of the difference quotient, nothing can be told apart; nor below
        # its truncation error (h**2 times f's third derivative over 6: 3h**2 for 3*z**3 at z = 0,
        # where the gradient is 0), estimated as Richardson does from the quotient at h/2.
        rounding = 10 * sys.float_info.epsilon * max(1.0, abs(result.value)) / h
        truncation = 2 * abs(numeric - quotient(h / 2))
        assert abs(analytic - numeric) <= 1e-6 * (abs(analytic) + abs(numeric)) + rounding + truncation, (
            expression, point, name, analytic, numeric,
        )


def _variables(expression: str) -> list[str]:
    graph = bpcli.build(expression)
    return [graph.nodes[v].name for v in graph.variables]


@given(expressions, coordinates, coordinates)
def test_expanding_sigmoid_into_primitive_gates_changes_no_gradient(expression, x, y):
    grouped = f"sigmoid({expression})"
    decomposed = f"1 / (1 + exp(-({expression})))"
    point = {name: {"x": x, "y": y, "z": 0.25}[name] for name in _variables(expression)}
    a, b = bpcli.grad(grouped, point), bpcli.grad(decomposed, point)
    assume(moderate(a) and moderate(b))
    assert math.isclose(a.value, b.value, rel_tol=1e-12, abs_tol=1e-300)
    for name, gradient in a.gradients.items():
        assert math.isclose(gradient, b.gradients[name], rel_tol=1e-9, abs_tol=1e-12)

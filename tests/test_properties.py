"""Random expressions: analytic gradients agree with centred finite differences."""

from __future__ import annotations

import math
import sys

from hypothesis import assume, given, strategies as st

import bpcli
from bpcli.evaluate import evaluate

VARIABLES = ("x", "y", "z")
UNARY = ("-({})", "exp({})", "log({})", "sqrt({})", "tanh({})", "sigmoid({})", "relu({})", "abs({})")
BINARY = ("({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / ({})", "max({}, {})", "min({}, {})", "({})**({})")
POWERS = ("({})**2", "({})**3", "({})**-1", "({})**0.5", "({})**-2")

KINKED = {"relu", "abs", "step", "sign"}  # derivative jumps where the input is 0
TIES = {"max", "min", "greater"}  # derivative jumps where the inputs are equal
SINGULAR = {"log", "sqrt", "recip"}  # derivative blows up where the input is 0
KINK_DISTANCE = 1e-3
SINGULAR_DISTANCE = 0.1

leaves = st.sampled_from(VARIABLES) | st.sampled_from(["0.5", "2", "1.5", "3"])


def _extend(children):
    return (
        st.tuples(st.sampled_from(UNARY + POWERS), children).map(lambda t: t[0].format(t[1]))
        | st.tuples(st.sampled_from(BINARY), children, children).map(lambda t: t[0].format(t[1], t[2]))
    )


expressions = st.recursive(leaves, _extend, max_leaves=10)
coordinates = st.floats(min_value=-2.5, max_value=2.5, allow_nan=False).map(lambda v: round(v, 3))


def far_from_kinks(result) -> bool:
    graph, values = result.graph, result.evaluation.values
    for node in graph.stages:
        op = graph.nodes[node].op
        inputs = [values[i] for i in graph.nodes[node].inputs]
        if op in KINKED and abs(inputs[0]) < KINK_DISTANCE:
            return False
        if op in TIES and abs(inputs[0] - inputs[1]) < KINK_DISTANCE:
            return False
        if op in SINGULAR and abs(inputs[0]) < SINGULAR_DISTANCE:
            return False
        if op == "pow" and inputs[0] < SINGULAR_DISTANCE:
            return False
    return True


def moderate(result) -> bool:
    numbers = [v for v in result.evaluation.values if v is not None]
    return all(math.isfinite(v) and abs(v) < 1e4 for v in numbers)


@given(expressions, coordinates, coordinates, coordinates)
def test_gradients_match_centred_differences(expression, x, y, z):
    graph = bpcli.build(expression)
    point = {name: {"x": x, "y": y, "z": z}[name] for name in _variables(expression)}
    result = bpcli.grad(expression, point)
    assume(moderate(result) and far_from_kinks(result))
    for name, analytic in result.gradients.items():
        h = 1e-5 * max(1.0, abs(point[name]))

        def f(v):
            return evaluate(graph, {**point, name: v}).values[graph.output]

        numeric = (f(point[name] + h) - f(point[name] - h)) / (2 * h)
        # Below the rounding error of the difference quotient, nothing can be told apart.
        rounding = 10 * sys.float_info.epsilon * max(1.0, abs(result.value)) / h
        assert abs(analytic - numeric) <= 1e-6 * (abs(analytic) + abs(numeric)) + rounding, (
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

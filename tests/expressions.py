"""Random expressions for property tests, and the points where a finite difference can judge them."""

from __future__ import annotations

import math

from hypothesis import strategies as st

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


def variables_of(expression: str) -> list[str]:
    import bpcli

    graph = bpcli.build(expression)
    return [graph.nodes[v].name for v in graph.variables]


def point_for(expression: str, *coordinates: float) -> dict[str, float]:
    """The expression's variables bound to the coordinates in the order x, y, z."""
    values = dict(zip(VARIABLES, coordinates))
    return {name: values[name] for name in variables_of(expression)}

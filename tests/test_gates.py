"""Every elementwise gate in the registry: local gradients against finite
differences, and the scalar backend against numpy's semantics. Generated from
the registry, so a new gate is tested the moment it is added. (Structural
gates, which work on arrays, are tested in test_tensors.py.)"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import bpcli
from bpcli.engine.backends import array, scalar
from bpcli.engine.gates import REGISTRY, ROLES, VARIADIC
from helpers import close, numeric_gradients

POSITIVE_ONLY = {"log", "sqrt", "pow", "log1p"}  # differentiable on their whole domain only for a > 0
BOTH_SIGNS = [-2.3, -0.7, 0.4, 1.9]
POSITIVE = [0.4, 1.9, 3.1]
EXPONENTS = [-1.3, 0.5, 2.0, 3.0]


def points(gate):
    if gate.arity == 1:
        values = POSITIVE if gate.op in POSITIVE_ONLY else BOTH_SIGNS
        return [{"a": a} for a in values]
    if gate.op == "pow":
        return [{"a": a, "b": b} for a in POSITIVE for b in EXPONENTS]
    return [{"a": a, "b": b} for a, b in itertools.product(BOTH_SIGNS, repeat=2) if a != b]


# The gates of float values with one or two inputs: comparisons give booleans, where picks by a
# condition and clip takes three (test_numpy_subscripts.py and test_numpy_shapes.py test those).
ELEMENTWISE = {op: gate for op, gate in REGISTRY.items()
               if gate.elementwise and not gate.boolean and op not in ("where", "clip")}
CASES = [(op, point) for op, gate in ELEMENTWISE.items() for point in points(gate)]


@pytest.mark.parametrize("op, point", CASES, ids=[f"{op}-{list(p.values())}" for op, p in CASES])
def test_local_gradient_matches_a_centred_difference(op, point):
    expression = REGISTRY[op].syntax
    result = bpcli.grad(expression, point)
    numeric = numeric_gradients(expression, point)
    for name in point:
        assert close(result.gradients[name], numeric[name]), (name, result.gradients[name], numeric[name])


def test_every_gate_declares_a_role_a_formula_and_its_backward_rule():
    for gate in REGISTRY.values():
        assert gate.role in ROLES
        assert gate.arity in (1, 2, 3, VARIADIC)
        assert (gate.partials is None) != (gate.vjp is None), gate.op
        assert gate.local.startswith("∂/∂a" if gate.elementwise else "da")
        assert "a" in gate.syntax


def test_every_callable_gate_is_reachable_from_the_grammar():
    for gate in REGISTRY.values():
        if gate.function:
            # a gate of any number of inputs takes them as one tuple: concatenate((a, b))
            args = "(a, b)" if gate.arity == VARIADIC else ", ".join("abc"[: gate.arity])
            graph = bpcli.build(f"{gate.function}({args})")
            assert graph.nodes[graph.output].op == gate.op


SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.5, -8.0, 1 / 3, 0.5, 709.0, 710.0, -710.0, 1e308, 1e-320, math.inf, -math.inf, math.nan]


def same_number(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b) or a == 0 or b == 0:
        return a == b
    return math.isclose(a, b, rel_tol=4e-16)


@pytest.mark.parametrize("op", sorted(ELEMENTWISE))
def test_scalar_backend_follows_numpy_semantics(op):
    gate = REGISTRY[op]
    for values in itertools.product(SPECIAL, repeat=gate.arity):
        with np.errstate(all="ignore"):
            expected = float(gate.forward(array, *(np.float64(v) for v in values)))
        got = gate.forward(scalar, *values)
        assert isinstance(got, float), (op, values)
        assert same_number(got, expected), (op, values, got, expected)


def test_python_float_exceptions_become_inf_and_nan():
    assert scalar.power(10.0, 400.0) == math.inf
    assert scalar.power(-10.0, 401.0) == -math.inf
    assert scalar.power(0.0, -1.0) == math.inf
    assert scalar.power(-0.0, -1.0) == -math.inf
    assert math.isnan(scalar.power(-8.0, 1 / 3))
    assert scalar.power(0.0, 0.0) == 1.0
    assert scalar.log(0.0) == -math.inf
    assert math.isnan(scalar.log(-1.0))
    assert scalar.exp(1000.0) == math.inf
    assert scalar.recip(0.0) == math.inf
    assert scalar.sigmoid(-1000.0) == 0.0
    assert scalar.sigmoid(1000.0) == 1.0


@pytest.mark.parametrize(
    "value, finite",
    [
        ([1.0, 2.0], True),
        ([1e200, -1e200], True),  # the sum of squares overflows; every element is finite
        ([1.0, float("inf")], False),
        ([float("-inf"), float("inf")], False),
        ([0.0, float("nan")], False),
        ([[1.0, 2.0], [float("nan"), 3.0]], False),
        ([], True),
    ],
)
def test_the_array_backends_finiteness_test(value, finite):
    import warnings

    import numpy as np

    from bpcli.engine.backends import array

    a = np.array(value, dtype=np.float64)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("error")
        assert array.all_finite(a) is finite
        assert array.all_finite(a.T) is finite  # not contiguous when 2-D

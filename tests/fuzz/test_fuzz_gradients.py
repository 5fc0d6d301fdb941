"""Random expressions over every gate: backpropagation agrees with centred differences away from kinks."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

import bpcli
from fuzzing import array_expressions, array_point, budget, coordinates, far_from_kinks, mismatches, moderate
from fuzzing import scalar_expressions


@budget(3.0)
@given(scalar_expressions, coordinates, coordinates, coordinates)
def test_numbers(expression, x, y, z):
    graph = bpcli.build(expression)
    point = {name: {"x": x, "y": y, "z": z}[name] for name in (graph.nodes[v].name for v in graph.variables)}
    result = bpcli.grad(expression, point)
    assume(moderate(result) and far_from_kinks(result))
    assert mismatches(result) == [], expression


@budget(1.5)
@given(st.data())
def test_vectors_and_matrices(data):
    expression = data.draw(array_expressions, label="expression")
    point = data.draw(array_point(expression), label="point")
    result = bpcli.grad(expression, point)
    assume(moderate(result) and far_from_kinks(result))
    assert mismatches(result) == [], expression

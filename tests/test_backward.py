"""Backward is a graph transformation: gradients are nodes made of the same gates."""

from __future__ import annotations

import pytest

import bpcli
from bpcli.engine.backward import backward
from bpcli.engine.evaluate import evaluate
from bpcli.engine.formulas import formula_text
from bpcli.engine.gates import REGISTRY
from bpcli.engine.graph import CONST, INPUT


def test_backward_appends_nodes_and_computes_nothing():
    graph = bpcli.build("(x+y)*z")
    before = len(graph.nodes)
    adjoints = backward(graph)
    assert len(graph.nodes) > before
    # Every appended node is an ordinary gate (or constant) from the registry.
    for node in graph.nodes[before:]:
        assert node.op == CONST or node.op in REGISTRY
        assert node.value is None or node.op == CONST
    x = graph.variables[0]
    assert formula_text(graph, adjoints.gradient(x)) == "z"


def test_backward_of_the_backward_graph_gives_second_derivatives():
    # d/dx x**3 = 3x**2, and backward applied again: d2/dx2 = 6x.
    graph = bpcli.build("x**3")
    (x,) = graph.variables
    first = backward(graph)
    dx = first.gradient(x)
    second = backward(graph, output=dx)
    d2x = second.gradient(x)
    for point in (-2.0, 0.5, 3.0):
        values = evaluate(graph, {"x": point}).values
        assert values[dx] == pytest.approx(3 * point**2, rel=1e-15)
        assert values[d2x] == pytest.approx(6 * point, rel=1e-15)
    # The second-derivative graph, printed, is an expression bpcli reads back.
    assert bpcli.grad(formula_text(graph, d2x), x=2.0).value == 12.0


def test_third_derivative_by_applying_backward_three_times():
    graph = bpcli.build("x**4")
    (x,) = graph.variables
    derivative = graph.output
    for _ in range(3):
        derivative = backward(graph, output=derivative).gradient(x)
    assert evaluate(graph, {"x": 1.5}).values[derivative] == pytest.approx(24 * 1.5)


def test_mixed_second_derivative_through_a_fork():
    # f = x*y + exp(x*y): d2f/dxdy = 1 + exp(xy) + xy*exp(xy)
    graph = bpcli.build("x*y + exp(x*y)")
    x, y = graph.variables
    dfdx = backward(graph).gradient(x)
    d2 = backward(graph, output=dfdx).gradient(y)
    import math

    values = evaluate(graph, {"x": 0.5, "y": 2.0}).values
    assert values[d2] == pytest.approx(1 + math.exp(1) + 1 * math.exp(1), rel=1e-14)


def test_gradient_nodes_fold_constants_and_identities():
    graph = bpcli.build("xpy**2")
    adjoints = backward(graph)
    (xpy,) = graph.variables
    assert formula_text(graph, adjoints.gradient(xpy)) == "2 * xpy"


def test_inputs_not_reaching_the_output_get_zero():
    r = bpcli.grad("a = y * 2; f = x * 3", x=1, y=1)
    assert r.gradients == {"x": 3.0, "y": 0.0}


def test_only_variable_dependent_nodes_get_gradients():
    graph = bpcli.build("x * (2 + 3)")
    adjoints = backward(graph)
    constant_stage = next(i for i in graph.stages if graph.nodes[i].op == "add")
    assert adjoints.gradient(constant_stage) is None
    assert all(graph.nodes[i].op != INPUT or i in adjoints.total for i in graph.variables)


def test_gradients_arriving_at_a_fork_add_up_in_one_gate():
    uses = 50
    graph = bpcli.build(" + ".join(["x * y"] * uses))
    adjoints = backward(graph)
    x = graph.variables[0]
    total = graph.nodes[adjoints.gradient(x)]
    assert total.op == "accumulate" and len(total.inputs) == uses
    assert len(adjoints.contributions[x]) == uses
    assert evaluate(graph, {"x": 2.0, "y": 3.0}).values[adjoints.gradient(x)] == 3.0 * uses


def test_higher_derivatives_pass_through_the_fork_sum():
    # x*x*x uses x three times: d/dx = 3x**2 through a fork, then d2/dx2 = 6x.
    graph = bpcli.build("x * x * x")
    (x,) = graph.variables
    dx = backward(graph).gradient(x)
    d2x = backward(graph, output=dx).gradient(x)
    assert graph.nodes[dx].op == "accumulate"
    assert evaluate(graph, {"x": 1.5}).values[d2x] == pytest.approx(9.0)

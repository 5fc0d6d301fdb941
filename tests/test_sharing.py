"""--order N and the Hessian share gradient nodes (hash-consing): the same numbers from a graph that grows far slower."""

from __future__ import annotations


import pytest

import bpcli
from bpcli.analyses.derivative import repeated
from bpcli.engine import graph as graph_module
from bpcli.engine.problem import Problem

NOTES = "(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)"
CASES = [("sigmoid(x) * x", {"x": 0.7}), (NOTES, {"x": 3.0, "y": -4.0}), ("exp(x) * tanh(x)", {"x": -0.4}),
         ("log(1 + x*x) / x", {"x": 0.7}), ("x**3 * y + x*x", {"x": 1.5, "y": 2.0})]


def nodes_after(expression: str, values: dict, order: int) -> int:
    problem = Problem.of(expression, values)
    repeated(problem.graph, "x", order)
    return len(problem.graph.nodes)


@pytest.mark.parametrize("expression, values", CASES)
def test_sharing_changes_no_derivative_beyond_rounding(expression, values, monkeypatch):
    shared = [d.value for d in bpcli.derivative(expression, values, wrt="x", order=6).derivatives]
    monkeypatch.setattr(graph_module.Graph, "share_gradients", lambda self: None)
    alone = [d.value for d in bpcli.derivative(expression, values, wrt="x", order=6).derivatives]
    # Merged nodes are forks: a sum is multiplied once instead of each term, which may move the last bits.
    assert len(shared) == 7 and shared == pytest.approx(alone, rel=1e-12, abs=1e-12)


def test_the_graph_grows_far_slower(monkeypatch):
    point = {"x": 3.0, "y": -4.0}
    shared = [nodes_after(NOTES, point, order) for order in (6, 8)]
    monkeypatch.setattr(graph_module.Graph, "share_gradients", lambda self: None)  # every node made anew
    alone = [nodes_after(NOTES, point, order) for order in (6, 8)]
    assert shared[1] * 4 < alone[1]  # 12,712 nodes at order 8 without sharing; 2,360 with
    assert shared[1] / shared[0] < alone[1] / alone[0]


def test_the_second_derivative_is_still_the_hessians_diagonal_to_the_bit():
    point = {"x": 0.3, "y": 2.25}
    hessian = bpcli.hessian("sigmoid(x*y) * log(y)**log(y)", point)
    for index, name in enumerate(("x", "y")):
        second = bpcli.derivative("sigmoid(x*y) * log(y)**log(y)", point, wrt=name, order=2).value
        assert second == hessian.matrix[index, index]


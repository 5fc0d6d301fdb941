"""Texts (the stages' gate and formula texts printed from templates) writes what the AST printer writes."""

from __future__ import annotations

import numpy as np
import pytest
from expressions import expressions
from hypothesis import given, settings

import bpcli
from bpcli.engine.formulas import Texts, formula_text, gate_text

TENSOR_EXPRESSIONS = [
    ("sum(relu(W @ x + b))", {"W": np.ones((2, 3)), "x": np.arange(3.0), "b": np.array([1.0, -9.0])}),
    ("mean(x * x, axis=0) @ w", {"x": np.arange(6.0).reshape(2, 3), "w": np.array([1.0, 2.0, 3.0])}),
    ("sum(x[1:] - x[:-1]) + max(x)", {"x": np.array([3.0, -1.0, 4.0, 1.5])}),
]


def assert_same_texts(result) -> None:
    """Every stage's gate, and every node's formula (with and without a stage's upstream named), alike."""
    graph, adjoints = result.graph, result.adjoints
    texts = Texts(graph)
    for node in graph.stages:
        assert texts.gate(node) == gate_text(graph, node)
    for node in range(len(graph.nodes)):
        assert texts.formula(node) == formula_text(graph, node)
    for stage, total in adjoints.total.items():
        names = {total: "d" + graph.nodes[stage].name}
        for node in range(len(graph.nodes)):
            assert texts.formula(node, names) == formula_text(graph, node, names)


@settings(max_examples=150, deadline=None)
@given(expressions)
def test_templates_print_what_the_printer_prints(expression):
    """Random scalar expressions: every gate, local gradient and total gradient (the long ones are printed
    through the AST, the short ones from templates that shapes alike but for names share)."""
    with np.errstate(all="ignore"):
        assert_same_texts(bpcli.grad(expression, x=0.5, y=-1.5, z=2.0))


@pytest.mark.parametrize(("expression", "values"), TENSOR_EXPRESSIONS)
def test_templates_print_what_the_printer_prints_for_tensors(expression, values):
    """Gates with parameters (axis, subscripts) and vector-Jacobian products written with dD."""
    assert_same_texts(bpcli.grad(expression, **values))


def test_a_long_formula_is_printed_through_the_ast_alike():
    """A total gradient through 30 sigmoids is more than Texts.SMALL nodes written out."""
    assert_same_texts(bpcli.grad("sigmoid(" * 30 + "x * y" + ")" * 30, x=0.5, y=2))


def test_one_template_serves_every_gate_of_a_shape():
    result = bpcli.grad("a * b + c * d + (a * a) + (b + 2) * (c + 2) + (d + -3)", a=1, b=2, c=3, d=4)
    texts = Texts(result.graph)
    gates = [texts.gate(node) for node in result.graph.stages]
    assert gates[:2] == ["a * b", "c * d"] and "a * a" in gates and "b + 2" in gates and "d + -3" in gates
    assert texts.gate(result.graph.stages[0]) == "a * b"  # a template filled again, not changed by the others

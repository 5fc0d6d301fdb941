"""From AST to gate graph: names, forks, and the errors a program can make."""

from __future__ import annotations

import pytest

import bpcli
from bpcli.engine.errors import BpcliError
from bpcli.engine.graph import INPUT


def stage_names(expression: str) -> list[str]:
    graph = bpcli.build(expression)
    return [graph.nodes[i].name for i in graph.stages]


def test_one_node_per_gate_in_evaluation_order():
    graph = bpcli.build("(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)")
    assert [graph.nodes[i].op for i in graph.stages] == [
        "sigmoid", "add", "sigmoid", "add", "pow", "add", "recip", "mul"
    ]


def test_generated_names_never_collide_with_user_names():
    assert stage_names("t1 = x * t2; f = t1 + t3") == ["t1", "f"]
    names = stage_names("(t1 + t2) * (t3 + f)")
    assert names[-1] not in {"t1", "t2", "t3", "f"}
    assert len(set(names)) == len(names)
    assert not set(names) & {"t1", "t2", "t3", "f"}


def test_bare_expression_output_is_named_f():
    assert stage_names("(x+y)*z")[-1] == "f"


def test_variables_in_order_of_first_use():
    graph = bpcli.build("z * (y + x) + y")
    assert [graph.nodes[v].name for v in graph.variables] == ["z", "y", "x"]


def test_a_variable_used_twice_is_one_node_a_fork():
    graph = bpcli.build("x * x + x")
    inputs = [i for i, n in enumerate(graph.nodes) if n.op == INPUT]
    assert len(inputs) == 1
    uses = graph.consumers()[inputs[0]]
    assert len(uses) == 3


def test_negative_literals_are_constants_not_gates():
    graph = bpcli.build("x * -2.5")
    assert [graph.nodes[i].op for i in graph.stages] == ["mul"]
    assert bpcli.grad("x * -2.5", x=2).gradients == {"x": -2.5}


def test_division_is_a_reciprocal_and_a_multiply():
    assert [bpcli.build("x / y").nodes[i].op for i in bpcli.build("x / y").stages] == ["recip", "mul"]
    graph = bpcli.build("1 / y")
    assert [graph.nodes[i].op for i in graph.stages] == ["recip"]


def test_aliases_name_the_same_node():
    r = bpcli.grad("a = x; f = a * a", x=3)
    assert r.gradients == {"x": 6.0}


def test_output_may_be_an_input_itself():
    r = bpcli.grad("x", x=3)
    assert (r.value, r.gradients, r.stages) == (3.0, {"x": 1.0}, [])


def test_constant_expression_has_no_gradients():
    r = bpcli.grad("2 * 3")
    assert (r.value, r.gradients) == (6.0, {})


@pytest.mark.parametrize(
    "expression, fragment",
    [
        ("q = x * 2; x = q + y", "x is used before it is assigned (on line 1)"),
        ("f = q * 2; q = x", "q is used before it is assigned"),
        ("x + 1; f = x", "only the last statement may be a bare expression"),
        ("foo(x)", "unknown function 'foo'"),
        ("exq(x)", "did you mean 'exp'?"),
        ("max(x, y, z)", "max takes 1 or 2 arguments, got 3"),
        ("exp(x, y)", "exp takes 1 argument, got 2"),
        ("", "nothing to differentiate"),
        ("# only a comment", "nothing to differentiate"),
    ],
)
def test_program_errors(expression, fragment):
    with pytest.raises(BpcliError) as caught:
        bpcli.build(expression)
    assert fragment in caught.value.render()


def test_unknown_function_lists_the_known_ones():
    with pytest.raises(BpcliError) as caught:
        bpcli.build("foo(x)")
    message = caught.value.render()
    for name in ["exp", "log", "sigmoid", "tanh", "relu", "abs", "sqrt", "max", "min"]:
        assert name in message
    assert "  foo(x)\n  ^^^" in message


def test_unbound_variables_are_all_named():
    with pytest.raises(BpcliError) as caught:
        bpcli.grad("x * y + z", x=1)
    assert "unbound variables: y, z" in caught.value.render()


def test_unused_binding_is_a_warning():
    r = bpcli.grad("x * 2", x=1, w=5)
    assert [(w.kind, w.stage) for w in r.warnings] == [("unused-binding", None)]
    assert "w is bound but the expression does not use it" in r.warnings[0].message


def test_a_stage_that_does_not_reach_the_output_is_flagged():
    r = bpcli.grad("a = x * 2; f = x + 1", x=1)
    assert r.gradients == {"x": 1.0}
    (warning,) = r.warnings
    assert warning.kind == "unused-stage" and warning.stage == "a"
    assert r.stages[0].upstream is None

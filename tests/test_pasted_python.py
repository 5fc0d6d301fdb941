"""Code pasted from a notebook: `+=`, math./np. prefixes and a.dot(b), read by bpcli's own grammar."""

from __future__ import annotations

import math

import pytest

import bpcli
from bpcli.engine.errors import BpcliError
from bpcli.engine.syntax.ast import Assign, Call, Name, Transpose
from bpcli.engine.syntax.parser import parse


def expr(text: str):
    (statement,) = parse(text).statements
    return statement


def test_the_notes_forward_line_parses_and_gives_the_notes_numbers():
    program = "sigy = 1.0 / (1 + math.exp(-y)); num = x + sigy; f = num * sigy"
    r = bpcli.grad(program, x=3, y=-4)
    sigy = 1.0 / (1 + math.exp(4))
    assert r.value == pytest.approx((3 + sigy) * sigy, rel=1e-15)
    assert r.gradients["x"] == pytest.approx(sigy, rel=1e-15)
    assert [s.name for s in r.stages if not s.name.startswith("t")] == ["sigy", "num", "f"]


@pytest.mark.parametrize(
    "pasted, plain",
    [
        ("math.exp(x)", "exp(x)"),
        ("np.exp(x)", "exp(x)"),
        ("numpy.log(x)", "log(x)"),
        ("math.fabs(x)", "abs(x)"),
        ("np.maximum(x, y)", "max(x, y)"),
        ("np.minimum(x, y)", "min(x, y)"),
        ("np.sqrt(x) + math.tanh(y)", "sqrt(x) + tanh(y)"),
    ],
)
def test_python_spellings_mean_bpclis_functions(pasted, plain):
    assert parse(pasted) == parse(plain)
    pasted_result = bpcli.grad(pasted, x=2.5, y=0.5)
    plain_result = bpcli.grad(plain, x=2.5, y=0.5)
    assert pasted_result.value == plain_result.value
    assert pasted_result.gradients == plain_result.gradients


def test_numpy_reductions_and_dot():
    assert parse("np.sum(W, axis=0)") == parse("sum(W, axis=0)")
    assert parse("np.max(W)") == parse("max(W)")
    assert expr("dD.dot(X.T)") == Call("dot", (Name("dD"), Transpose(Name("X"))))
    assert expr("W.T.dot(dD)") == Call("dot", (Transpose(Name("W")), Name("dD")))
    r = bpcli.grad("sum(W.dot(X))", W=[[1.0, 2.0], [3.0, 4.0]], X=[[1.0, 0.0], [0.0, 1.0]])
    assert r.value == 10.0


def test_accumulation_is_an_assignment_marked_accumulate():
    statement = expr("dx += (1) * dnum")
    assert isinstance(statement, Assign) and statement.accumulate
    assert not expr("dx = dnum").accumulate


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("np.foo(x)", "np.foo is not a function bpcli knows"),
        ("np.max(a, b)", "numpy reads a second argument as an axis"),
        ("x.foo()", ".foo(...) is not a method bpcli knows"),
        ("math.pi * x", "constants such as math.pi are not supported"),
        ("np.exp + x", "np.exp is a function: call it, as np.exp(x)"),
    ],
)
def test_unknown_spellings_are_refused_with_a_caret(text, fragment):
    with pytest.raises(BpcliError) as error:
        bpcli.parse(text)
    assert fragment in error.value.render()
    assert "^" in error.value.render()


def test_a_forward_program_accumulates_into_a_new_version():
    result = bpcli.grad("q = x * 2; q += x", x=1)
    assert (result.value, result.gradients["x"]) == (3.0, 3.0)
    assert [stage.name for stage in result.stages] == ["q#1", "q"]

"""--expand: grouped gates decomposed into primitive gates, with the same gradients."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, strategies as st

import bpcli
from bpcli.engine.gates import REGISTRY
from helpers import run_cli, run_json
from test_properties import _variables, coordinates, expressions, moderate

NEURON = "sigmoid(w0*x0 + w1*x1 + w2)"
NEURON_VALUES = {"w0": 2, "w1": -3, "w2": -3, "x0": -1, "x1": -2}
GROUPED = [op for op, gate in REGISTRY.items() if gate.decompose is not None]

grouped_expressions = st.tuples(st.sampled_from(["sigmoid", "tanh"]), expressions).map(lambda t: f"{t[0]}({t[1]})")
with_grouped_gates = st.tuples(grouped_expressions, expressions, st.sampled_from(["+", "*", "-"])).map(
    lambda t: f"({t[0]}) {t[2]} ({t[1]})"
)


def test_the_neuron_expands_into_the_notes_long_chain():
    """The notes' circuit: -1 * (negate), exp, +1, 1/x after the weighted sum, with their numbers."""
    r = bpcli.grad(NEURON, NEURON_VALUES, expand=True)
    assert [s.op for s in r.stages] == ["mul", "mul", "add", "add", "neg", "exp", "add", "recip"]
    values = [round(s.value, 2) for s in r.stages]
    upstreams = [round(s.upstream, 2) for s in r.stages]
    assert values[3:] == [1.0, -1.0, 0.37, 1.37, 0.73]
    assert upstreams[3:] == [0.2, -0.2, -0.53, -0.53, 1.0]
    assert r.stages[-1].name == "f"
    grouped = bpcli.grad(NEURON, NEURON_VALUES)
    assert r.gradients == pytest.approx(grouped.gradients, rel=1e-12)


def test_a_named_grouped_stage_keeps_its_name():
    r = bpcli.grad("dot = w0*x0 + w1*x1 + w2; f = sigmoid(dot)", NEURON_VALUES, expand=True)
    names = [s.name for s in r.stages]
    assert names[0] == "t1" and names[-2:] == ["t7", "f"] and "dot" in names
    assert [s.expr for s in r.stages[-4:]] == ["-dot", "exp(t5)", "t6 + 1", "1 / t7"]


@pytest.mark.parametrize("op", GROUPED)
def test_decompositions_use_primitive_gates_only(op):
    r = bpcli.analyses.grad.circuit(f"{op}(x)", expand=True)
    assert len(r.stages) > 1
    assert all(REGISTRY[s.op].decompose is None for s in r.stages)


def test_tanh_decomposition_stays_finite_far_out():
    for x in (-400.0, 400.0):
        r = bpcli.grad("tanh(x)", x=x, expand=True)
        assert r.value == math.tanh(x)


@pytest.mark.slow
@given(with_grouped_gates, coordinates, coordinates, coordinates)
def test_expanding_changes_no_gradient(expression, x, y, z):
    point = {name: {"x": x, "y": y, "z": z}[name] for name in _variables(expression)}
    grouped = bpcli.grad(expression, point)
    expanded = bpcli.grad(expression, point, expand=True)
    assume(moderate(grouped) and moderate(expanded))
    assert len(expanded.stages) > len(grouped.stages)
    assert math.isclose(expanded.value, grouped.value, rel_tol=1e-12, abs_tol=1e-12)
    for name, gradient in grouped.gradients.items():
        assert math.isclose(expanded.gradients[name], gradient, rel_tol=1e-9, abs_tol=1e-12), name


class TestCommandLine:
    def test_grad_expand(self):
        doc = run_json("grad", NEURON, "--w0", "2", "--x0", "-1", "--w1", "-3", "--x1", "-2", "--w2", "-3", "--expand")
        assert [s["op"] for s in doc["stages"]][-4:] == ["neg", "exp", "add", "recip"]
        grouped = run_json("grad", NEURON, "--w0", "2", "--x0", "-1", "--w1", "-3", "--x1", "-2", "--w2", "-3")
        assert doc["gradients"] == pytest.approx(grouped["gradients"], rel=1e-12)

    def test_graph_expand(self):
        result = run_cli("graph", "sigmoid(x)", "-x", "1", "--expand", "--format", "mermaid")
        assert result.exit_code == 0, result.stderr
        for symbol in ("*-1", "exp", "+", "1/x"):
            assert f'["{symbol}<br/>' in result.stdout
        assert '["sigmoid<br/>' not in result.stdout

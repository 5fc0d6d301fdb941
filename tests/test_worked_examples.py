"""The worked examples of DESIGN.md and the lecture notes, exact to 1e-12."""

from __future__ import annotations

import math

import pytest

import bpcli
from helpers import run_json

EXACT = 1e-12


def approx(value):
    return pytest.approx(value, rel=EXACT, abs=EXACT)


def stages_by_name(document: dict) -> dict[str, dict]:
    return {stage["name"]: stage for stage in document["stages"]}


class TestAddThenMultiply:
    """(x+y)*z at x=-2, y=5, z=-4: q=3, f=-12; dz=3, dq=-4, dx=-4, dy=-4."""

    def test_bare_expression(self):
        doc = run_json("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4")
        assert doc["schema"] == "bpcli.grad/1"
        assert doc["value"] == approx(-12)
        assert doc["gradients"] == {"x": approx(-4), "y": approx(-4), "z": approx(3)}
        assert doc["inputs"] == {"x": -2.0, "y": 5.0, "z": -4.0}
        q, f = doc["stages"]
        assert (q["op"], q["expr"], q["inputs"], q["value"]) == ("add", "x + y", ["x", "y"], 3.0)
        assert (q["local"], q["upstream"], q["downstream"]) == ([1.0, 1.0], -4.0, [-4.0, -4.0])
        assert (f["op"], f["inputs"], f["value"]) == ("mul", [q["name"], "z"], -12.0)
        assert (f["local"], f["upstream"], f["downstream"]) == ([-4.0, 3.0], 1.0, [-4.0, 3.0])
        assert doc["output"] == f["name"] == "f"
        assert doc["warnings"] == []

    def test_staged_form_keeps_the_users_names(self):
        doc = run_json("grad", "q = x + y; f = q * z", "-x", "-2", "-y", "5", "-z", "-4")
        expected = {
            "schema": "bpcli.grad/1",
            "expression": "q = x + y; f = q * z",
            "output": "f",
            "value": -12.0,
            "inputs": {"x": -2.0, "y": 5.0, "z": -4.0},
            "shapes": {"x": [], "y": [], "z": [], "f": []},
            "gradients": {"x": -4.0, "y": -4.0, "z": 3.0},
            "warnings": [],
        }
        assert {key: doc[key] for key in expected} == expected
        q, f = doc["stages"]
        assert q == {
            "index": 1, "name": "q", "op": "add", "role": "distributes", "expr": "x + y",
            "inputs": ["x", "y"], "shape": [], "value": 3.0, "local": [1.0, 1.0], "local_formula": ["1", "1"],
            "upstream": -4.0, "downstream": [-4.0, -4.0],
        }
        assert f == {
            "index": 2, "name": "f", "op": "mul", "role": "swaps", "expr": "q * z",
            "inputs": ["q", "z"], "shape": [], "value": -12.0, "local": [-4.0, 3.0], "local_formula": ["z", "q"],
            "upstream": 1.0, "downstream": [-4.0, 3.0],
        }

    def test_staged_form_over_lines(self):
        doc = run_json("grad", "q = x + y\nf = q * z\n", "x=-2", "y=5", "z=-4")
        assert [s["name"] for s in doc["stages"]] == ["q", "f"]
        assert doc["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}


class TestSigmoidNeuron:
    """sigmoid(w0*x0 + w1*x1 + w2) at w=[2,-3,-3], x=[-1,-2]."""

    W = (2.0, -3.0, -3.0)
    X = (-1.0, -2.0)

    def reference(self):
        # The lecture notes' own code.
        w, x = self.W, self.X
        dot = w[0] * x[0] + w[1] * x[1] + w[2]
        f = 1.0 / (1 + math.exp(-dot))
        ddot = (1 - f) * f
        return dot, f, ddot, [w[0] * ddot, w[1] * ddot], [x[0] * ddot, x[1] * ddot, 1.0 * ddot]

    def test_values_and_gradients(self):
        dot, f, ddot, dx, dw = self.reference()
        r = bpcli.grad("sigmoid(w0*x0 + w1*x1 + w2)", w0=2, w1=-3, w2=-3, x0=-1, x1=-2)
        assert dot == 1.0
        assert r.value == approx(f)
        assert round(r.value, 4) == 0.7311
        sigmoid_stage = r.stages[-1]
        assert sigmoid_stage.op == "sigmoid"
        assert sigmoid_stage.local[0] == approx(ddot)
        assert round(ddot, 4) == 0.1966
        assert [r.gradients["x0"], r.gradients["x1"]] == [approx(dx[0]), approx(dx[1])]
        assert [round(g, 4) for g in dx] == [0.3932, -0.5898]
        assert [r.gradients[f"w{i}"] for i in range(3)] == [approx(g) for g in dw]
        assert [round(g, 4) for g in dw] == [-0.1966, -0.3932, 0.1966]

    def test_staged_with_dot(self):
        _, f, ddot, _, _ = self.reference()
        r = bpcli.grad("dot = w0*x0 + w1*x1 + w2; f = sigmoid(dot)", w0=2, w1=-3, w2=-3, x0=-1, x1=-2)
        stages = {s.name: s for s in r.stages}
        assert stages["dot"].value == 1.0
        assert stages["dot"].upstream == approx(ddot)
        assert stages["f"].formulas == ("f * (1 - f)",)

    def test_sigmoid_as_one_gate_equals_the_decomposed_circuit(self):
        grouped = bpcli.grad("sigmoid(w0*x0 + w1*x1 + w2)", w0=2, w1=-3, w2=-3, x0=-1, x1=-2)
        decomposed = bpcli.grad("1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))", w0=2, w1=-3, w2=-3, x0=-1, x1=-2)
        assert decomposed.value == approx(grouped.value)
        for name, gradient in grouped.gradients.items():
            assert decomposed.gradients[name] == approx(gradient)
        assert [s.op for s in decomposed.stages] == ["mul", "mul", "add", "add", "neg", "exp", "add", "recip"]


NOTES_PROGRAM = """
sigy = sigmoid(y)        #(1)
num = x + sigy           #(2)
sigx = sigmoid(x)        #(3)
xpy = x + y              #(4)
xpysqr = xpy**2          #(5)
den = sigx + xpysqr      #(6)
invden = 1.0 / den       #(7)
f = num * invden         #(8)
"""


def notes_reference(x: float = 3.0, y: float = -4.0) -> dict[str, float]:
    """The lecture notes' staged forward and backward code, verbatim."""
    sigy = 1.0 / (1 + math.exp(-y))
    num = x + sigy
    sigx = 1.0 / (1 + math.exp(-x))
    xpy = x + y
    xpysqr = xpy**2
    den = sigx + xpysqr
    invden = 1.0 / den
    f = num * invden
    dnum = invden
    dinvden = num
    dden = (-1.0 / (den**2)) * dinvden
    dsigx = (1) * dden
    dxpysqr = (1) * dden
    dxpy = (2 * xpy) * dxpysqr
    dx = (1) * dxpy
    dy = (1) * dxpy
    dx += ((1 - sigx) * sigx) * dsigx
    dx += (1) * dnum
    dsigy = (1) * dnum
    dy += ((1 - sigy) * sigy) * dsigy
    return dict(locals())


class TestNotesStagedExample:
    """(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2) at x=3, y=-4."""

    def test_staged_program_matches_the_notes_stage_by_stage(self):
        ref = notes_reference()
        doc = run_json("grad", NOTES_PROGRAM, "-x", "3", "-y", "-4")
        stages = stages_by_name(doc)
        assert list(stages) == ["sigy", "num", "sigx", "xpy", "xpysqr", "den", "invden", "f"]
        for name, stage in stages.items():
            assert stage["value"] == approx(ref[name]), name
            upstream = 1.0 if name == "f" else ref["d" + name]
            assert stage["upstream"] == approx(upstream), name
        assert doc["gradients"] == {"y": approx(ref["dy"]), "x": approx(ref["dx"])}
        assert stages["invden"]["op"] == "recip"
        assert stages["invden"]["local_formula"] == ["-1 / den**2"]
        assert stages["xpysqr"]["local_formula"] == ["2 * xpy", None]  # no gradient for a constant

    def test_bare_expression_has_the_same_eight_stages(self):
        ref = notes_reference()
        staged = bpcli.grad(NOTES_PROGRAM, x=3, y=-4)
        bare = bpcli.grad("(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)", x=3, y=-4)
        assert [s.op for s in bare.stages] == [s.op for s in staged.stages]
        assert [s.value for s in bare.stages] == [approx(s.value) for s in staged.stages]
        assert bare.value == approx(ref["f"])
        assert bare.gradients == {"x": approx(ref["dx"]), "y": approx(ref["dy"])}

    def test_forks_add_up_in_the_notes_order(self):
        ref = notes_reference()
        r = bpcli.grad(NOTES_PROGRAM, x=3, y=-4)
        forks = {fork.name: fork for fork in r.forks}
        assert set(forks) == {"x", "y"}
        # dx = (1)*dxpy; dx += ((1-sigx)*sigx)*dsigx; dx += (1)*dnum
        x_terms = [(c.stage, c.value) for c in forks["x"].contributions]
        assert [stage for stage, _ in x_terms] == ["xpy", "sigx", "num"]
        assert x_terms[0][1] == approx(ref["dxpy"])
        assert x_terms[1][1] == approx(((1 - ref["sigx"]) * ref["sigx"]) * ref["dsigx"])
        assert x_terms[2][1] == approx(ref["dnum"])
        assert forks["x"].total == approx(ref["dx"])
        assert [c.stage for c in forks["y"].contributions] == ["xpy", "sigy"]


class TestMaxGate:
    def test_routes_to_the_larger_input(self):
        doc = run_json("grad", "max(x, y)", "-x", "4", "-y", "2")
        assert doc["value"] == 4.0
        assert doc["gradients"] == {"x": 1.0, "y": 0.0}
        assert doc["stages"][0]["role"] == "routes"
        assert doc["warnings"] == []

    def test_routes_upstream_unchanged(self):
        r = bpcli.grad("3 * max(x, y)", x=4, y=2)
        assert r.gradients == {"x": 3.0, "y": 0.0}


class TestGatePatterns:
    """The notes' patterns in backward flow: add distributes, multiply swaps."""

    def test_multiply_swaps_and_scales(self):
        # dx = y * 2 = -8, dy = x * 2 = 6 with an upstream gradient of 2
        r = bpcli.grad("2 * (x * y)", x=3, y=-4)
        assert r.gradients == {"x": -8.0, "y": 6.0}
        product = r.stages[0]
        assert product.upstream == 2.0
        assert product.local == (-4.0, 3.0)
        assert product.downstream == (-8.0, 6.0)

    def test_add_distributes_unchanged(self):
        r = bpcli.grad("2 * (x + y)", x=3, y=-4)
        assert r.stages[0].downstream == (2.0, 2.0)

"""Non-differentiable points and non-finite numbers: one documented convention, always a warning."""

from __future__ import annotations

import json
import math

import pytest

import bpcli
from helpers import run_cli


def kinds(result) -> list[tuple[str | None, str]]:
    return [(w.stage, w.kind) for w in result.warnings]


class TestKinks:
    def test_relu_at_zero_has_gradient_zero(self):
        r = bpcli.grad("relu(x)", x=0)
        assert r.gradients == {"x": 0.0}
        assert kinds(r) == [("f", "kink")]
        assert "PyTorch" in r.warnings[0].message

    def test_abs_at_zero_has_gradient_zero_and_names_jax(self):
        r = bpcli.grad("abs(x)", x=0)
        assert r.gradients == {"x": 0.0}
        assert "JAX takes 1" in r.warnings[0].message

    @pytest.mark.parametrize("gate", ["max", "min"])
    def test_ties_split_evenly(self, gate):
        r = bpcli.grad(f"{gate}(x, y) * 4", x=2, y=2)
        assert r.gradients == {"x": 2.0, "y": 2.0}
        assert kinds(r) == [("t1", "kink")]
        assert "split evenly" in r.warnings[0].message

    def test_a_tie_between_the_same_value_sums_back(self):
        assert bpcli.grad("max(x, x)", x=3).gradients == {"x": 1.0}

    def test_away_from_kinks_no_warning(self):
        r = bpcli.grad("relu(x) + abs(y) + max(x, y)", x=1, y=-2)
        assert r.warnings == []
        assert r.gradients == {"x": 2.0, "y": -1.0}

    def test_sqrt_at_zero_gradient_is_inf_with_a_warning(self):
        r = bpcli.grad("sqrt(x)", x=0)
        assert r.value == 0.0
        assert r.gradients["x"] == math.inf
        assert ("f", "kink") in kinds(r)


class TestNonFinite:
    @pytest.mark.parametrize(
        "expression, point, value, reason",
        [
            ("log(x)", {"x": 0}, -math.inf, "log(0) is -inf"),
            ("log(x)", {"x": -1}, math.nan, "log of a negative number is nan"),
            ("1 / x", {"x": 0}, math.inf, "division by zero"),
            ("x**y", {"x": 10, "y": 400}, math.inf, "overflows"),
            ("x**y", {"x": 0, "y": -1}, math.inf, "zero to a negative power"),
            ("x**y", {"x": -8, "y": 1 / 3}, math.nan, "negative number to a non-integer power"),
            ("exp(x)", {"x": 1000}, math.inf, "exp overflows"),
            ("sqrt(x)", {"x": -1}, math.nan, "square root of a negative number"),
            ("x * y", {"x": 1e200, "y": 1e200}, math.inf, "overflows float64"),
        ],
    )
    def test_become_inf_or_nan_with_a_warning_naming_the_stage(self, expression, point, value, reason):
        r = bpcli.grad(expression, point)
        if math.isnan(value):
            assert math.isnan(r.value)
        else:
            assert r.value == value
        messages = [w.message for w in r.warnings if w.kind == "nonfinite"]
        assert len(messages) == 1
        assert reason in messages[0]
        assert messages[0].startswith("stage 1, f = ")

    def test_zero_to_the_zero_is_one(self):
        r = bpcli.grad("x**0", x=0)
        assert r.value == 1.0
        assert r.gradients == {"x": 0.0}
        assert r.warnings == []

    def test_nan_input_is_accepted_and_flagged(self):
        r = bpcli.grad("x + 1", x=math.nan)
        assert math.isnan(r.value)
        assert kinds(r) == [(None, "nonfinite-input")]

    def test_stable_sigmoid_far_out(self):
        r = bpcli.grad("sigmoid(x)", x=-1000)
        assert r.value == 0.0 and r.gradients == {"x": 0.0}
        assert r.warnings == []

    def test_json_writes_nonfinite_numbers_as_strings(self):
        result = run_cli("grad", "log(x) + 1/y", "-x", "0", "-y", "0", "--json")
        assert result.exit_code == 0
        assert "NaN" not in result.stdout and "Infinity" not in result.stdout
        doc = json.loads(result.stdout)
        assert doc["value"] == "nan"  # -inf + inf
        assert doc["gradients"] == {"x": "inf", "y": "-inf"}
        assert {w["stage"] for w in doc["warnings"]} >= {"t1", "t2"}
        assert all(w["message"] for w in doc["warnings"])


class TestDeepInput:
    def test_ten_thousand_nested_parentheses(self):
        depth = 10_000
        result = run_cli("grad", "(" * depth + "x*y" + ")" * depth, "-x", "2", "-y", "3", "--json")
        assert result.exit_code == 0, result.stderr[-500:]
        assert json.loads(result.stdout)["gradients"] == {"x": 3.0, "y": 2.0}

    def test_ten_thousand_nested_gates(self):
        depth = 10_000
        expression = "(1 + " * depth + "x" + ")" * depth
        result = run_cli("grad", expression, "-x", "1")
        assert result.exit_code == 0, result.stderr[-500:]
        assert "Gradients of f = 1e+04" in result.stdout

    def test_a_hundred_thousand_gates(self):
        expression = " + ".join(["x*y"] * 50_000)  # 50,000 multiplies and 49,999 adds
        result = run_cli("grad", expression, "-x", "1", "-y", "2", "--json")
        assert result.exit_code == 0, result.stderr[-500:]
        doc = json.loads(result.stdout)
        assert len(doc["stages"]) == 99_999
        assert doc["gradients"] == {"x": 100_000.0, "y": 50_000.0}

"""Non-differentiable points and non-finite numbers: one documented convention, always a warning."""

from __future__ import annotations

import json
import math

import pytest

import bpcli
from bpcli.engine.errors import BpcliError
from helpers import numeric_gradients, run_cli


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

    @pytest.mark.parametrize("expression, value", [("step(x)", 0.0), ("sign(x)", 0.0), ("greater(x, y)", 0.5)])
    def test_the_indicators_jump_with_gradient_zero(self, expression, value):
        # The local gradients of relu, abs, max and min: flat everywhere, with a jump at 0 (or a tie).
        r = bpcli.grad(expression, {"x": 0, "y": 0} if "y" in expression else {"x": 0})
        assert r.value == value
        assert set(r.gradients.values()) == {0.0}
        assert kinds(r) == [("f", "kink")]
        assert "its gradient there is taken as 0" in r.warnings[0].message

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
            ("x // y", {"x": 3, "y": 0}, math.inf, "a division by zero"),  # it said "overflows float64"
            ("x % y", {"x": 3, "y": 0}, math.nan, "a division by zero"),
            ("x // y", {"x": 1e308, "y": 1e-10}, math.inf, "overflows float64"),
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

    def test_zero_over_zero_is_nan_with_the_warning_where_it_began(self):
        r = bpcli.grad("x / y", x=0, y=0)
        assert math.isnan(r.value)  # 0 * (1 / 0) = 0 * inf
        nonfinite = [w for w in r.warnings if w.kind == "nonfinite"]
        assert [(w.stage, w.message) for w in nonfinite] == [("t1", "stage 1, t1 = 1 / y: division by zero: the value is inf")]

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


    def test_a_nan_gradient_from_an_overflow_times_zero_is_reported(self):
        # exp(1000) is inf and its upstream gradient 1/inf is 0: the gradient through exp is inf * 0
        r = bpcli.grad("log(1+exp(x))", x=1000)
        assert r.value == math.inf and math.isnan(r.gradients["x"])
        assert [(w.stage, w.kind, w.message) for w in r.warnings] == [
            ("t1", "nonfinite", "stage 1, t1 = exp(x): exp overflows float64 above 709.78: the value is inf"),
            ("t1", "nonfinite-gradient", "stage 1, t1 = exp(x): the gradient through it is nan"),
        ]

    def test_a_nan_gradient_where_a_fork_adds_inf_and_minus_inf_is_reported(self):
        r = bpcli.grad("exp(x) - exp(x)", x=1000)
        assert math.isnan(r.gradients["x"])
        assert [(w.stage, w.kind, w.message) for w in r.warnings][-1] == (
            None, "nonfinite-gradient", "x: the gradient through it is nan"
        )

    def test_an_inf_gradient_from_an_inf_value_is_the_value_s_warning_only(self):
        r = bpcli.grad("exp(x)", x=1000)
        assert r.gradients == {"x": math.inf}
        assert kinds(r) == [("f", "nonfinite")]

    @pytest.mark.parametrize("command", ["graph", "code"])
    def test_the_views_report_the_value_warnings_on_standard_error(self, command):
        result = run_cli(command, "log(x)", "-x", "0")
        assert result.exit_code == 0, result.stderr
        assert result.stderr == (
            "bpcli: warning: stage 1, f = log(x): log(0) is -inf: the value is -inf\n"
            "bpcli: warning: stage 1, f = log(x): the gradient through it is inf\n"
        )
        assert "warning" not in result.stdout
        assert run_cli(command, "log(x)").stderr == ""  # without values, nothing to warn about


class TestPowers:
    """x**y where its formulas meet 0 * inf: a factor 0 wins where the power is flat (PyTorch and JAX agree)."""

    def test_zero_to_the_zero_is_one_flat_in_the_base_and_falling_in_the_exponent(self):
        r = bpcli.grad("x**y", x=0, y=0)
        assert r.value == 1.0
        # x**0 is 1 for every x; 0**y drops from 1 to 0 as y passes 0, so both one-sided slopes are -inf.
        assert r.gradients == {"x": 0.0, "y": -math.inf}
        assert kinds(r) == [("f", "nonfinite-gradient")]
        step = 1e-9
        assert (0.0**step - 1.0) / step < -1e8

    @pytest.mark.parametrize("y", [0.5, 1.0, 2.0, 3.0])
    def test_zero_to_a_positive_power_is_flat_in_the_exponent(self, y):
        r = bpcli.grad("x**y", x=0, y=y)
        assert r.value == 0.0
        assert r.gradients["y"] == 0.0  # 0**y is 0 for every y > 0
        assert r.gradients["y"] == numeric_gradients("x**y", {"x": 0.0, "y": y})["y"]
        assert r.gradients["x"] == {0.5: math.inf, 1.0: 1.0, 2.0: 0.0, 3.0: 0.0}[y]
        assert kinds(r) == ([("f", "nonfinite-gradient")] if y < 1 else [])

    def test_a_constant_zero_base_gives_the_same_gradients(self):
        assert bpcli.grad("0**y", y=2).gradients == {"y": 0.0}
        r = bpcli.grad("0**y", y=0)
        assert (r.value, r.gradients) == (1.0, {"y": -math.inf})
        assert kinds(r) == [("f", "nonfinite-gradient")]  # the folded log(0) is reported, not silent

    def test_zero_to_a_negative_power_is_inf_with_inf_gradients(self):
        r = bpcli.grad("x**y", x=0, y=-1)
        assert r.value == math.inf
        assert r.gradients == {"x": -math.inf, "y": -math.inf}
        assert kinds(r) == [("f", "nonfinite"), ("f", "nonfinite-gradient")]

    @pytest.mark.parametrize("expression", ["x**y", "(-2)**y"])
    def test_a_negative_base_to_a_whole_power_has_no_gradient_in_the_exponent(self, expression):
        r = bpcli.grad(expression, {"x": -2, "y": 2} if "x" in expression else {"y": 2})
        assert r.value == 4.0
        assert math.isnan(r.gradients["y"])  # log(-2): the power is not defined for y near 2
        if "x" in expression:
            assert r.gradients["x"] == -4.0
        assert ("f", "nonfinite-gradient") in kinds(r)

    def test_away_from_zero_the_usual_formulas(self):
        r = bpcli.grad("x**y", x=2, y=3)
        assert r.gradients == {"x": 12.0, "y": 8 * math.log(2)}
        assert r.warnings == []
        # The edge-case gates (mul0, unzero) are read as what they compute away from the edge.
        assert r.stages[0].formulas == ("y * x**(y - 1)", "f * log(x)")

    @pytest.mark.parametrize("expression, formula", [("x**2", "2 * x"), ("2**x", "f * 0.6931471805599453")])
    def test_a_constant_operand_keeps_the_plain_formula(self, expression, formula):
        (stage,) = bpcli.grad(expression, x=3).stages
        assert formula in stage.formulas


class TestInputs:
    def test_integers_are_promoted_to_float64(self):
        import numpy as np

        r = bpcli.grad("x / y", x=1, y=2)
        assert r.value == 0.5 and type(r.value) is float
        assert all(type(g) is float for g in r.gradients.values())
        # numpy refuses integers to negative integer powers; as float64 they are fine.
        arrays = bpcli.grad("sum(x**y)", x=np.array([2, 4]), y=np.array([-1, -2]))
        assert arrays.value == 0.5 + 0.0625
        assert arrays.gradients["x"].dtype == np.float64

    @pytest.mark.parametrize(
        "value, fragment",
        [
            (10**400, "too large for float64"),
            ([1 + 2j], "array of real numbers"),
            ([1, None], "array of real numbers"),
            ([True, False], "array of real numbers"),
            ([[1, 2], [3]], "array of real numbers"),
        ],
    )
    def test_values_that_are_not_real_numbers_are_refused(self, value, fragment):
        with pytest.raises(BpcliError, match=fragment):
            bpcli.grad("sum(x)" if isinstance(value, list) else "x", x=value)

    def test_a_number_written_beyond_float64_is_inf_and_flagged(self):
        r = bpcli.grad("1e999 * x", x=1)
        assert r.value == math.inf
        assert kinds(r) == [(None, "nonfinite-input")]
        assert r.warnings[0].message == "the number 1e999 is inf in float64"

    def test_a_number_written_below_float64_is_0_and_flagged(self):
        r = bpcli.grad("1e-400 * x + 0.0 * x + 0e-400", x=1)
        assert r.value == 0.0 and r.gradients == {"x": 0.0}
        assert [(w.stage, w.kind, w.message) for w in r.warnings] == [
            (None, "underflow-input", "the number 1e-400 underflows float64 to 0")
        ]

    @pytest.mark.parametrize(
        "value, read, message",
        [("1e-400", 0.0, "x: 1e-400 underflows float64 to 0"),
         ("-2.5e-999", -0.0, "x: -2.5e-999 underflows float64 to 0"),
         ("[1e-400, 2, 0.0]", [0.0, 2.0, 0.0], "x: 1e-400 underflows float64 to 0"),
         ("[[1e-400, 2], [3, 7E-1000]]", [[0.0, 2.0], [3.0, 0.0]], "x: 2 numbers underflow float64 to 0, 1e-400 the first")],
    )
    def test_a_binding_written_below_float64_is_0_and_flagged(self, value, read, message):
        result = run_cli("grad", "sum(x)", "-x", value, "--json")
        assert result.exit_code == 0, result.stderr
        doc = json.loads(result.stdout)
        assert doc["inputs"]["x"] == read
        assert doc["warnings"] == [{"stage": None, "kind": "underflow-input", "message": message}]

    @pytest.mark.parametrize("suffix, content", [(".json", "[1e-400, 2]"), (".csv", "1e-400\n2\n")])
    def test_a_file_value_written_below_float64_is_flagged(self, tmp_path, suffix, content):
        path = tmp_path / f"x{suffix}"
        path.write_text(content)
        result = run_cli("grad", "sum(x)", "-x", f"@{path}")
        assert result.exit_code == 0, result.stderr
        assert result.stderr == "bpcli: warning: x: 1e-400 underflows float64 to 0\n"
        assert "warning" not in result.stdout

    @pytest.mark.parametrize("value", ["0", "0.0", "-0e-400", "0e999", "1e-310", "[0, 0.000]"])
    def test_zero_and_subnormal_numbers_are_not_flagged(self, value):
        result = run_cli("grad", "sum(x)", "-x", value, "--json")
        assert json.loads(result.stdout)["warnings"] == []

    def test_an_upstream_gradient_of_nan_is_flagged(self):
        r = bpcli.grad("x * y", x=2, y=3, upstream=math.nan)
        assert all(math.isnan(g) for g in r.gradients.values())
        assert kinds(r) == [("f", "nonfinite-gradient")]

    def test_inf_input_is_accepted_and_flagged(self):
        result = run_cli("grad", "x * 2", "-x", "inf", "--json")
        assert result.exit_code == 0
        doc = json.loads(result.stdout)
        assert doc["value"] == "inf" and doc["gradients"] == {"x": 2.0}
        assert [w["message"] for w in doc["warnings"]] == ["x is inf"]


class TestNoNumpyWarnings:
    """Overflow and domain errors are bpcli's warnings, never numpy's RuntimeWarnings."""

    @pytest.mark.parametrize(
        "expression",
        ["sum(sigmoid(x))", "sum(exp(x))", "sum(log(x))", "sum(1 / x)", "sum(x**y)", "sum(tanh(x))", "sum(sqrt(x))"],
    )
    def test_arrays_at_extreme_points(self, expression):
        import warnings

        import numpy as np

        x = np.array([-1000.0, 0.0, 1000.0, -1.0])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y = {"y": np.array([-1.0, -0.5, 2.0, 0.5])} if "y" in expression else {}
            r = bpcli.grad(expression, x=x, **y)
        if expression == "sum(sigmoid(x))":
            assert r.gradients["x"].tolist() == [0.0, 0.25, 0.0, pytest.approx(0.19661193324148185)]
            assert r.warnings == []

    @pytest.mark.parametrize("expression, point, message", [
        # numpy's booleans and np.where make numpy scalars of numbers: inf * 0 on them warned through numpy
        ("(x > 0) * y * z", {"x": 1.0, "y": 0.0, "z": math.inf}, "z is inf"),
        ("where(x > -2, -2, x ** x)", {"x": 5e-324}, "stage 2, t2 = x**x: the gradient through it is nan"),
        ("x // y * z", {"x": 1.0, "y": 2.0, "z": math.inf}, "z is inf"),
    ])
    def test_numbers_through_numpys_booleans(self, expression, point, message):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            r = bpcli.grad(expression, **point)
        assert message in [w.message for w in r.warnings]


    @pytest.mark.parametrize("expression, m", [
        ("np.var(m, ddof=3)", [1.0, 2.0, 3.0]),  # numpy: "Degrees of freedom <= 0 for slice", a Python warning
        ("np.var(m, ddof=5)", [2.0, 2.0, 2.0]),  # 0 / 0: nan
        ("np.sum(np.var(m, axis=0, ddof=2))", [[1.0, 2.0, 3.0], [4.0, 5.0, 5.0]]),
        ("np.sum(np.std(m, axis=(0, -1), ddof=6))", [[1.0, 2.0, 3.0], [4.0, 5.0, 5.0]]),
        ("np.sum(np.var(m, axis=1, ddof=3))", [[1.0, 1.0, 1.0], [4.0, 5.0, 5.0]]),  # nan beside inf
    ])
    def test_a_variance_with_ddof_at_or_past_the_count(self, expression, m):
        import warnings

        import numpy as np

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                expected = eval(expression, {"np": np, "m": np.array(m)})  # noqa: S307 - numpy, the oracle
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            r = bpcli.grad(expression, m=np.array(m))
        np.testing.assert_array_equal(r.value, expected)


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

    @pytest.mark.slow
    def test_a_hundred_thousand_gates(self):
        expression = " + ".join(["x*y"] * 50_000)  # 50,000 multiplies and 49,999 adds
        result = run_cli("grad", expression, "-x", "1", "-y", "2", "--json")
        assert result.exit_code == 0, result.stderr[-500:]
        doc = json.loads(result.stdout)
        assert len(doc["stages"]) == 99_999
        assert doc["gradients"] == {"x": 100_000.0, "y": 50_000.0}

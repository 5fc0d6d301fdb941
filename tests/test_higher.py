"""bpcli grad --order N --wrt x: backward applied to its own result, N times."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given

import bpcli
from expressions import coordinates, expressions, far_from_kinks, moderate, point_for
from helpers import run_cli, run_json, run_process


def sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


class TestClosedForms:
    @pytest.mark.parametrize("x", [-2.0, 0.5, 1.5, 3.0])
    def test_third_derivative_of_x_to_the_fourth_is_24x(self, x):
        doc = run_json("grad", "x**4", "-x", str(x), "--order", "3")
        assert doc["schema"] == "bpcli.derivative/1"
        assert (doc["wrt"], doc["order"], doc["value"]) == ("x", 3, pytest.approx(24 * x, rel=1e-15))
        assert [d["value"] for d in doc["derivatives"]] == pytest.approx([x**4, 4 * x**3, 12 * x**2, 24 * x])
        assert [d["formula"] for d in doc["derivatives"]] == ["x**4", "4 * x**3", "12 * x**2", "24 * x"]
        assert [d["label"] for d in doc["derivatives"]] == ["f", "df/dx", "d²f/dx²", "d³f/dx³"]

    def test_past_the_degree_every_derivative_is_zero(self):
        r = bpcli.derivative("x**2 + 3*x", x=5.0, order=4)
        assert [d.value for d in r.derivatives] == [40.0, 13.0, 2.0, 0.0, 0.0]
        assert r.derivatives[-1].formula == "0"

    @pytest.mark.parametrize("expression, nth", [
        ("exp(2*x)", lambda x, n: 2**n * math.exp(2 * x)),
        ("log(x)", lambda x, n: (-1) ** (n - 1) * math.factorial(n - 1) / x**n),
        ("1 / x", lambda x, n: (-1) ** n * math.factorial(n) / x ** (n + 1)),
        ("x * exp(x)", lambda x, n: (x + n) * math.exp(x)),
    ])
    @pytest.mark.parametrize("order", [1, 2, 3, 5])
    def test_families_with_a_known_nth_derivative(self, expression, nth, order):
        x = 0.7
        r = bpcli.derivative(expression, x=x, order=order)
        assert r.value == pytest.approx(nth(x, order), rel=1e-12)

    @pytest.mark.parametrize("x", [-1.2, 0.4])
    def test_sigmoid_and_tanh_second_derivatives(self, x):
        s, t = sigmoid(x), math.tanh(x)
        assert bpcli.derivative("sigmoid(x)", x=x, order=2).value == pytest.approx(s * (1 - s) * (1 - 2 * s), rel=1e-13)
        assert bpcli.derivative("tanh(x)", x=x, order=2).value == pytest.approx(-2 * t * (1 - t * t), rel=1e-13)
        assert bpcli.derivative("sigmoid(x)", x=x, order=2).derivatives[2].formula == "f = sigmoid(x); f * (1 - f) * (1 - 2 * f)"

    def test_with_respect_to_one_of_several_variables(self):
        r = bpcli.derivative("x**3 * y", x=2.0, y=5.0, wrt="x", order=2)
        assert (r.wrt, r.value) == ("x", 6 * 2.0 * 5.0)
        assert bpcli.derivative("x**3 * y", x=2.0, y=5.0, wrt="y", order=2).value == 0.0

    def test_a_scalar_variable_may_meet_arrays_on_the_way(self):
        r = bpcli.derivative("sum(x**2 * w)", x=3.0, w=[1.0, 2.0], wrt="x", order=2)
        assert r.value == 2 * (1.0 + 2.0)
        assert all(d.formula is None for d in r.derivatives)  # formulas are for numbers only


@pytest.mark.slow
@given(expressions, coordinates, coordinates, coordinates)
def test_the_second_derivative_is_the_hessians_diagonal(expression, x, y, z):
    point = point_for(expression, x, y, z)
    assume(point)
    first = bpcli.grad(expression, point)
    assume(moderate(first) and far_from_kinks(first))
    hessian = bpcli.hessian(expression, point)
    for position, name in enumerate(hessian.variables):
        second = bpcli.derivative(expression, point, wrt=name, order=2).value
        expected = hessian.matrix[position, position]
        assert second == expected or (math.isnan(second) and math.isnan(expected)), (expression, point, name)


class TestStages:
    def test_each_stage_is_labelled_with_the_pass_that_made_it(self):
        r = bpcli.derivative("x**4", x=2.0, order=3)
        assert [s.order for s in r.stages] == sorted(s.order for s in r.stages)
        assert {s.order for s in r.stages} == {0, 1, 2, 3}
        holders = {label: s for s in r.stages for label in s.holds}
        assert set(holders) == {"f", "df/dx", "d²f/dx²", "d³f/dx³"}
        assert holders["d³f/dx³"].value == 48.0 and holders["d³f/dx³"].order == 3
        # Every stage is computed from earlier stages, inputs and constants.
        names = {"x"} | {s.name for s in r.stages}
        seen = {"x"}
        for stage in r.stages:
            assert all(i in seen or i not in names for i in stage.inputs)
            seen.add(stage.name)

    def test_every_stage_has_a_name_its_consumers_use(self):
        r = bpcli.derivative("x**4", x=2.0, order=3)
        names = [s.name for s in r.stages]
        assert all(names) and len(set(names)) == len(names)
        assert [s.expr for s in r.stages][1:3] == ["x**3", f"4 * {names[1]}"]
        assert [d.stage for d in r.derivatives] == ["f", names[2], names[5], names[7]]

    def test_a_function_that_is_its_own_derivative(self):
        r = bpcli.derivative("exp(x)", x=1.0, order=3)
        (stage,) = r.stages
        assert stage.holds == ("f", "df/dx", "d²f/dx²", "d³f/dx³")
        assert [d.stage for d in r.derivatives] == ["f"] * 4

    def test_the_table(self):
        result = run_cli("grad", "x**4", "-x", "2", "--order", "3")
        assert result.exit_code == 0, result.stderr
        out = result.stdout
        assert "The graph of d³f/dx³: the forward pass (order 0), then one backward pass per order" in out
        assert "Derivatives of f with respect to x at x = 2" in out
        row = next(line for line in out.splitlines() if "24 * x" in line)
        holder = bpcli.derivative("x**4", x=2, order=3).derivatives[3].stage  # a generated name
        assert [cell.strip() for cell in row.split("│")[1:-1]] == ["3", "d³f/dx³", holder, "48", "24 * x"]

    def test_a_kink_is_reported(self):
        doc = run_json("grad", "relu(x) * x", "-x", "0", "--order", "2")
        assert doc["value"] == 0.0
        (warning,) = doc["warnings"]
        assert warning["kind"] == "kink" and "the second derivative does not exist" in warning["message"]
        first = run_json("grad", "relu(x) * x", "-x", "0", "--order", "1")
        assert "second derivative" not in first["warnings"][0]["message"]


class TestErrors:
    @pytest.mark.parametrize("args, message", [
        (("x * y", "-x", "1", "-y", "2", "--order", "2"), "--wrt x (the variables are x, y)"),
        (("q = x * y; f = q**2", "-x", "1", "-y", "2", "--order", "2", "--wrt", "q"), "q is a stage, not an input variable"),
        (("sum(x**2)", "-x", "[1, 2]", "--order", "2"), "bpcli hessian gives the second derivatives"),
        (("x * [1, 2]", "-x", "1", "--order", "2"), "higher derivatives are of a number"),
        (("x**2", "-x", "1", "--order", "2", "--upstream", "1"), "--upstream is for the gradient of an array"),
        (("x**2", "-x", "1", "--order", "0"), "--order"),
        (("sigmoid(tanh(x) * exp(x))", "-x", "1", "--order", "8", "--max-nodes", "500"), "the limit is 500"),
    ])
    def test_bad_input_is_one_message_and_exit_2(self, args, message):
        result = run_cli("grad", *args)
        assert result.exit_code == 2
        assert message in result.stderr and "Traceback" not in result.stderr

    @pytest.mark.parametrize("extra", [(), ("--symbolic",)])
    def test_an_order_over_the_limit_is_refused_before_any_pass(self, extra):
        # each pass walks the graph so far: --order 100000 of x*y took some 25 minutes
        result = run_cli("grad", "x*y", "-x", "1", "-y", "2", "--order", "100000", "--wrt", "x", *extra)
        assert result.exit_code == 2
        assert result.stderr == (
            "bpcli: error: a derivative of order 100,000 takes 100,000 backward passes; "
            "the limit is 1,000 (raise it with --max-order)\n"
        )
        refused = run_cli("grad", "x**2", "-x", "3", "--order", "4", "--max-order", "3", *extra)
        assert refused.exit_code == 2 and "the limit is 3 (raise it with --max-order)" in refused.stderr

    def test_the_limit_can_be_raised(self):
        doc = run_json("grad", "x*y", "-x", "1", "-y", "2", "--order", "1001", "--wrt", "x", "--max-order", "1001")
        assert [d["value"] for d in doc["derivatives"]][:3] == [2.0, 2.0, 0.0]
        assert doc["value"] == 0.0 and len(doc["derivatives"]) == 1002

    def test_the_python_api_has_the_same_limit(self):
        with pytest.raises(bpcli.BpcliError, match=r"order 1,001 .* the limit is 1,000 \(raise it with --max-order\)"):
            bpcli.derivative("x**2", x=1, order=1001)
        with pytest.raises(bpcli.BpcliError, match="the limit is 2 "):
            bpcli.symbolic("x**2", wrt="x", order=3, max_order=2)
        assert bpcli.derivative("x**3", x=2, order=3, max_order=3).value == 6.0


def test_the_real_executable():
    done = run_process("grad", "x**4", "-x", "1.5", "--order", "3", "--json")
    assert done.returncode == 0, done.stderr
    assert '"value": 36.0' in done.stdout


"""Numbers at the edges (issue 18): routing gates select, x**y at 0 through its own derivatives,
warnings that name what is there. PyTorch's and JAX's answers are written in as numbers;
away from the edges, centred differences are the oracle."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import bpcli
from helpers import close, numeric_gradients, run_cli, run_json

try:  # an oracle only where it is installed (pip install ".[oracle]")
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None


class TestRoutingGatesSelect:
    """An input a routing gate did not select receives exactly 0, even when the upstream is inf or nan."""

    @pytest.mark.parametrize("expression, values, expected", [
        ("sqrt(relu(x))", {"x": -1}, {"x": 0.0}),  # upstream inf: 0.5 / sqrt(0)
        ("min(1/relu(x), 3)", {"x": -1}, {"x": 0.0}),  # upstream 0 * -inf inside 1/relu
        ("max(N / relu(x))", {"x": -1, "N": np.array([1.0, 2.0])}, {"x": 0.0, "N": [math.inf, math.inf]}),
        ("sqrt(max(x, y) - y)", {"x": -1, "y": 0}, {"x": 0.0}),
        ("sqrt(abs(x))", {"x": 0}, {"x": 0.0}),
        ("sqrt(max(x) - 1)", {"x": np.array([1.0, 0.0])}, {"x": [math.inf, 0.0]}),
    ])
    def test_the_unselected_input_gets_zero_as_pytorch_and_jax(self, expression, values, expected):
        r = bpcli.grad(expression, values)
        for name, gradient in expected.items():
            assert np.array_equal(np.asarray(r.gradients[name]), np.asarray(gradient)), (name, r.gradients[name])

    def test_the_cli_prints_zero_and_no_nan_warning(self):
        doc = run_json("grad", "sqrt(relu(x))", "-x", "-1")
        assert doc["gradients"] == {"x": 0.0}
        assert [w["kind"] for w in doc["warnings"]] == ["kink"]  # sqrt at 0; no "nan" for relu

    def test_gradcheck_agrees_with_bpcli_away_from_the_kink(self):
        result = run_cli("gradcheck", "min(1/relu(x), 3)", "-x", "-1")
        assert result.exit_code == 0, result.stdout + result.stderr

    def test_second_derivatives_select_too(self):
        # d/dx of relu's gradient step(x) * upstream: the upstream of the second pass is inf here.
        assert bpcli.derivative("sqrt(relu(x))", x=-1, order=2).value == 0.0
        assert bpcli.hessian("sqrt(relu(x)) + x*y", x=-1, y=2).matrix.tolist() == [[0.0, 1.0], [1.0, 0.0]]

    def test_a_hessian_over_an_array_selects_and_warns_of_nothing_it_selected_away(self):
        r = bpcli.hessian("sum(sqrt(relu(x)))", x=[-1.0, 4.0])
        assert np.array_equal(r.matrix, [[0.0, 0.0], [0.0, -0.25 * 4.0**-1.5]])
        assert [w.kind for w in r.warnings] == ["kink"]  # sqrt at 0; nothing about a gradient

    @pytest.mark.parametrize("expression, point", [
        ("relu(x) * y", {"x": 0.7, "y": -1.3}), ("max(x, y) * x", {"x": 0.4, "y": -2.0}),
        ("min(x, y) * y", {"x": 0.4, "y": -2.0}), ("abs(x) * y", {"x": -1.9, "y": 0.4}),
    ])
    def test_away_from_kinks_the_gradients_are_the_centred_differences(self, expression, point):
        r = bpcli.grad(expression, point)
        numeric = numeric_gradients(expression, point)
        assert all(close(r.gradients[name], numeric[name]) for name in point)

    @pytest.mark.skipif(torch is None, reason="torch is not installed (pip install '.[oracle]')")
    def test_pytorch_agrees(self):  # pragma: no cover - depends on the environment
        x = torch.tensor(-1.0, dtype=torch.float64, requires_grad=True)
        torch.sqrt(torch.relu(x)).backward()
        assert bpcli.grad("sqrt(relu(x))", x=-1).gradients["x"] == x.grad.item()


class TestPowerAtZero:
    def test_the_hessian_of_x_to_the_y_at_x_0_is_jaxs(self):
        r = bpcli.hessian("x**y", x=0, y=2)
        assert r.matrix.tolist() == [[2.0, 0.0], [0.0, 0.0]]
        assert "asymmetric" not in [w.kind for w in r.warnings]

    def test_the_second_derivative_in_the_exponent_is_zero_without_inf_times_zero(self):
        r = bpcli.derivative("x**y", x=0, y=2, order=2, wrt="y")
        assert [d.value for d in r.derivatives] == [0.0, 0.0, 0.0]
        assert r.warnings == []

    def test_away_from_zero_the_hessian_matches_centred_differences_of_the_gradient(self):
        h = bpcli.hessian("x**y", x=1.5, y=2.5).matrix
        for row, name in enumerate("xy"):
            for column, other in enumerate("xy"):
                def partial(v, other=other, name=name):
                    return bpcli.grad("x**y", {"x": 1.5, "y": 2.5, other: v}).gradients[name]
                at = {"x": 1.5, "y": 2.5}[other]
                numeric = (partial(at + 1e-6) - partial(at - 1e-6)) / 2e-6
                assert close(h[row, column], numeric, rel=1e-5)

    def test_a_hessian_that_is_not_symmetric_says_why(self):
        # d/dx (y x**(y-1)) jumps as y passes 1 at x = 0: the mixed partials do not exist there.
        r = bpcli.hessian("x**y", x=0, y=1)
        (notice,) = [w for w in r.warnings if w.kind == "asymmetric"]
        assert "not symmetric" in notice.message and "∂²f/∂x ∂y = -inf" in notice.message
        assert "not twice differentiable" in notice.message

    def test_a_large_hessian_says_so_too(self):
        """Past ROWS_ON_NUMBERS variables the matrix is compared as an array: the same pair, the same words."""
        others = dict(zip("abcdefghi", range(1, 10)))
        r = bpcli.hessian("x**y + a*b*c*d*e*f*g*h*i", x=0, y=1, **others)
        (notice,) = [w for w in r.warnings if w.kind == "asymmetric"]
        assert "∂²f/∂x ∂y = -inf but ∂²f/∂y ∂x = 0" in notice.message and r.matrix.shape == (11, 11)


class TestWarningsNameWhatIsThere:
    def test_a_minus_inf_gradient_is_called_minus_inf(self):
        r = bpcli.grad("x**y", x=0, y=-1)
        assert r.gradients == {"x": -math.inf, "y": -math.inf}
        assert [w.message for w in r.warnings if w.kind == "nonfinite-gradient"] == [
            "stage 1, f = x**y: the gradient through it is -inf"]

    def test_a_nan_beside_an_inf_is_reported_too(self):
        r = bpcli.grad("sum(1/x)", x=np.array([0.0, -0.0]))
        assert "the value is inf and -inf" in r.warnings[0].message
        r = bpcli.grad("sum(log(x))", x=np.array([0.0, -1.0]))
        assert "the value is -inf and nan" in r.warnings[0].message

    def test_a_gradient_with_nan_beside_inf_names_both(self):
        r = bpcli.grad("sum(sqrt(x) * y)", x=np.array([0.0, 0.0]), y=np.array([1.0, 0.0]))
        assert np.array_equal(r.gradients["x"], [math.inf, math.nan], equal_nan=True)
        assert r.warnings[-1].message == "stage 1, t1 = sqrt(x): the gradient through it is inf and nan"

    def test_an_input_with_nan_and_inf_is_flagged_for_both(self):
        result = run_cli("grad", "sum(x)", "-x", "[NaN, Infinity]")
        assert "x is inf and nan" in result.stderr


class TestUnderflowEverywhere:
    """1e-400 becomes 0 in float64; wherever it is written, bpcli says so, as for -x 1e-400."""

    @pytest.mark.usefixtures("points_path")
    def test_in_a_points_file(self, tmp_path):
        (tmp_path / "p.csv").write_text("x,y\n1e-400,2\n3,4\n")
        (tmp_path / "p.jsonl").write_text('{"x": 1e-400, "y": 2}\n{"x": 3, "y": 4}\n')
        for name in ("p.csv", "p.jsonl"):
            result = run_cli("grad", "x*y", "--points", str(tmp_path / name))
            assert result.exit_code == 0, result.stderr
            assert "the column x: 1e-400 underflows float64 to 0" in result.stderr

    def test_in_an_upstream_value(self):
        result = run_cli("grad", "x*2", "-x", "[1, 2]", "--upstream", "[1e-400, 1]")
        assert result.exit_code == 0, result.stderr
        assert "the upstream gradient: 1e-400 underflows float64 to 0" in result.stderr

    def test_in_an_array_literal(self):
        r = bpcli.grad("sum([1e-400, 2] * x)", x=1)
        assert [w.message for w in r.warnings] == ["the number 1e-400 in [1e-400, 2] underflows float64 to 0"]
        assert bpcli.grad("sum([0e-400, 2] * x)", x=1).warnings == []  # written 0 is 0


@pytest.mark.usefixtures("points_path")
class TestPointsBesideFixedValues:
    def test_a_fixed_array_beside_the_points_is_refused_clearly(self, tmp_path):
        (tmp_path / "px.csv").write_text("x\n1\n2\n")
        result = run_cli("grad", "w*x", "--points", str(tmp_path / "px.csv"), "-w", "[1,2]")
        assert result.exit_code == 2
        assert "w is an array of shape (2,), but a value bound beside --points is a number" in result.stderr
        with pytest.raises(bpcli.BpcliError, match="w is an array"):
            bpcli.grad_points("w*x", {"x": [1, 2]}, w=[1, 2])

    def test_a_fixed_number_is_the_same_at_every_row(self):
        r = bpcli.grad_points("w*x", {"x": [1, 2]}, w=3)
        assert r.value.tolist() == [3.0, 6.0] and r.gradients["w"].tolist() == [1.0, 2.0]

    def test_points_on_standard_input(self):
        result = run_cli("grad", "x*y", "--points", "-", input="x,y\n1,2\n3,4\n")
        assert result.exit_code == 0, result.stderr
        assert result.stdout == "x,y,f,df/dx,df/dy\n1.0,2.0,2.0,2.0,1.0\n3.0,4.0,12.0,4.0,3.0\n"
        result = run_cli("grad", "x*y", "--points", "-", "--json", input='{"x": 1, "y": 2}\n')
        assert json.loads(result.stdout)["gradients"] == {"x": 2.0, "y": 1.0}

    def test_standard_input_holds_one_of_expression_and_points(self):
        result = run_cli("grad", "-", "--points", "-", input="x*y")
        assert result.exit_code == 2
        assert "standard input holds the expression or the points, not both" in result.stderr


class TestShapesWithoutValues:
    def test_code_accepts_shapes_and_its_program_runs_like_bpcli(self, tmp_path):
        result = run_cli("code", "sum(W @ x) + b", "-W", "shape:2,3", "-x", "shape:3")
        assert result.exit_code == 0, result.stderr
        assert "dW = np.outer(dt1, x)" in result.stdout and "dx = W.T @ dt1" in result.stdout
        (tmp_path / "backprop.py").write_text(result.stdout)
        import subprocess
        import sys

        run = subprocess.run([sys.executable, str(tmp_path / "backprop.py"), "[[1,2,3],[4,5,6]]", "[1,0,-1]", "2"],
                             capture_output=True, text=True, check=True)
        expected = bpcli.grad("sum(W @ x) + b", W=[[1, 2, 3], [4, 5, 6]], x=[1, 0, -1], b=2)
        assert f"f = {expected.value}" in run.stdout and "dx = [5. 7. 9.]" in run.stdout

    def test_graph_accepts_shapes(self):
        result = run_cli("graph", "sum(W @ x)", "-W", "shape:2,3", "-x", "shape:3", "--format", "text")
        assert result.exit_code == 0, result.stderr
        assert "t1 = W @ x" in result.stdout

    @pytest.mark.parametrize("command", [["code"], ["graph"], ["grad", "--symbolic"]])
    def test_without_shapes_the_message_says_how_to_give_them(self, command):
        result = run_cli(*command, "sum(W @ x)")
        assert result.exit_code == 2
        assert "scalar @ scalar" in result.stderr and "-W shape:5,10" in result.stderr

    def test_a_shape_is_not_a_value_where_numbers_are_computed(self):
        result = run_cli("grad", "sum(W @ x)", "-W", "shape:2,3", "-x", "shape:3")
        assert result.exit_code == 2
        assert "W has a shape but no values (shape:2,3)" in result.stderr

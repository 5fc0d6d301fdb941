"""bpcli hessian: reverse over reverse against closed forms and nested centred differences."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
from hypothesis import assume, example, given

import bpcli
from bpcli.engine.errors import BpcliError
from bpcli.engine.evaluate import evaluate
from expressions import coordinates, expressions, far_from_kinks, moderate, point_for
from helpers import run_cli, run_json, run_process

RNG = np.random.default_rng(2024)


def sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def nested_difference(expression: str, point: dict[str, float], h: float = 1e-4) -> np.ndarray:
    """Every second derivative by centred differences of centred differences of the forward pass."""
    graph = bpcli.build(expression)
    names = list(point)

    def f(shifts: dict[str, float]) -> float:
        return evaluate(graph, {n: point[n] + shifts.get(n, 0.0) for n in names}).values[graph.output]

    steps = {n: h * max(1.0, abs(point[n])) for n in names}
    matrix = np.zeros((len(names), len(names)))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            def shifted(sa: float, sb: float) -> float:
                shifts = {a: sa * steps[a]}
                shifts[b] = shifts.get(b, 0.0) + sb * steps[b]
                return f(shifts)

            matrix[i, j] = (shifted(1, 1) - shifted(1, -1) - shifted(-1, 1) + shifted(-1, -1)) / (
                4 * steps[a] * steps[b]
            )
    return matrix


class TestClosedForms:
    def test_the_issue_example(self):
        x, y = 1.0, 2.0
        e = math.exp(x * y)
        r = bpcli.hessian("x**2 * y + exp(x*y)", x=x, y=y)
        expected = [[2 * y + y * y * e, 2 * x + e * (1 + x * y)], [2 * x + e * (1 + x * y), x * x * e]]
        np.testing.assert_allclose(r.matrix, expected, rtol=1e-14)
        assert r.variables == ["x", "y"] and r.passes == 2 and r.mode == "matrix"
        assert r.gradients == {"x": pytest.approx(2 * x * y + y * e), "y": pytest.approx(x * x + x * e)}

    @pytest.mark.parametrize("x, y", [(0.5, -1.5), (-2.0, 3.0), (1.25, 0.75)])
    def test_a_cubic_polynomial(self, x, y):
        r = bpcli.hessian("x**3 + 2*x*y**2 - y + 7", x=x, y=y)
        np.testing.assert_allclose(r.matrix, [[6 * x, 4 * y], [4 * y, 4 * x]], rtol=1e-14, atol=1e-14)

    @pytest.mark.parametrize("expression, closed_form", [
        # f = sigmoid(x*y): with s = f, s' = s(1-s), s'' = s(1-s)(1-2s)
        ("sigmoid(x*y)", lambda x, y: (lambda s: [
            [y * y * s * (1 - s) * (1 - 2 * s), s * (1 - s) + x * y * s * (1 - s) * (1 - 2 * s)],
            [s * (1 - s) + x * y * s * (1 - s) * (1 - 2 * s), x * x * s * (1 - s) * (1 - 2 * s)],
        ])(sigmoid(x * y))),
        # f = tanh(x) * log(y)
        ("tanh(x) * log(y)", lambda x, y: [
            [-2 * math.tanh(x) * (1 - math.tanh(x) ** 2) * math.log(y), (1 - math.tanh(x) ** 2) / y],
            [(1 - math.tanh(x) ** 2) / y, -math.tanh(x) / y**2],
        ]),
        # f = exp(x) / y = exp(x) * y**-1
        ("exp(x) / y", lambda x, y: [[math.exp(x) / y, -math.exp(x) / y**2], [-math.exp(x) / y**2, 2 * math.exp(x) / y**3]]),
        # f = log(1 + exp(x + y)): softplus, f'' = sigmoid(1 - sigmoid) in every entry
        ("log(1 + exp(x + y))", lambda x, y: [[sigmoid(x + y) * (1 - sigmoid(x + y))] * 2] * 2),
        # the decomposed sigmoid gives the same Hessian as the gate
        ("1 / (1 + exp(-(x*y)))", lambda x, y: bpcli.hessian("sigmoid(x*y)", x=x, y=y).matrix),
    ])
    @pytest.mark.parametrize("x, y", [(0.3, 1.7), (-1.1, 0.6)])
    def test_compositions_of_exp_log_sigmoid_tanh(self, expression, closed_form, x, y):
        r = bpcli.hessian(expression, x=x, y=y)
        np.testing.assert_allclose(r.matrix, closed_form(x, y), rtol=1e-12, atol=1e-14)

    def test_a_variable_that_does_not_matter_has_zero_rows(self):
        r = bpcli.hessian("a = y * 2; f = x**2", x=3, y=1)
        assert r.variables == ["y", "x"]  # in order of first use
        np.testing.assert_array_equal(r.matrix, [[0, 0], [0, 2]])
        assert r.passes == 1  # no backward pass for y, whose gradient is zero


class TestAgainstNestedDifferences:
    @pytest.mark.slow
    @given(expressions, coordinates, coordinates, coordinates)
    def test_random_expressions(self, expression, x, y, z):
        point = point_for(expression, x, y, z)
        assume(point)
        first = bpcli.grad(expression, point)
        assume(moderate(first) and far_from_kinks(first))
        analytic = bpcli.hessian(expression, point).matrix
        assume(np.all(np.isfinite(analytic)) and np.all(np.abs(analytic) < 1e4))
        fine, coarse = nested_difference(expression, point, 1e-4), nested_difference(expression, point, 2e-4)
        # Richardson's extrapolation cancels the h**2 term of both quotients' truncation
        # error; what is left of it is well within their difference.
        numeric = (4 * fine - coarse) / 3
        truncation = np.abs(fine - coarse)
        h = 1e-4 * max(1.0, *map(abs, point.values()))
        # Below the rounding error of the nested quotients nothing can be told apart.
        rounding = 200 * sys.float_info.epsilon * max(1.0, abs(first.value)) / h**2
        tolerance = 1e-5 * (np.abs(analytic) + np.abs(numeric)) + rounding + truncation
        assert np.all(np.abs(analytic - numeric) <= tolerance), (expression, point, analytic, numeric)

    @given(expressions, coordinates, coordinates, coordinates)
    def test_hessians_are_symmetric(self, expression, x, y, z):
        point = point_for(expression, x, y, z)
        first = bpcli.grad(expression, point)
        assume(moderate(first) and far_from_kinks(first))
        matrix = bpcli.hessian(expression, point).matrix
        assume(np.all(np.isfinite(matrix)))
        np.testing.assert_allclose(matrix, matrix.T, rtol=1e-9, atol=1e-9)


def per_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The oracle: the rows as separate backward passes, one per element, as bpcli computed them before."""
    from bpcli.analyses import hessian as module

    monkeypatch.setattr(module, "_matrix", lambda graph, inputs, gradient, evaluation, max_total:
                        module._matrix_by_rows(graph, inputs, gradient, max_total))


def batched_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one batched pass even for a few numbers, which the rows on numbers would otherwise compute."""
    from bpcli.analyses import hessian as module

    monkeypatch.setattr(module, "ROWS_ON_NUMBERS", 0)


def same_results(expression: str, values: dict, monkeypatch: pytest.MonkeyPatch) -> bpcli.HessianResult:
    """The batched Hessian, checked to equal the per-variable passes' to the bit (warnings and passes too)."""
    batched_always(monkeypatch)
    batched = bpcli.hessian(expression, values)
    with monkeypatch.context() as patch:
        per_variable(patch)
        separate = bpcli.hessian(expression, values)
    np.testing.assert_array_equal(batched.matrix, separate.matrix)  # nan where nan, every other number equal
    assert (batched.passes, batched.warnings, batched.variables) == (separate.passes, separate.warnings,
                                                                     separate.variables)
    return batched


class TestOneBatchedPass:
    """Every row from one backward pass evaluated over a batch of seeds: the numbers of separate passes."""

    @given(expressions, coordinates, coordinates, coordinates)
    # The inf and nan rows fall back to separate passes: their warnings in the order the separate passes give.
    @example("log(exp(log(x)))", 0.0, 0.0, 0.0)
    def test_random_expressions_equal_the_per_variable_passes(self, expression, x, y, z):
        point = point_for(expression, x, y, z)
        with pytest.MonkeyPatch.context() as monkeypatch:
            same_results(expression, point, monkeypatch)

    @pytest.mark.parametrize("expression", ["sum(tanh(W @ x))**2", "sum(relu(W @ x) * x[0]) + max(W) * sum(x ** 3)",
                                            "x @ W.T @ W @ x", "sum(sigmoid(W) * W, axis=1) @ x[:2]"])
    def test_arrays(self, expression, monkeypatch):
        W, x = RNG.standard_normal((2, 3)), RNG.standard_normal(3)
        r = same_results(expression, {"W": W, "x": x}, monkeypatch)
        assert r.matrix.shape == (9, 9)

    def test_rows_in_small_chunks(self, monkeypatch):
        from bpcli.analyses import hessian as module

        W, x = RNG.standard_normal((4, 5)), RNG.standard_normal(5)
        whole = bpcli.hessian("sum(tanh(W @ x)) * sum(x)", W=W, x=x).matrix
        monkeypatch.setattr(module, "BATCH_ELEMENTS", 7)  # a chunk of one row: the largest node has 20 numbers
        np.testing.assert_array_equal(bpcli.hessian("sum(tanh(W @ x)) * sum(x)", W=W, x=x).matrix, whole)

    def test_one_pass_where_every_entry_is_finite(self, monkeypatch):
        from bpcli.analyses import hessian as module

        def refuse(*_):
            raise AssertionError("the rows were computed one pass at a time")

        batched_always(monkeypatch)
        monkeypatch.setattr(module, "_matrix_by_rows", refuse)
        r = bpcli.hessian("x**2 * y + exp(x*y) * z", x=1, y=2, z=3)
        assert r.passes == 3  # one row per element, all in the one batched pass

    def test_a_few_numbers_are_rows_on_numbers_equal_to_the_batch(self, monkeypatch):
        """Start-up: up to ROWS_ON_NUMBERS numbers, separate passes on numbers (no numpy), the same to the bit."""
        from bpcli.analyses import hessian as module

        on_numbers = bpcli.hessian("x**2 * y + exp(x*y) * z", x=1, y=2, z=3)
        assert isinstance(on_numbers.entries[0][0], float) and on_numbers.passes == 3
        batched_always(monkeypatch)
        monkeypatch.setattr(module, "_matrix_by_rows", None)  # the batch computes it, not the rows
        batched = bpcli.hessian("x**2 * y + exp(x*y) * z", x=1, y=2, z=3)
        assert on_numbers.entries == batched.entries
        np.testing.assert_array_equal(on_numbers.matrix, batched.matrix)
        assert (on_numbers.passes, on_numbers.warnings) == (batched.passes, batched.warnings)

    def test_an_infinite_second_derivative_spills_into_no_other_row(self, monkeypatch):
        # d²/dx² sqrt(x) at 0 is -inf: in one pass, 0 (the seed of x in y's row) × -inf would be nan.
        r = same_results("sqrt(x) + x * y", {"x": 0.0, "y": 2.0}, monkeypatch)
        assert r.matrix[1].tolist() == [1.0, 0.0] and r.matrix[0, 0] == -math.inf


class TestTensors:
    def test_a_quadratic_form(self):
        A, x = RNG.standard_normal((4, 4)), RNG.standard_normal(4)
        r = bpcli.hessian("x @ A @ x", A=A, x=x, wrt="x")
        np.testing.assert_allclose(r.matrix, A + A.T, rtol=1e-13)
        assert r.shapes == {"x": (4,)} and r.elements == ["x[0]", "x[1]", "x[2]", "x[3]"]

    def test_elements_are_flattened_row_by_row_across_variables(self):
        W, x = RNG.standard_normal((2, 3)), RNG.standard_normal(3)
        r = bpcli.hessian("sum(W @ x)**2", W=W, x=x)
        # f = s**2 with s = sum_ij W_ij x_j: H = 2 * grad(s) grad(s)^T + 2 s * d2s
        ds = np.concatenate([np.tile(x, 2), W.sum(axis=0)])
        d2s = np.zeros((9, 9))
        for i in range(2):
            for j in range(3):
                d2s[3 * i + j, 6 + j] = d2s[6 + j, 3 * i + j] = 1.0
        s = np.sum(W @ x)
        np.testing.assert_allclose(r.matrix, 2 * np.outer(ds, ds) + 2 * s * d2s, rtol=1e-12, atol=1e-12)
        assert r.elements[:4] == ["W[0,0]", "W[0,1]", "W[0,2]", "W[1,0]"] and r.elements[6:] == ["x[0]", "x[1]", "x[2]"]
        assert r.passes == 9

    def test_a_hessian_vector_product_agrees_with_the_matrix(self):
        W, x = RNG.standard_normal((2, 3)), RNG.standard_normal(3)
        v = RNG.standard_normal(9)
        full = bpcli.hessian("sum(tanh(W @ x))", W=W, x=x).matrix
        product = bpcli.hessian("sum(tanh(W @ x))", W=W, x=x, vector=v)
        assert product.mode == "hvp" and product.matrix is None and product.passes == 1
        np.testing.assert_allclose(product.product["W"], (full @ v)[:6].reshape(2, 3), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(product.product["x"], (full @ v)[6:], rtol=1e-12, atol=1e-14)
        by_name = bpcli.hessian("sum(tanh(W @ x))", W=W, x=x, vector={"x": v[6:]})
        np.testing.assert_allclose(by_name.product["x"], full[6:, 6:] @ v[6:], rtol=1e-12, atol=1e-14)

    def test_a_hessian_vector_product_needs_no_matrix(self):
        x = RNG.standard_normal(20_000)
        # The matrix would have 4e8 entries; H v is one backward pass: diag(12 x**2) v.
        r = bpcli.hessian("sum(x**4)", x=x, vector=np.ones_like(x), max_entries=100)
        np.testing.assert_allclose(r.product["x"], 12 * x**2, rtol=1e-13)
        with pytest.raises(BpcliError, match="Hessian-vector product with --vector"):
            bpcli.hessian("sum(x**4)", x=x, max_entries=100)


class TestKinks:
    @pytest.mark.parametrize("x", [-1.5, 2.0])
    def test_relu_away_from_its_kink(self, x):
        r = bpcli.hessian("relu(x)", x=x)
        assert r.matrix.tolist() == [[0.0]] and r.warnings == []

    def test_relu_at_its_kink_warns(self):
        r = bpcli.hessian("relu(x)", x=0)
        assert r.matrix.tolist() == [[0.0]]
        (warning,) = r.warnings
        assert warning.kind == "kink" and warning.stage == "f"
        assert "relu at 0" in warning.message and "second derivative does not exist" in warning.message

    @pytest.mark.parametrize("x, y", [(4.0, 2.0), (-1.0, 3.0)])
    def test_max_away_from_a_tie(self, x, y):
        r = bpcli.hessian("max(x, y)", x=x, y=y)
        assert r.matrix.tolist() == [[0.0, 0.0], [0.0, 0.0]] and r.warnings == []

    def test_max_at_a_tie_warns(self):
        doc = run_json("hessian", "max(x, y)", "-x", "2", "-y", "2")
        assert doc["hessian"] == [[0.0, 0.0], [0.0, 0.0]]
        (warning,) = doc["warnings"]
        assert warning["kind"] == "kink" and "max tie" in warning["message"]
        assert "second derivative does not exist" in warning["message"]

    def test_a_smooth_kink_is_not_a_jump(self):
        # sqrt at 0 has an infinite derivative, not a jump: no claim about a jump.
        r = bpcli.hessian("sqrt(x)", x=0)
        kinks = [w for w in r.warnings if w.kind == "kink"]
        assert kinks and all("jumps" not in w.message for w in kinks)

    @pytest.mark.parametrize("x, expected", [(1.5, 2.0), (-1.5, 0.0)])
    def test_relu_times_x_is_piecewise_quadratic(self, x, expected):
        assert bpcli.hessian("relu(x) * x", x=x).matrix.tolist() == [[expected]]


class TestCommandLine:
    def test_table_has_labelled_rows_and_columns(self):
        result = run_cli("hessian", "x**2 * y + exp(x*y)", "-x", "1", "-y", "2")
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == "Hessian of f = 9.389: ∂²f/∂row ∂column"
        header = next(line for line in lines if "x" in line and "y" in line and "┃" in line)
        assert header.split("┃")[2:4] == ["     x ", "     y "]
        assert any(line.startswith("│ x │ 33.56 │ 24.17 │") for line in lines)
        assert any(line.startswith("│ y │ 24.17 │ 7.389 │") for line in lines)
        assert "Built from 2 backward passes through the gradient" in result.stdout

    def test_json_document(self):
        doc = run_json("hessian", "x**2 * y + exp(x*y)", "-x", "1", "-y", "2")
        expected_keys = ["schema", "expression", "output", "value", "mode", "variables", "elements", "inputs",
                         "shapes", "gradients", "hessian", "vector", "hvp", "passes", "warnings"]
        assert list(doc) == expected_keys
        assert (doc["schema"], doc["mode"], doc["variables"], doc["vector"], doc["hvp"]) == (
            "bpcli.hessian/1", "matrix", ["x", "y"], None, None)
        np.testing.assert_allclose(doc["hessian"], bpcli.hessian("x**2 * y + exp(x*y)", x=1, y=2).matrix, rtol=0)

    def test_wrt_picks_and_orders_the_variables(self):
        doc = run_json("hessian", "x**2 * y + y**3 * z", "-x", "1", "-y", "2", "-z", "3", "--wrt", "z,y")
        assert doc["variables"] == ["z", "y"]
        assert doc["hessian"] == [[0.0, 12.0], [12.0, 36.0]]  # d2/dz dy = 3y**2, d2/dy2 = 6yz

    def test_vector_forms(self):
        flat = run_json("hessian", "x**2 * y", "-x", "1", "-y", "2", "--vector", "[1, 0]")
        named = run_json("hessian", "x**2 * y", "-x", "1", "-y", "2", "--vector", "x=1")
        assert flat["hvp"] == named["hvp"] == {"x": 4.0, "y": 2.0}
        assert (flat["mode"], flat["hessian"], flat["elements"], flat["vector"]) == ("hvp", None, None, {"x": 1.0, "y": 0.0})
        both = run_json("hessian", "x**2 * y", "-x", "1", "-y", "2", "--vector", "x=1", "--vector", "y=1")
        assert both["hvp"] == {"x": 6.0, "y": 2.0}

    def test_arrays_from_the_command_line(self):
        doc = run_json("hessian", "sum(x**3)", "-x", "[1, 2]", "--vector", "x=ones:2")
        assert doc["hvp"] == {"x": [6.0, 12.0]} and doc["shapes"] == {"x": [2]}
        table = run_cli("hessian", "sum(x**3)", "-x", "[1, 2]")
        assert "x[0]" in table.stdout and "x[1]" in table.stdout
        assert "Over x (2,): 2 elements, each array flattened row by row." in table.stdout

    @pytest.mark.parametrize("args, message", [
        (("x * [1, 2]", "-x", "1"), "the Hessian is of a number"),
        (("x * y", "-x", "1", "-y", "2", "--wrt", "q"), "q is not a variable"),
        (("x * y", "-x", "1", "-y", "2", "--vector", "[1, 2, 3]"), "the vector has 3 elements"),
        (("x * y", "-x", "1", "-y", "2", "--vector", "z=1"), "the vector names z"),
        (("x * y", "-x", "1", "-y", "2", "--vector", "x=1", "--vector", "[1]"), "not a mix"),
        (("x * y", "-x", "1", "-y", "2", "--max-entries", "3"), "the limit is 3"),
        (("x * y", "-x", "1"), "unbound variable: y"),
    ])
    def test_bad_input_is_one_message_and_exit_2(self, args, message):
        result = run_cli("hessian", *args)
        assert result.exit_code == 2
        assert result.stderr.startswith("bpcli: error: ") and message in result.stderr
        assert "Traceback" not in result.stderr

    def test_the_real_executable(self):
        done = run_process("hessian", "x**2 * y + exp(x*y)", "-x", "1", "-y", "2", "--json")
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        assert doc["schema"] == "bpcli.hessian/1" and doc["hessian"][0][1] == doc["hessian"][1][0]

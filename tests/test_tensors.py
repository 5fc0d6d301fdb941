"""Tensors: matmul, broadcasting, reductions, upstream gradients, Jacobians, values from files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import bpcli
from bpcli.engine.errors import BpcliError
from bpcli.analyses.jacobian import jacobian
from helpers import run_cli, run_json

RNG = np.random.default_rng(1234)


def numeric_vjp(expression: str, point: dict, upstream, h: float = 1e-6) -> dict:
    """d/dinput of sum(upstream * f(inputs)), element by element, by centred differences."""
    def loss(values):
        value = bpcli.grad(expression, values, upstream=_ones_like(upstream)).value
        return float(np.sum(np.asarray(upstream) * np.asarray(value)))

    gradients = {}
    for name, value in point.items():
        value = np.asarray(value, dtype=float)
        gradient = np.zeros_like(value)
        for index in np.ndindex(*value.shape):
            step = h * max(1.0, abs(value[index]))
            plus, minus = value.copy(), value.copy()
            plus[index] += step
            minus[index] -= step
            gradient[index] = (loss({**point, name: plus}) - loss({**point, name: minus})) / (2 * step)
        gradients[name] = gradient
    return gradients


def _ones_like(upstream):
    return None if np.ndim(upstream) == 0 else "ones"


class TestMatmul:
    @pytest.mark.parametrize("w_shape, x_shape", [((5, 10), (10, 3)), ((3,), (3, 4)), ((4, 3), (3,)), ((6,), (6,)), ((1, 1), (1, 1))])
    def test_gradients_are_the_closed_forms(self, w_shape, x_shape):
        W, X = RNG.standard_normal(w_shape), RNG.standard_normal(x_shape)
        D = W @ X
        dD = RNG.standard_normal(np.shape(D))
        r = bpcli.grad("D = W @ X", W=W, X=X, upstream=dD if np.ndim(D) else float(dD))
        if W.ndim == 2 and X.ndim == 2:
            expected_dW, expected_dX = dD @ X.T, W.T @ dD
        elif W.ndim == 1 and X.ndim == 2:
            expected_dW, expected_dX = X @ dD, np.outer(W, dD)
        elif W.ndim == 2 and X.ndim == 1:
            expected_dW, expected_dX = np.outer(dD, X), W.T @ dD
        else:
            expected_dW, expected_dX = dD * X, dD * W
        np.testing.assert_allclose(r.gradients["W"], expected_dW, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(r.gradients["X"], expected_dX, rtol=1e-12, atol=1e-12)
        assert np.shape(r.gradients["W"]) == w_shape and np.shape(r.gradients["X"]) == x_shape

    def test_the_notes_example_from_the_command_line(self):
        doc = run_json("grad", "D = W @ X", "-W", "randn:5,10", "-X", "randn:10,3", "--upstream", "randn:5,3", "--seed", "0")
        W, X = np.array(doc["inputs"]["W"]), np.array(doc["inputs"]["X"])
        (stage,) = doc["stages"]
        dD = np.array(stage["upstream"])
        assert doc["shapes"] == {"W": [5, 10], "X": [10, 3], "D": [5, 3]}
        assert stage["shape"] == [5, 3]
        assert stage["local_formula"] == ["dD @ X.T", "W.T @ dD"]
        assert stage["local"] == [None, None]
        np.testing.assert_allclose(doc["gradients"]["W"], dD @ X.T, rtol=1e-12)
        np.testing.assert_allclose(doc["gradients"]["X"], W.T @ dD, rtol=1e-12)

    def test_the_seed_makes_random_values_reproducible(self):
        args = ("grad", "sum(W @ X)", "-W", "randn:2,3", "-X", "rand:3,2")
        assert run_json(*args)["inputs"] == run_json(*args, "--seed", "0")["inputs"]
        assert run_json(*args)["inputs"] != run_json(*args, "--seed", "1")["inputs"]

    def test_dot_is_matmul(self):
        r = bpcli.grad("dot(a, b)", a=[1, 2, 3], b=[4, 5, 6])
        assert r.value == 32.0
        np.testing.assert_array_equal(r.gradients["a"], [4, 5, 6])


class TestReluExample:
    """The notes' ReLU on x=(1,-2,3,-1) with upstream (4,-1,5,9)."""

    def test_vector_jacobian_product(self):
        doc = run_json("grad", "relu(x)", "-x", "[1,-2,3,-1]", "--upstream", "[4,-1,5,9]")
        assert doc["gradients"]["x"] == [4.0, 0.0, 5.0, 0.0]
        assert doc["value"] == [1.0, 0.0, 3.0, 0.0]

    def test_jacobian(self):
        result = run_cli("jacobian", "relu(x)", "-x", "[1,-2,3,-1]", "--json")
        doc = json.loads(result.stdout)
        expected = np.diag([1.0, 0.0, 1.0, 0.0])
        assert doc["jacobians"]["x"] == expected.tolist()
        assert doc["passes"] == 4
        assert doc["layout"] == "outputs-first"

    def test_jacobian_times_upstream_is_the_downstream(self):
        J = jacobian("relu(x)", x=[1, -2, 3, -1]).matrix("x")
        np.testing.assert_array_equal(J @ np.array([4, -1, 5, 9]), [4, 0, 5, 0])

    def test_table_says_how_many_passes(self):
        result = run_cli("jacobian", "relu(x)", "-x", "[1,-2,3,-1]")
        assert result.exit_code == 0
        assert "Built from 4 vector-Jacobian products" in result.stdout
        assert "x[2]" in result.stdout and "f[3]" in result.stdout


class TestJacobian:
    def test_rows_are_outputs_and_layout_transposes(self):
        W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        outputs_first = jacobian("W @ x", W=W, x=[1, 1, 1])
        np.testing.assert_array_equal(outputs_first.matrix("x"), W)  # d(Wx)/dx = W: 2 rows, 3 columns
        inputs_first = jacobian("W @ x", W=W, x=[1, 1, 1], layout="inputs-first")
        np.testing.assert_array_equal(inputs_first.matrix("x"), W.T)
        assert outputs_first.passes == 2

    def test_matches_finite_differences(self):
        x = RNG.standard_normal(3)
        J = jacobian("tanh(x) * sum(x**2)", x=x).matrix("x")
        for j in range(3):
            h = 1e-6
            e = np.eye(3)[j] * h
            f = lambda v: np.tanh(v) * np.sum(v**2)  # noqa: E731
            np.testing.assert_allclose(J[:, j], (f(x + e) - f(x - e)) / (2 * h), rtol=1e-6, atol=1e-9)

    def test_scalar_output_gives_the_gradient_row(self):
        r = jacobian("sum(x**2)", x=[1, 2, 3])
        np.testing.assert_array_equal(r.matrix("x"), [[2, 4, 6]])

    @pytest.mark.parametrize("layout", ["outputs-first", "inputs-first"])
    def test_an_output_with_no_elements_has_a_jacobian_with_no_rows(self, layout):
        """x[:0] has no element: its Jacobian is 0 × 2 (2 × 0 inputs-first), as numpy's, not exit 3."""
        r = jacobian("x[:0] * 2", x=[1.0, 2.0], layout=layout)
        expected = np.zeros((0, 2))
        np.testing.assert_array_equal(r.matrix("x"), expected if layout == "outputs-first" else expected.T)
        assert r.rows("x") == r.matrix("x").tolist() and r.passes == 0
        for args in ([], ["--json"]):
            result = run_cli("jacobian", "x[:0] * 2", "-x", "[1,2]", "--layout", layout, *args)
            assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["jacobians"]["x"] == r.matrix("x").tolist()

    def test_too_large_a_jacobian_is_refused(self):
        result = run_cli("jacobian", "x * 2", "-x", "zeros:2000", "--max-entries", "1000")
        assert result.exit_code == 2
        assert "4,000,000 entries; the limit is 1,000" in result.stderr

    def test_unknown_layout(self):
        result = run_cli("jacobian", "x", "-x", "1", "--layout", "sideways")
        assert result.exit_code == 2
        assert "layout is outputs-first or inputs-first" in result.stderr


class TestBroadcasting:
    def test_batchnorm_scale_and_shift(self):
        """out = x_hat * g + b: db and dg are the upstream summed over the broadcast axes."""
        x_hat = RNG.standard_normal((2, 3, 4))
        g, b = RNG.standard_normal((3, 1)), RNG.standard_normal(4)
        dout = RNG.standard_normal((2, 3, 4))
        r = bpcli.grad("x_hat * g + b", x_hat=x_hat, g=g, b=b, upstream=dout)
        np.testing.assert_allclose(r.gradients["b"], dout.sum(axis=(0, 1)), rtol=1e-12)
        np.testing.assert_allclose(r.gradients["g"], (dout * x_hat).sum(axis=(0, 2))[:, None], rtol=1e-12)
        np.testing.assert_allclose(r.gradients["x_hat"], dout * g, rtol=1e-12)
        shift = next(s for s in r.stages if s.op == "add")
        assert shift.summed == (False, True)

    @pytest.mark.parametrize("b_shape", [(1, 4), (3, 1), (), (4,)])
    def test_row_column_and_scalar_broadcasting(self, b_shape):
        a = RNG.standard_normal((3, 4))
        b = RNG.standard_normal(b_shape) if b_shape else 0.5
        u = RNG.standard_normal((3, 4))
        r = bpcli.grad("a * b", a=a, b=b, upstream=u)
        full = u * a
        expected = full.sum() if b_shape == () else full.sum(axis=tuple(
            i for i in range(2) if len(b_shape) < 2 - i or (len(b_shape) == 2 and b_shape[i] == 1)
        ), keepdims=len(b_shape) == 2).reshape(b_shape)
        np.testing.assert_allclose(r.gradients["b"], expected, rtol=1e-12)
        assert np.shape(r.gradients["b"]) == b_shape

    def test_the_command_line_batchnorm_example(self, tmp_path):
        np.save(tmp_path / "xhat.npy", np.arange(12.0).reshape(3, 4) / 10)
        doc = run_json("grad", "sum(x_hat * g + b)", "-x_hat", f"@{tmp_path / 'xhat.npy'}",
                       "-g", "[[1],[2],[3]]", "-b", "[0.5,0.5,0.5,0.5]")
        assert doc["gradients"]["b"] == [3.0, 3.0, 3.0, 3.0]
        x_hat = np.arange(12.0).reshape(3, 4) / 10
        np.testing.assert_allclose(doc["gradients"]["g"], x_hat.sum(axis=1, keepdims=True))


class TestReductions:
    def test_sum_and_mean_with_axes(self):
        x = RNG.standard_normal((2, 3))
        u = RNG.standard_normal(3)
        r = bpcli.grad("sum(x, axis=0)", x=x, upstream=u)
        np.testing.assert_allclose(r.gradients["x"], np.broadcast_to(u, (2, 3)))
        r = bpcli.grad("mean(x, axis=-1)", x=x, upstream=[1.0, 2.0])
        np.testing.assert_allclose(r.gradients["x"], [[1 / 3] * 3, [2 / 3] * 3])
        r = bpcli.grad("sum(x, axis=(0, 1))", x=x)
        np.testing.assert_allclose(r.gradients["x"], np.ones((2, 3)))

    def test_max_reduction_routes_to_the_largest(self):
        r = bpcli.grad("max(x)", x=[1, 5, 3])
        np.testing.assert_array_equal(r.gradients["x"], [0, 1, 0])
        assert r.warnings == []

    def test_max_reduction_splits_ties_evenly_with_a_warning(self):
        r = bpcli.grad("max(x)", x=[5, 1, 5])
        np.testing.assert_array_equal(r.gradients["x"], [0.5, 0, 0.5])
        assert [w.kind for w in r.warnings] == ["kink"]
        assert "tie" in r.warnings[0].message

    def test_min_reduction_along_an_axis(self):
        r = bpcli.grad("min(x, axis=1)", x=[[3, 1], [2, 2]], upstream=[10, 20])
        np.testing.assert_array_equal(r.gradients["x"], [[0, 10], [10, 10]])

    def test_transpose(self):
        x = RNG.standard_normal((2, 3))
        u = RNG.standard_normal((3, 2))
        r = bpcli.grad("x.T", x=x, upstream=u)
        np.testing.assert_array_equal(r.gradients["x"], u.T)

    def test_array_literals_are_constants(self):
        r = bpcli.grad("sum([[1, 2], [3, 4]] @ x)", x=[1, -1])
        assert r.value == -2.0
        np.testing.assert_array_equal(r.gradients["x"], [4, 6])

    def test_scalar_reductions_are_the_identity(self):
        assert bpcli.grad("sum(x) * mean(x)", x=3).gradients == {"x": 6.0}


SHAPES = [(3,), (2, 3), (3, 1), (1, 3)]
ELEMENTWISE = ["{a} * {b}", "{a} + {b}", "{a} - {b}", "tanh({a}) * {b}", "sigmoid({a} * {b})", "exp({a}) / (1 + {b}**2)"]
REDUCTIONS = ["sum({e})", "mean({e})", "sum({e}, axis=0)", "mean({e}, axis=-1)"]


@st.composite
def tensor_cases(draw):
    a_shape = draw(st.sampled_from(SHAPES))
    b_shape = draw(st.sampled_from([s for s in SHAPES if _broadcastable(a_shape, s)] + [()]))
    body = draw(st.sampled_from(ELEMENTWISE)).format(a="a", b="b")
    kind = draw(st.sampled_from(["plain", "reduce", "matmul"]))
    if kind == "reduce":
        body = draw(st.sampled_from(REDUCTIONS)).format(e=body)
    elif kind == "matmul":
        body = f"({body}) @ c"
    seed = draw(st.integers(0, 10_000))
    return a_shape, b_shape, body, seed


def _broadcastable(a, b):
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


@pytest.mark.slow
@given(tensor_cases())
def test_vector_jacobian_products_match_centred_differences(case):
    a_shape, b_shape, expression, seed = case
    rng = np.random.default_rng(seed)
    point = {"a": rng.uniform(-1.5, 1.5, a_shape), "b": rng.uniform(-1.5, 1.5, b_shape) if b_shape else 0.7}
    out_shape = np.broadcast_shapes(a_shape, b_shape)
    if "@ c" in expression:
        point["c"] = rng.uniform(-1.5, 1.5, (out_shape[-1], 2))
    try:
        probe = bpcli.grad(expression, point, upstream="ones")
    except BpcliError:
        assume(False)  # a shape mismatch the generator did not foresee (e.g. a reduced axis)
    upstream = rng.standard_normal(np.shape(probe.value)) if np.ndim(probe.value) else 1.0
    analytic = bpcli.grad(expression, point, upstream=upstream if np.ndim(upstream) else None).gradients
    numeric = numeric_vjp(expression, point, upstream)
    for name in point:
        a, n = np.asarray(analytic[name]), numeric[name]
        assert np.all(np.abs(a - n) <= 1e-6 * (np.abs(a) + np.abs(n)) + 1e-8), (expression, name, a, n)


class TestBadInput:
    @pytest.mark.parametrize(
        "args, fragment",
        [
            (["W @ X", "-W", "zeros:5,10", "-X", "zeros:3,10"],
             "W @ X: (5, 10) @ (3, 10) — inner dimensions 10 and 3 differ"),
            (["x + y", "-x", "zeros:3", "-y", "zeros:4"], "(3,) and (4,) do not broadcast"),
            (["sum(x, axis=2)", "-x", "zeros:3,4"], "axis 2 is out of range"),
            (["x @ y", "-x", "2", "-y", "3"], "@ needs vectors or matrices"),
            (["x * 2", "-x", "[1, [2]]"], "not a rectangular array"),
            (["x * 2", "-x", "[1, \"a\"]"], "not a number"),
            (["x * 2", "-x", "[1, 2"], "not a valid JSON array"),
            (["x * 2", "-x", "randn:0,3"], "at least 1"),
            (["x * 2", "-x", "randn:a"], "whole numbers separated by commas"),
            (["x * 2", "-x", "randn:100000,100000"], "10,000,000,000 elements; the limit is"),
            (["x * 2", "-x", "@missing.npy"], "cannot read missing.npy"),
            (["x * 2", "-x", "@data.txt"], "reads .json, .csv and .npy"),
            (["sum(x, axis=1.5)", "-x", "zeros:2,2"], "sizes and axes as integers, as numpy does: 1.5 is a float"),
            (["sum(x, axis=x.ndim - 1)", "-x", "zeros:2,2"], "axis is a whole number"),
            (["sum(x, axes=1)", "-x", "zeros:2,2"], "no keyword argument 'axes'"),
            (["[x, 1]", "-x", "1"], "an array literal holds numbers only"),
        ],
    )
    def test_exit_2_with_a_clear_message(self, args, fragment):
        result = run_cli("grad", *args)
        assert result.exit_code == 2, result.stdout
        assert fragment in result.stderr, result.stderr
        assert "Traceback" not in result.stderr

    def test_shape_errors_point_at_the_subexpression(self):
        result = run_cli("grad", "sum(W @ X)", "-W", "zeros:5,10", "-X", "zeros:3,10")
        assert "  sum(W @ X)\n      ^^^^^\n" in result.stderr

    def test_non_scalar_output_needs_an_upstream_gradient(self):
        result = run_cli("grad", "x * 2", "-x", "[1, 2]")
        assert result.exit_code == 2
        assert "--upstream ones" in result.stderr and "sum(...)" in result.stderr
        assert run_json("grad", "x * 2", "-x", "[1, 2]", "--upstream", "ones")["gradients"]["x"] == [2.0, 2.0]

    def test_upstream_of_the_wrong_shape(self):
        result = run_cli("grad", "x * 2", "-x", "[1, 2]", "--upstream", "[1, 2, 3]")
        assert result.exit_code == 2
        assert "has shape (3,) but the output f has shape (2,)" in result.stderr

    def test_a_pickle_in_an_npy_file_is_refused(self, tmp_path):
        path = tmp_path / "objects.npy"
        np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
        result = run_cli("grad", "x * 2", "-x", f"@{path}")
        assert result.exit_code == 2
        assert "bpcli never loads pickles" in result.stderr

    def test_non_numeric_csv_names_the_row(self, tmp_path):
        path = tmp_path / "data.csv"
        path.write_text("1,2\n3,oops\n")
        result = run_cli("grad", "sum(x)", "-x", f"@{path}")
        assert result.exit_code == 2
        assert "row 2: 'oops' is not a number" in result.stderr

    def test_a_damaged_npy_file(self, tmp_path):
        path = tmp_path / "broken.npy"
        path.write_bytes(b"\x93NUMPY garbage")
        result = run_cli("grad", "sum(x)", "-x", f"@{path}")
        assert result.exit_code == 2
        assert "not a readable .npy file" in result.stderr

    @pytest.mark.parametrize("content", [bytes(range(7, 71)), b"garbage\n", b"1,2,3\n"], ids=["random", "text", "csv"])
    def test_a_file_named_npy_that_is_not_one_is_not_called_a_pickle(self, tmp_path, content):
        # numpy takes any file without the .npy signature for a pickle
        path = tmp_path / "x.npy"
        path.write_bytes(content)
        for args in (["-x", f"@{path}"], ["--points", str(path)]):
            result = run_cli("grad", "sum(x)", *args)
            assert result.exit_code == 2
            assert result.stderr == (
                f"bpcli: error: {path} is not a readable .npy file (it does not start with the .npy signature \\x93NUMPY)\n"
            )

    def test_a_structured_npy_with_an_object_column_is_a_pickle(self, tmp_path):
        path = tmp_path / "points.npy"
        table = np.array([(1.0, None)], dtype=[("x", "f8"), ("y", "O")])
        np.save(path, table, allow_pickle=True)
        result = run_cli("grad", "x * y", "--points", str(path))
        assert result.exit_code == 2
        assert result.stderr == f"bpcli: error: {path} holds Python objects (a pickle); bpcli never loads pickles\n"

    @pytest.mark.parametrize(
        "content, where",
        [("[[1, 2],\n [3, 4]\n", "Expecting ',' delimiter at line 3, column 1"),
         ("[1, 2", "Expecting ',' delimiter at character 5"), ("", "Expecting value at character 0")],
    )
    def test_a_malformed_json_file(self, tmp_path, content, where):
        path = tmp_path / "w.json"
        path.write_text(content)
        result = run_cli("grad", "sum(x)", "-x", f"@{path}")
        assert result.exit_code == 2
        assert result.stderr == f"bpcli: error: the value of x is not a valid JSON file {path}: {where}\n"


class TestValueFiles:
    def test_csv_with_a_header_row_is_read_with_a_note(self, tmp_path):
        path = tmp_path / "data.csv"
        path.write_text("a,b\n1,2\n3,4\n")
        result = run_cli("grad", "sum(x)", "-x", f"@{path}", "--json")
        assert result.exit_code == 0
        assert json.loads(result.stdout)["inputs"]["x"] == [[1.0, 2.0], [3.0, 4.0]]
        assert "first row is not numeric and is taken as a header" in result.stderr

    def test_json_file_and_single_column_csv(self, tmp_path):
        (tmp_path / "w.json").write_text("[[1, 2], [3, 4]]")
        (tmp_path / "v.csv").write_text("1\n2\n")
        doc = run_json("grad", "sum(W @ v)", "-W", f"@{tmp_path / 'w.json'}", "-v", f"@{tmp_path / 'v.csv'}")
        assert doc["shapes"]["v"] == [2]
        assert doc["value"] == 16.0

    def test_npy_integers_are_promoted_to_float64(self, tmp_path):
        np.save(tmp_path / "i.npy", np.array([1, 2, 3], dtype=np.int32))
        doc = run_json("grad", "sum(x * x)", "-x", f"@{tmp_path / 'i.npy'}")
        assert doc["gradients"]["x"] == [2.0, 4.0, 6.0]


class TestTensorViews:
    def test_table_shows_shapes_and_previews(self):
        result = run_cli("grad", "D = W @ X", "-W", "randn:5,10", "-X", "randn:10,3", "--upstream", "randn:5,3")
        assert result.exit_code == 0
        out = result.stdout
        assert "(5, 3)" in out and "(5, 10)" in out
        assert "dW = dD @ X.T" in out and "dX = W.T @ dD" in out
        assert "..." in out  # 15 values are previewed (summarised as numpy does), not listed

    def test_full_prints_whole_arrays(self):
        result = run_cli("grad", "x * 2", "-x", "ones:10", "--upstream", "ones", "--full")
        assert result.stdout.count("2, 2, 2, 2, 2, 2, 2, 2, 2, 2") >= 1

    def test_broadcast_sum_is_named_in_the_table(self):
        result = run_cli("grad", "sum(x * b)", "-x", "ones:2,3", "-b", "[1, 2, 3]")
        assert "(summed over" in result.stdout  # the cell may wrap the note

    def test_precision_applies_to_arrays(self):
        result = run_cli("grad", "x / 3", "-x", "[1, 2]", "--upstream", "ones", "--precision", "2")
        assert "[0.33, 0.67]" in result.stdout


def test_a_gradient_that_goes_non_finite_on_arrays_is_reported():
    # (-2)**2 is fine, but its gradient with respect to the exponent, 4 * log(-2), is nan.
    r = bpcli.grad("sum(x**y)", x=[-2.0, 2.0], y=[2.0, 2.0])
    assert np.isnan(r.gradients["y"][0]) and np.isfinite(r.gradients["y"][1])
    assert [(w.stage, w.kind) for w in r.warnings] == [("t1", "nonfinite-gradient")]
    assert "the gradient through it is nan" in r.warnings[0].message

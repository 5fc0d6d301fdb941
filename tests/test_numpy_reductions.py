"""numpy's reductions and shapes as numbers (issue 16): np.sum(x, 1), keepdims, ddof, x.sum(axis=1),
x.shape[0], N, D = x.shape; values against numpy running the same text, gradients against centred
differences, and the assignment's softmax loss as written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import run_cli, run_json
from numpy_oracle import SOFTMAX, assert_like_numpy, numpy_gradient, numpy_run

import bpcli

RNG = np.random.default_rng(1616)
X = RNG.normal(size=(4, 3))
T = RNG.normal(size=(2, 3, 2))

PROGRAMS = [
    ("np.sum(np.sum(x, 1) * np.max(x, 0).sum())", {"x": X}),
    ("np.sum(np.max(x, axis=1, keepdims=True) * x)", {"x": X}),
    ("np.sum(np.min(x, -1, keepdims=True) - x.mean(axis=0, keepdims=True))", {"x": X}),
    ("np.sum(np.sum(t, axis=(0, 2), keepdims=True) * t)", {"t": T}),
    ("np.sum(t.sum((0, 1)) ** 2) + t.max() * t.min()", {"t": T}),
    ("np.sum(x.sum(keepdims=True) * x)", {"x": X}),
    ("np.sum(x.var(axis=0)) + np.sum(np.var(x, 1, ddof=1))", {"x": X}),
    ("np.sum(x.std(axis=0, keepdims=True) * x) + np.std(x, ddof=1)", {"x": X}),
    ("np.var(t, axis=(0, 2)).sum()", {"t": T}),
    ("N, D = x.shape; loss = np.sum(x ** 2) / N + D * x.size / x.ndim", {"x": X}),
    ("N = len(x); f = np.sum(x[np.arange(N // 2)]) * (N % 3)", {"x": X}),
    ("m = np.mean(x, axis=0); v = np.var(x, axis=0); xn = (x - m) / np.sqrt(v + 1e-5); loss = np.sum(xn * x)",
     {"x": X}),
]


@pytest.mark.parametrize("text, values", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_values_are_numpys_and_gradients_are_centred_differences(text, values):
    assert_like_numpy(text, values)


class TestTheAssignmentsSoftmaxLoss:
    X = RNG.normal(size=(5, 3))
    Y = [0, 2, 1, 1, 0]

    def closed_form(self) -> np.ndarray:
        probs = np.exp(self.X - self.X.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        probs[np.arange(5), self.Y] -= 1
        return probs / 5

    def test_from_a_file_as_written_y_an_index_input(self, tmp_path):
        path = tmp_path / "softmax.py"
        path.write_text(SOFTMAX)
        doc = run_json("grad", "--file", str(path), "-x", json.dumps(self.X.tolist()), "-y", json.dumps(self.Y))
        assert np.isclose(doc["value"], numpy_run(SOFTMAX, {"x": self.X, "y": self.Y}), rtol=1e-13)
        assert np.allclose(doc["gradients"]["x"], self.closed_form(), rtol=1e-12, atol=1e-15)
        assert doc["constants"] == ["y"] and "y" not in doc["gradients"]

    def test_every_command_runs_on_it(self, tmp_path):
        path = tmp_path / "softmax.py"
        path.write_text(SOFTMAX)
        values = ["-x", json.dumps(self.X.tolist()), "-y", json.dumps(self.Y)]
        for command in (["grad", "--explain"], ["graph"], ["graph", "--format", "mermaid"], ["code"],
                        ["gradcheck"], ["jacobian"]):
            result = run_cli(*command, "--file", str(path), *values)
            assert result.exit_code == 0, (command, result.stderr)
        expect = ["--expect", "dx=" + json.dumps(np.round(self.closed_form(), 4).tolist())]  # as a student types it
        assert run_cli("check", "--file", str(path), *values, *expect).exit_code == 0

    def test_the_staged_code_computes_the_same_gradient(self, tmp_path):
        path = tmp_path / "softmax.py"
        path.write_text(SOFTMAX)
        code = run_cli("code", "--file", str(path), "-x", json.dumps(self.X.tolist()), "-y", json.dumps(self.Y))
        namespace: dict = {}
        exec(code.stdout.split('if __name__ == "__main__":')[0], namespace)  # noqa: S102 - bpcli's own output
        _, gradients = namespace["backprop"](x=self.X, y=np.array(self.Y))
        assert np.allclose(gradients["x"], self.closed_form(), rtol=1e-12, atol=1e-15)


def test_bpclis_own_max_of_two_stays_elementwise_and_np_max_of_two_reduces():
    assert bpcli.grad("np.sum(max(a, b))", a=[1.0, 5.0], b=[3.0, 2.0]).value == 8.0
    assert bpcli.grad("np.sum(np.max(x, 1))", x=[[1.0, 5.0], [3.0, 2.0]]).value == 8.0
    assert bpcli.grad("np.sum(np.max(x, 0))", x=[[1.0, 5.0], [3.0, 2.0]]).value == 8.0


@pytest.mark.parametrize("text, message", [
    ("np.sum(x, y)", "numpy reads a second argument as an axis"),
    ("np.sum(x, 1.5)", "numpy reads a second argument as an axis"),
    ("np.sum(x, axis=2)", "axis 2 is out of range"),
    ("np.sum(x, keepdims=1)", "keepdims is True or False"),
    ("np.exp(x, keepdims=True)", "has no keyword argument 'keepdims'"),
    ("N, D, K = x.shape; f = np.sum(x) * N", "3 names for the 2 axes"),
    ("f = x.shape * 2", "x.shape is a tuple of numbers"),
    ("N = x.shape[2]; f = np.sum(x) * N", "axis 2 is out of range"),
    ("f = np.sum(x[np.arange(np.sum(x))])", "np.arange takes one to three whole numbers"),
])
def test_refused_reductions_and_shapes_are_bad_input(text, message):
    result = run_cli("grad", text, "-x", "[[1, 2], [3, 4]]", "-y", "2")
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr
    assert "^" in result.stderr


def test_jacobian_and_hessian_leave_index_inputs_out_and_the_hessian_is_the_closed_form(tmp_path):
    x = RNG.normal(size=(2, 3))
    y = [2, 0]
    path = tmp_path / "softmax.py"
    path.write_text(SOFTMAX)
    values = ["--file", str(path), "-x", json.dumps(x.tolist()), "-y", json.dumps(y)]
    assert list(run_json("jacobian", *values)["jacobians"]) == ["x"]
    doc = run_json("hessian", *values)
    assert doc["variables"] == ["x"]
    probs = np.exp(x - x.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    expected = np.zeros((6, 6))
    for row in range(2):
        block = (np.diag(probs[row]) - np.outer(probs[row], probs[row])) / 2
        expected[3 * row:3 * row + 3, 3 * row:3 * row + 3] = block
    assert np.allclose(doc["hessian"], expected, rtol=1e-10, atol=1e-14)


def test_prod_is_differentiated_exactly_where_elements_are_zero():
    x = np.array([[1.0, 2.0, 0.0], [3.0, 0.0, 0.0], [2.0, -1.0, 4.0]])
    w = np.array([1.0, 2.0, 3.0])
    result = bpcli.grad("np.sum(np.prod(x, axis=1) * w) + x.prod()", x=x, w=w)
    expected = np.array([[w[i] * np.prod(np.delete(x[i], j)) for j in range(3)] for i in range(3)])
    expected += np.array([[np.prod(np.delete(x.ravel(), 3 * i + j)) for j in range(3)] for i in range(3)])
    assert result.value == float(np.sum(np.prod(x, axis=1) * w) + x.prod())
    assert np.array_equal(result.gradients["x"], expected)
    assert result.gradients["w"].tolist() == np.prod(x, axis=1).tolist()


def test_the_second_derivative_of_prod_is_the_product_of_the_others_exact_at_zero_and_the_third_is_refused():
    x = [1.0, 2.0, 0.0, 3.0]
    doc = run_json("hessian", "np.prod(x)", "-x", json.dumps(x))
    # d2/dxi dxj prod(x) = the product of the elements other than i and j (0 on the diagonal)
    expected = [[0.0 if i == j else float(np.prod(np.delete(x, [i, j]))) for j in range(4)] for i in range(4)]
    assert doc["hessian"] == expected
    result = run_cli("grad", "np.prod(x * x)", "-x", "2", "--order", "3")
    assert result.exit_code == 2 and "the third derivative of prod is not supported" in result.stderr


@pytest.mark.parametrize("text", [
    "np.linalg.norm(x)",
    "np.sum(np.linalg.norm(x, axis=1) * np.arange(4))",
    "np.sum(x / np.linalg.norm(x, axis=0, keepdims=True))",
])
def test_norm_against_numpy_and_centred_differences(text):
    result = bpcli.grad(text, x=X)
    assert np.isclose(result.value, numpy_run(text, {"x": X}), rtol=1e-13)
    assert np.allclose(result.gradients["x"], numpy_gradient(text, {"x": X}, "x"), rtol=1e-5, atol=1e-6)

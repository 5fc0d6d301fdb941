"""numpy's shape operations and elementwise functions (issue 16, part of the last slice): reshape
(with -1), flatten, ravel, transpose with axes, np.square, np.power, np.log1p, np.expm1, np.clip;
values against numpy running the same text, gradients against centred differences and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import run_cli
from numpy_oracle import assert_like_numpy, numpy_gradient, numpy_run

import bpcli

RNG = np.random.default_rng(5)
X = RNG.normal(size=(2, 3, 4))
W = RNG.normal(size=(12, 5))
B = RNG.normal(size=5)

PROGRAMS = [
    ("np.sum(x.reshape(x.shape[0], -1).dot(w) + b)", {"x": X, "w": W, "b": B}),
    ("np.sum(np.reshape(x, (4, -1)) ** 2 * np.arange(6))", {"x": X}),
    ("N, H, D = x.shape; f = np.sum(x.reshape((N * H, D)).T @ x.reshape(6, 4))", {"x": X}),
    ("np.sum(x.flatten() * np.ravel(x)[::-1])", {"x": X}),
    ("np.sum(x.transpose(1, 0, 2) * np.transpose(x, (1, 0, 2)) ** 3)", {"x": X}),
    ("np.sum(np.transpose(x, (2, 0, 1))[1] * x.transpose()[1].T)", {"x": X}),
    ("np.sum(np.square(x) + np.power(x, 3) + np.expm1(x))", {"x": X}),
    ("np.sum(np.log1p(np.abs(x)) * np.clip(x, -0.5, 0.7))", {"x": X}),
    ("np.sum(x.clip(-0.5, 0.7) * 2)", {"x": X}),
]


@pytest.mark.parametrize("text, values", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_values_are_numpys_and_gradients_are_centred_differences(text, values):
    assert_like_numpy(text, values)


def test_the_assignments_affine_forward_on_a_2_3_4_input():
    result = bpcli.grad("out = x.reshape(x.shape[0], -1).dot(w) + b", x=X, w=W, b=B, upstream="ones")
    dout = np.ones((2, 5))
    assert np.allclose(result.gradients["x"], (dout @ W.T).reshape(X.shape), rtol=1e-13)
    assert np.allclose(result.gradients["w"], X.reshape(2, -1).T @ dout, rtol=1e-13)
    assert np.allclose(result.gradients["b"], dout.sum(axis=0), rtol=1e-13)


def test_clip_passes_the_gradient_inside_its_bounds_only():
    result = bpcli.grad("np.sum(np.clip(x, lo, hi))", x=[-2.0, 0.5, 3.0], lo=-1.0, hi=1.0)
    assert result.gradients == {"x": pytest.approx([0.0, 1.0, 0.0]), "lo": 1.0, "hi": 1.0}


@pytest.mark.parametrize("text, message", [
    ("np.sum(x.reshape(5, -1))", "cannot reshape a (2, 3, 4) value (24 elements) to (5, -1)"),
    ("np.sum(x.reshape(-1, -1))", "at most one size is -1"),
    ("np.sum(x.transpose(0, 0, 1))", "are not a permutation"),
    ("np.sum(x.reshape(np.sum(x), 2))", "reshape takes whole numbers"),
])
def test_refused_shape_operations_are_bad_input(text, message):
    result = run_cli("grad", text, "-x", "randn:2,3,4")
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr and "^" in result.stderr


@pytest.mark.parametrize("text", [
    "np.sum(x.reshape(x.shape[0], -1).dot(w) + b) + np.sum(np.clip(x, -0.5, 0.5) * x.transpose(0, 1, 2))"
    " + np.sum(x.flatten() ** 2)",
    "np.sum(np.concatenate((x, x * 2), axis=1) ** 2) + np.sum(np.zeros_like(x)) + np.sum(np.expand_dims(x, 0) ** 3)"
    " + np.sum(x.swapaxes(0, 2) ** 2) + np.sum((x > 0).astype(float) * x) + np.sum(np.stack([x, x]) * b[0])"
    " + np.sum(np.eye(2) @ x[:, 0]) + np.sum(np.zeros((2, 3, 4)) * x) + np.sum(x[0][np.arange(3), x[0].argmax(1)])"
    " + np.sum(np.squeeze(x[:, :1]) * w[:2, :4])",
])
def test_the_staged_code_reproduces_the_gradients(text):
    import json

    args = ["-x", json.dumps(X.tolist()), "-w", json.dumps(W.tolist()), "-b", json.dumps(B.tolist())]
    code = run_cli("code", text, *args).stdout
    namespace: dict = {}
    exec(code.split('if __name__ == "__main__":')[0], namespace)  # noqa: S102 - bpcli's own output
    _, gradients = namespace["backprop"](x=X, w=W, b=B)
    expected = bpcli.grad(text, x=X, w=W, b=B).gradients
    for name in expected:
        assert np.allclose(gradients[name], expected[name], rtol=1e-12), name


Y = RNG.normal(size=(3, 4))
Z = RNG.normal(size=(3, 4))
MORE = [
    "np.sum(np.zeros_like(y) + y * np.ones(y.shape)) + np.sum(np.ones_like(y) * z)",
    "np.sum(np.zeros((3, 4)) + np.ones(4) * y) + np.sum(np.eye(3) @ y)",
    "np.sum((y > 0).astype(float) * y) - np.sum(-(z > 0).astype(float) * z)",
    "np.sum(y[np.arange(3), np.argmax(y, axis=1)]) + np.sum(z * y.argmin(1)[:, None])",
    "np.sum(np.expand_dims(y, 0) * np.expand_dims(z, 1))",
    "np.sum(np.squeeze(y[None, :, None]) * z) + np.sum(y[:1].squeeze(0) ** 2)",
    "np.sum(y.swapaxes(0, 1) ** 2 * z.T) + np.sum(np.swapaxes(y, 1, 0) * z.T)",
    "np.sum(np.concatenate((y, z), axis=1) ** 2 * np.arange(8))",
    "np.sum(np.stack([y, z * 2], axis=1) ** 3) + np.sum(np.concatenate([y, z]) ** 2)",
]


@pytest.mark.parametrize("text", MORE)
def test_constructors_and_axis_operations_against_numpy(text):
    import re

    values = {name: value for name, value in {"y": Y, "z": Z}.items() if re.search(rf"\b{name}\b", text)}
    result = bpcli.grad(text, **values)
    assert np.allclose(result.value, numpy_run(text, values), rtol=1e-12, atol=1e-12)
    for name in values:
        assert np.allclose(result.gradients[name], numpy_gradient(text, values, name), rtol=1e-5, atol=1e-6), name


class TestTheAffineBackwardFile:
    FORWARD = "out = x.reshape(x.shape[0], -1).dot(w) + b\nloss = np.sum(out * dout)\n"
    RIGHT = "dx = dout.dot(w.T).reshape(2, 3, 4)\ndw = x.reshape(2, -1).T.dot(dout)\ndb = np.sum(dout, axis=0)\n"

    def check(self, tmp_path, backward: str):
        import json

        (tmp_path / "affine.py").write_text(self.FORWARD)
        (tmp_path / "backward.py").write_text(backward)
        values = ["-x", json.dumps(X.tolist()), "-w", json.dumps(W.tolist()), "-b", json.dumps(B.tolist()),
                  "--dout", json.dumps(RNG.normal(size=(2, 5)).tolist()), "--const", "dout"]
        result = run_cli("check", "--file", str(tmp_path / "affine.py"), "--backward", str(tmp_path / "backward.py"),
                         *values, "--json")
        return result, json.loads(result.stdout)

    def test_the_assignments_affine_backward_passes(self, tmp_path):
        result, doc = self.check(tmp_path, self.RIGHT)
        assert result.exit_code == 0 and doc["passed"]

    def test_a_missing_sum_over_the_batch_for_db_fails_at_that_line(self, tmp_path):
        result, doc = self.check(tmp_path, self.RIGHT.replace("np.sum(dout, axis=0)", "dout"))
        assert result.exit_code == 1
        assert doc["problems"][0]["backward"]["first_wrong_line"] == 3


V3 = RNG.normal(size=3)
V2 = RNG.normal(size=2)
STACKS = [
    "np.sum(np.hstack((y, y * 2)) ** 2 * np.arange(8)) + np.sum(np.hstack([v, u, v]) ** 3)",
    "np.sum(np.vstack((y, y[0])) ** 3) + np.sum(np.vstack([v, v * 2]) ** 2 * np.arange(3))",
    "np.sum(np.full((2, 3), u[0]) * v) + np.sum(np.full(3, 2.0) * v)",
]


@pytest.mark.parametrize("text", STACKS)
def test_hstack_vstack_and_full_against_numpy(text):
    import re

    values = {k: v for k, v in {"y": Y, "v": V3, "u": V2}.items() if re.search(rf"\b{k}\b", text)}
    result = bpcli.grad(text, **values)
    assert np.allclose(result.value, numpy_run(text, values), rtol=1e-12, atol=1e-12)
    for name in values:
        assert np.allclose(result.gradients[name], numpy_gradient(text, values, name), rtol=1e-5, atol=1e-6), name

"""Issue 16, the rest: reading through boolean masks, slice bounds computed from the shapes, full_like,
the second derivative of np.prod, and generated numpy programs over all of it.

The oracle for values is numpy running the same text here, in the test harness; bpcli only parses it.
Gradients are checked against centred differences of numpy's own forward pass.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import run_cli, run_json
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from numpy_oracle import assert_like_numpy, numpy_gradient, numpy_run

import bpcli

RNG = np.random.default_rng(1616)
X = RNG.normal(size=(4, 3))
V = RNG.normal(size=5)

PROGRAMS = [
    ("np.sum(x[x > 0])", {"x": X}),
    ("np.sum(x[x > 0] ** 3)", {"x": X}),
    ("np.sum(x[0, x[0] > 0] * 2)", {"x": X}),
    ("np.sum(x[x[:, 0] > 0, :] ** 2)", {"x": X}),
    ("np.sum(x[:, x[1] < 0] * x[:, x[1] < 0])", {"x": X}),
    ("m = x > 0.2; f = np.sum(x[m] * x[m]) + np.sum(x[~m])", {"x": X}),
    ("np.sum(v[(v > -1) & (v < 1)] ** 2)", {"v": V}),
    ("np.sum(x[x > 100])", {"x": X}),  # the mask picks nothing: the empty sum is 0
    ("N = x.shape[0]; f = np.sum(x[:N - 1] * x[1:])", {"x": X}),
    ("N = x.shape[0]; f = np.sum(x[N // 2:] ** 2) + np.sum(x[:N // 2, ::2])", {"x": X}),
    ("N, D = x.shape; f = np.sum(x[N - 1, :D - 1] * np.arange(D - 1))", {"x": X}),
    ("n = len(v); f = np.sum(v[::n - 3] * v[n % 3])", {"v": V}),
    ("c = x * 1.0; c[x > 0] = x[x > 0] ** 2; f = np.sum(c * 3)", {"x": X}),
    ("c = x * 2.0; c[0, x[0] > 0] = 0; f = np.sum(c * x)", {"x": X}),
    ("c = x * 2.0; c[x[:, 0] > 0, :] = x[0] * 3; f = np.sum(c * x)", {"x": X}),
    ("N = x.shape[0]; c = x * 2.0; c[:N - 1] = 0; c[N - 1:, :2] -= x[:1, 1:]; f = np.sum(c * x)", {"x": X}),
    ("np.sum(np.full_like(x, 2.5) * x) + np.sum(np.zeros_like(x, dtype=float) + x ** 2)", {"x": X}),
]


@pytest.mark.parametrize("text, values", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_values_are_numpys_and_gradients_are_centred_differences(text, values):
    assert_like_numpy(text, values)


def test_the_gradient_of_a_read_through_a_mask_is_a_scatter_add_at_the_picked_places():
    x, w = np.array([[1.0, -2.0], [3.0, -4.0]]), np.array([10.0, 20.0])
    result = bpcli.grad("np.sum(x[x > 0] * w)", x=x, w=w)
    expected = np.zeros((2, 2))
    np.add.at(expected, x > 0, w)
    assert result.gradients["x"].tolist() == expected.tolist() == [[10.0, 0.0], [20.0, 0.0]]
    assert result.gradients["w"].tolist() == [1.0, 3.0]


def test_the_table_shows_the_mask_and_the_picked_elements():
    result = run_cli("grad", "f = np.sum(x[x > 0] ** 2)", "-x", "[1, -2, 3]")
    assert result.exit_code == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "x[t1]" in line)
    assert "(2,)" in row and "[1, 3]" in row and "x ← [2, 0, 6]" in row


@pytest.mark.parametrize("text", [
    "f = np.sum(x[x > 0] ** 3) + np.sum(x[0, x[0] > 0] * x[1, x[0] > 0])",
    "N = x.shape[0]; f = np.sum(x[:N - 1] ** 2 * x[1:])",
    "f = np.prod(x[x > -1]) + np.sum(np.prod(x, axis=1) ** 2)",
])
def test_the_hessian_is_centred_differences_of_the_gradient(text):
    x = np.array([[0.5, -2.0, 1.5], [-0.7, 1.2, 2.0]])
    doc = run_json("hessian", text, "-x", json.dumps(x.tolist()))
    h = 1e-6
    rows = []
    for index in np.ndindex(x.shape):
        moved = [x.copy(), x.copy()]
        moved[0][index] += h
        moved[1][index] -= h
        up, down = (bpcli.grad(text, x=m).gradients["x"] for m in moved)
        rows.append(((up - down) / (2 * h)).ravel())
    assert np.allclose(doc["hessian"], rows, rtol=1e-5, atol=1e-6)


def test_the_staged_code_reproduces_values_and_gradients_masks_and_computed_bounds_included(tmp_path):
    text = "N = x.shape[0]\np = x[x > 0]\nq = x[:N - 1, x[0] < 1]\nloss = np.sum(p ** 2) + np.sum(q * 3)"
    code = run_cli("code", text, "-x", json.dumps(X.tolist()))
    assert code.exit_code == 0, code.stderr
    path = tmp_path / "staged.py"
    path.write_text(code.stdout + "\nimport json\nvalue, grads = backprop(x=np.array(%s))\n"
                    "print(json.dumps([float(value), np.asarray(grads['x']).tolist()]))\n" % json.dumps(X.tolist()))
    ran = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=True)
    value, gradient = json.loads(ran.stdout.splitlines()[-1])
    assert np.isclose(value, numpy_run(text, {"x": X}), rtol=1e-13)
    assert np.allclose(gradient, numpy_gradient(text, {"x": X}, "x"), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("args", [
    ["code", "f = np.sum(x[x > 0])", "-x", "shape:3"],
    ["graph", "f = np.sum(x[x > 0])", "-x", "shape:3"],
    ["grad", "f = np.sum(x[x > 0])", "--symbolic"],
])
def test_without_values_a_read_through_a_mask_is_refused_once_with_the_subscript_underlined(args):
    result = run_cli(*args)
    assert result.exit_code == 2
    assert "x[t1]: it reads through a boolean mask, so it has as many elements as the mask holds True" in result.stderr
    lines = result.stderr.splitlines()
    carets = next(line for line in lines if line.strip() and set(line.strip()) == {"^"})
    source = lines[lines.index(carets) - 1]
    assert carets == " " * source.index("x[x > 0]") + "^" * len("x[x > 0]")
    assert "Traceback" not in result.stderr


def test_a_mask_written_out_is_refused_with_what_to_write_instead():
    result = run_cli("grad", "f = np.sum(x[[True, False, True]])", "-x", "[1, 2, 3]")
    assert result.exit_code == 2
    assert "a mask written out as True and False is not supported: compute it (x > 0)" in result.stderr


def test_an_axis_computed_from_the_shapes_is_refused_with_what_to_write_instead():
    result = run_cli("grad", "f = np.sum(x.sum(axis=x.ndim - 1))", "-x", "[[1, 2]]")
    assert result.exit_code == 2
    assert "one computed from the shapes is not supported (for the last axis, write axis=-1)" in result.stderr


def test_a_slice_bound_that_is_not_fixed_by_the_shapes_is_refused():
    result = run_cli("grad", "f = np.sum(x[:np.sum(x)])", "-x", "[1, 2, 3]")
    assert result.exit_code == 2
    assert "x[:t1]: a slice bound is a whole number, written in the program or fixed by the shapes" in result.stderr


def test_gradcheck_on_the_edge_of_a_mask_is_inconclusive_there_and_says_why():
    result = bpcli.gradcheck("f = np.sum(x[x > 0] ** 3)", x=[0.0, 1.0, -2.0])
    assert result.passed
    assert [check.reading for check in result.checks] == ["inconclusive", "good", "good"]
    assert [warning.message for warning in result.warnings if warning.kind == "mask-within-step"] == [
        "x[0] ± 1e-05 changes how many elements the mask of t2 = x[t1] picks, so the shape changes with the "
        "value and there is no centred difference: the check is inconclusive"]
    # Evaluated away from gradcheck, values that change what the mask picks are bad input, not a wrong shape.
    from bpcli.engine.evaluate import ShapeChanged, evaluate

    graph = bpcli.grad("f = np.sum(x[x > 0] ** 3)", x=[0.0, 1.0, -2.0]).graph
    with pytest.raises(ShapeChanged, match="the mask picks 2 elements here and 1 at the bound values"):
        evaluate(graph, {"x": np.array([1e-5, 1.0, -2.0])})


def test_points_read_through_a_mask_row_by_row(tmp_path):
    (tmp_path / "p.csv").write_text("x\n1\n-2\n3\n")
    result = run_cli("grad", "f = np.sum(x[x > 0] ** 3)", "--points", str(tmp_path / "p.csv"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["x,f,df/dx", "1.0,1.0,3.0", "-2.0,0.0,0.0", "3.0,27.0,27.0"]


@pytest.mark.parametrize("text, message", [
    ("np.sum(np.empty_like(x))", "np.empty_like leaves its values unset"),
    ("np.sum(np.zeros_like(x, dtype=int))", "np.zeros_like takes dtype=float here"),
    ("np.sum(np.full_like(x))", "np.full_like is written np.full_like(x, v)"),
])
def test_like_constructors_refused_with_a_reason(text, message):
    result = run_cli("grad", text, "-x", "[1, 2, 3]")
    assert result.exit_code == 2 and message in result.stderr


def test_full_like_gives_its_value_the_summed_upstream_gradient():
    result = bpcli.grad("np.sum(np.full_like(x, a) * x)", x=[1.0, -2.0, 3.0], a=2.0)
    assert result.value == 4.0
    assert result.gradients["a"] == 2.0 and result.gradients["x"].tolist() == [2.0, 2.0, 2.0]


# ---- generated programs: numpy runs the same text as the oracle -------------------------------

_ELEMENTWISE = ["{a} * {b}", "{a} + {b}", "np.maximum({a}, {b})", "np.where({a} > 0, {a}, {b})", "{a} * ({b} > 0)"]


@st.composite
def numpy_programs(draw: st.DrawFn) -> tuple[str, dict]:
    """A few lines over a (4, 3) x: subscripts, masks, keepdims, reshapes, reassignment and indexed assignment,
    ending in a number."""
    lines = ["N, D = x.shape", "c = x * 1.0"]
    for _ in range(draw(st.integers(1, 4))):
        step = draw(st.sampled_from([
            "c = c[::-1] * {s}",
            "c = c - np.max(c, axis={axis}, keepdims=True)",
            "c = c / (1 + np.sum(c * c, axis={axis}, keepdims=True))",
            "c = c.reshape(D, N).T * {s}",
            "c = c + x[np.arange(N), {col}][:, np.newaxis]",
            "c[{row}] = c[{row}] * {s}",
            "c[np.arange(N), {col}] -= {s}",
            "c += " + draw(st.sampled_from(_ELEMENTWISE)).format(a="c", b="x"),
            "c = c[:N - {cut}] ; c = np.concatenate((c, x[N - {cut}:]), axis=0)",
            "c = np.where(c > {s}, c, x)",
            "c[c > {s}] = 0",
            "c[x > 0] = x[x > 0] * {s}",
            "c[{row}, c[{row}] < {s}] += 1",
        ]))
        lines += step.format(axis=draw(st.sampled_from([0, 1])), s=draw(st.sampled_from([0.5, 2.0, -1.5])),
                             col=draw(st.sampled_from(["[0, 2, 1, 1]", "[2, 2, 0, 1]"])),
                             row=draw(st.integers(-4, 3)), cut=draw(st.integers(1, 3))).split(" ; ")
    ending = draw(st.sampled_from([
        "f = np.sum(c[c > 0] ** 2) + np.sum(c)",
        "f = np.sum(c[x[:, 0] > 0, :] * x[x[:, 0] > 0])",
        "f = np.sum(c[0, c[0] < 1]) + np.mean(c ** 2)",
        "f = np.sum(c * c)",
    ]))
    # Distinct values off the constants' grid: no ties (a max's kink) and no element on a mask's edge.
    x = np.asarray(draw(st.lists(st.integers(-200, 199).map(lambda v: v / 100 + 0.005), min_size=12, max_size=12,
                                 unique=True)))
    return "; ".join(lines + [ending]), {"x": x.reshape(4, 3)}


NEAR_TIE = (  # two entries of a row's max apart by a rounding error: a kink within h, with no tie to warn of
    "N, D = x.shape; c = x * 1.0; c[np.arange(N), [0, 2, 1, 1]] -= 0.5; c = c[::-1] * 0.5; "
    "c = c - np.max(c, axis=1, keepdims=True); c = c[::-1] * 0.5; f = np.sum(c[c > 0] ** 2) + np.sum(c)",
    {"x": np.array([[0.025, -0.015, 0.035], [-0.025, 0.045, -0.035], [-0.935, -0.435, -0.945],
                    [0.005, 0.015, -0.005]])},
)


@settings(max_examples=100, deadline=None)
@given(numpy_programs())
@example(program=NEAR_TIE)
def test_generated_numpy_programs_match_numpy_and_centred_differences(program):
    text, values = program
    result = bpcli.grad(text, **values)
    assert np.allclose(result.value, numpy_run(text, values), rtol=1e-12, atol=1e-12), text
    # A gradient is judged away from the kinks: a step of h must not cross one. The values are distinct,
    # but a program can make a tie of its own (two rows' maxima subtracted); bpcli says so, and such a
    # point is left out.
    assume(not any(warning.kind == "kink" for warning in result.warnings))
    numeric = numpy_gradient(text, values, "x", h=1e-7)
    # Nor may it cross a kink or jump closer than h that bpcli has no reason to warn of: a comparison
    # (np.where(c > 0.5, ...)) flipping within h, or two maxima apart by a rounding error (not tied, so
    # no warning). There the slopes from the left and from the right differ; where they agree, the
    # function is smooth there and the gradient is judged.
    right, left = (numpy_gradient(text, values, "x", h=1e-7, side=side) for side in (1, -1))
    assume(np.allclose(right, left, rtol=1e-3, atol=1e-3))
    assert np.allclose(result.gradients["x"], numeric, rtol=1e-4, atol=1e-4), text


class TestAffineBackwardAsTheAssignmentWritesIt:
    FORWARD = "out = x.reshape(x.shape[0], -1).dot(w) + b\nloss = np.sum(out * dout)\n"
    BACKWARD = ("dx = dout.dot(w.T).reshape(x.shape)\ndw = x.reshape(x.shape[0], -1).T.dot(dout)\n"
                "db = np.sum(dout, axis=0)\n")
    VALUES = ["-x", "randn:2,3,4", "-w", "randn:12,5", "-b", "randn:5", "--dout", "randn:2,5", "--const", "dout"]

    def check(self, tmp_path, backward: str):
        (tmp_path / "affine.py").write_text(self.FORWARD)
        (tmp_path / "affine_backward.py").write_text(backward)
        return run_cli("check", "--file", str(tmp_path / "affine.py"), "--backward",
                       str(tmp_path / "affine_backward.py"), *self.VALUES, "--json")

    def test_it_passes(self, tmp_path):
        result = self.check(tmp_path, self.BACKWARD)
        assert result.exit_code == 0, result.stdout + result.stderr

    def test_a_missing_sum_for_db_fails_at_that_line(self, tmp_path):
        result = self.check(tmp_path, self.BACKWARD.replace("np.sum(dout, axis=0)", "dout"))
        assert result.exit_code == 1
        assert json.loads(result.stdout)["problems"][0]["backward"]["first_wrong_line"] == 3


def test_reshape_to_another_values_shape_is_numpys_and_the_sizes_must_agree():
    x, w = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 2))
    assert_like_numpy("np.sum(x.reshape(w.shape) * w) + np.sum(np.reshape(w, x.shape) * x)", {"x": x, "w": w})
    result = run_cli("grad", "np.sum(x.reshape(w.shape) * w)", "-x", "randn:2,3", "-w", "randn:3,3")
    assert result.exit_code == 2
    assert "cannot reshape a (2, 3) value (6 elements) to (3, 3)" in result.stderr


# ---- the assignment's layers as written, against their closed forms ---------------------------

BATCHNORM = """mu = x.mean(axis=0)
var = x.var(axis=0)
xhat = (x - mu) / np.sqrt(var + eps)
out = gamma * xhat + beta
loss = np.sum(out * dout)
"""


def test_batchnorm_forward_as_written_has_the_closed_form_gradients():
    x, gamma, beta, dout = RNG.normal(size=(5, 3)), RNG.normal(size=3), RNG.normal(size=3), RNG.normal(size=(5, 3))
    eps = 1e-5
    result = bpcli.grad(BATCHNORM, x=x, gamma=gamma, beta=beta, dout=bpcli.Constant(dout), eps=bpcli.Constant(eps))
    n = x.shape[0]
    xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)
    dxhat = dout * gamma
    dx = (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (n * np.sqrt(x.var(axis=0) + eps))
    assert np.allclose(result.gradients["x"], dx, rtol=1e-10, atol=1e-12)
    assert np.allclose(result.gradients["gamma"], (dout * xhat).sum(axis=0), rtol=1e-12)
    assert np.allclose(result.gradients["beta"], dout.sum(axis=0), rtol=1e-12)


def test_dropout_with_a_supplied_mask_passes_the_gradient_where_the_mask_kept_and_scaled():
    x, dout = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    mask = (RNG.uniform(size=(4, 3)) < 0.5) / 0.5
    result = bpcli.grad("out = x * mask; loss = np.sum(out * dout)", x=x, mask=bpcli.Constant(mask),
                        dout=bpcli.Constant(dout))
    assert np.array_equal(result.gradients["x"], dout * mask)
    assert result.constants == ["mask", "dout"] and list(result.gradients) == ["x"]


@pytest.mark.parametrize("reduction", ["np.max", "np.min", "np.argmax", "np.argmin", "np.mean", "np.var",
                                       "logsumexp", "softmax", "log_softmax"])
@pytest.mark.parametrize("picked", ["x[x > 100]", "x[2:2]"])
def test_a_reduction_of_no_elements_is_bad_input_not_a_crash(reduction, picked):
    # numpy has no max of no elements (ValueError) and a mean of none is nan; these stopped bpcli with exit 3
    result = run_cli("grad", f"f = np.sum({reduction}({picked}))", "-x", "[1, 2]")
    assert result.exit_code == 2, result.stderr
    assert "no elements" in result.stderr and "internal error" not in result.stderr


def test_the_product_of_no_elements_is_one_as_in_numpy():
    result = bpcli.grad("f = np.prod(x[x > 100]) * np.sum(x)", x=[1.0, 2.0])  # the gradient of prod's empty pick
    assert result.value == 3.0 and result.gradients["x"].tolist() == [1.0, 1.0]


def test_a_check_of_a_mask_that_picks_nothing_shows_its_table(tmp_path):
    backward = tmp_path / "backward.py"  # right: the pick is empty, and so is its gradient
    backward.write_text("dt = np.ones(0)\ndx = np.zeros_like(x)\ndx[x > 100] = dt\n")
    result = run_cli("check", "t = x[x > 100]; out = np.sum(t)", "-x", "[1, 2]", "--backward", str(backward))
    assert result.exit_code == 0, result.stderr
    assert "2 of 2 expectations met" in result.stdout


@pytest.mark.parametrize("text", ["np.where(x > 0, x, 0)", "np.where(x > 0, 0, x)", "np.where(x, x, 0)"])
def test_a_gradient_routed_by_where_onto_a_number_is_a_number_not_a_boolean(text):
    """where's local gradient is a mask (c != 0), and 1 × the mask is still a number: folding the
    multiply by the seed 1 away left the boolean itself as the gradient (np.True_), which check's
    diagnosis then negated (exit 3)."""
    for x in (1.0, -1.0):
        gradient = bpcli.grad(text, x=x).gradients["x"]
        assert type(gradient) is not np.bool_
        assert gradient == pytest.approx(float(numpy_gradient(text, {"x": x}, "x")), abs=1e-6)
    result = run_cli("check", text, "-x", "1", "--expect", "dx=5")
    assert result.exit_code == 1, result.stderr  # a wrong expectation, diagnosed

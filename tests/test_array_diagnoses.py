"""Diagnoses of vectorized mistakes: each given only when the student's array is what the mistake gives.

Every case runs the command line as a user does (CliRunner; one real process), with a backward file
or an ``--expect NAME=@file.npy`` holding the wrong student's array, computed here with numpy (the
oracle of what that student wrote). The right verdict, the right line and the right hint; right
answers get no hint; a wrong number no mistake explains gets the summary of its wrong elements only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bpcli.analyses.diagnosis import wrong_elements
from helpers import run_cli, run_process

# The notes' matrix product D = W.dot(X), with square matrices (the shapes of a wrong product fit).
W = np.array([[1.0, 2.0, 0.5], [-1.0, 0.3, 2.0], [0.7, -2.0, 1.0]])
X = np.array([[0.2, -1.0, 1.5], [2.0, 1.0, -0.5], [-1.0, 0.4, 0.9]])
DD = np.array([[1.0, -2.0, 0.5], [0.3, 1.0, -1.0], [2.0, 0.1, -0.7]])

# The affine layer and a ReLU; at this point a = h + b is exactly 0 at (2, 0) with B_ZERO.
AFFINE = "h = x.dot(w)\na = h + b\nout = relu(a)\n"
AX = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 2.0], [0.0, 0.0, 1.0], [2.0, 1.0, -1.0]])
AW = np.array([[1.0, -1.0], [0.5, 2.0], [-1.0, 1.0]])
B_ZERO = np.array([1.0, -0.5])  # a[2, 0] == 0
B_APART = np.array([2.5, -0.5])  # no zero in a; h > 0 and a > 0 differ at (1, 0) and (2, 0)
DOUT = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -2.0], [1.0, 1.0]])
AFFINE_RIGHT = "da = dout * (a > 0)\ndh = da\ndx = dh.dot(w.T)\ndw = x.T.dot(dh)\ndb = np.sum(da, axis=0)\n"

# The softmax loss as docs/numpy.md writes it; N = 5.
SOFTMAX = """shifted = x - np.max(x, axis=1, keepdims=True)
Z = np.sum(np.exp(shifted), axis=1, keepdims=True)
log_probs = shifted - np.log(Z)
N = x.shape[0]
loss = -np.sum(log_probs[np.arange(N), y]) / N
"""
SX = [[1.0, 2.0, 0.5], [0.2, -1.0, 1.5], [2.0, 0.1, -0.3], [-0.5, 0.4, 0.9], [1.2, 1.1, -1.0]]
SY = [0, 2, 1, 1, 0]
SOFTMAX_RIGHT = "dx = np.exp(shifted) / Z\ndx[np.arange(N), y] -= 1\ndx /= N\n"


# The vectorized SVM loss of docs/numpy.md, and its backward pass as the assignment writes it.
SVM = """N = x.shape[0]
correct = x[np.arange(N), y][:, np.newaxis]
margins = np.maximum(0, x - correct + 1)
margins[np.arange(N), y] = 0
loss = np.sum(margins) / N
"""
SVM_RIGHT = ("num_pos = np.sum(margins > 0, axis=1)\ndx = np.zeros_like(x)\ndx[margins > 0] = 1\n"
             "dx[np.arange(N), y] -= num_pos\ndx /= N\n")


def softmax_gradient() -> np.ndarray:
    x = np.array(SX)
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(5), SY] -= 1
    return p / 5


def values(**arrays) -> list[str]:
    return [part for name, value in arrays.items()
            for part in (f"-{name}" if len(name) == 1 else f"--{name}", json.dumps(np.asarray(value).tolist()))]


def check(tmp_path: Path, forward: str, backward: str | None, *args: str) -> tuple[int, dict, str]:
    """``bpcli check --file forward.py [--backward mine.py] ARGS`` as JSON and as the report people read."""
    (tmp_path / "forward.py").write_text(forward)
    command = ["check", "--file", str(tmp_path / "forward.py"), *args]
    if backward is not None:
        (tmp_path / "mine.py").write_text(backward)
        command += ["--backward", str(tmp_path / "mine.py")]
    report = run_cli(*command)
    document = run_cli(*command, "--json")
    assert report.exit_code == document.exit_code, report.stderr
    return report.exit_code, json.loads(document.stdout), report.stdout


def diagnoses(document: dict) -> dict[str, dict]:
    return {e["key"]: e["diagnosis"] for e in document["problems"][0]["expectations"] if e["diagnosis"]}


def npy(tmp_path: Path, name: str, value: np.ndarray) -> str:
    path = tmp_path / f"{name}.npy"
    np.save(path, value)
    return f"{name}=@{path}"


def matmul(tmp_path: Path, backward: str | None, *args: str, w=W, x=X, dd=DD):
    return check(tmp_path, "D = W.dot(X)\n", backward, *values(W=w, X=x, upstream=dd), *args)


def affine(tmp_path: Path, backward: str | None, b=B_APART, *args: str):
    return check(tmp_path, AFFINE, backward, *values(x=AX, w=AW, b=b, upstream=DOUT), *args)


def softmax(tmp_path: Path, backward: str | None, *args: str):
    return check(tmp_path, SOFTMAX, backward, *values(x=SX, y=SY), *args)


def svm(tmp_path: Path, backward: str | None, *args: str):
    return check(tmp_path, SVM, backward, *values(x=SX, y=SY), *args)


class TestRightAnswersGetNoHint:
    @pytest.mark.parametrize("run, backward", [
        (matmul, "dW = dD.dot(X.T)\ndX = W.T.dot(dD)\n"),
        (affine, AFFINE_RIGHT),
        (softmax, SOFTMAX_RIGHT),
        (svm, SVM_RIGHT),
    ])
    def test_the_right_backward_pass(self, tmp_path, run, backward):
        code, document, report = run(tmp_path, backward)
        assert code == 0 and document["passed"]
        assert diagnoses(document) == {} and "hint" not in report

    def test_the_right_arrays_as_expectations(self, tmp_path):
        code, document, _ = matmul(tmp_path, None, "--expect", npy(tmp_path, "dW", DD @ X.T),
                                   "--expect", npy(tmp_path, "dX", W.T @ DD))
        assert code == 0 and diagnoses(document) == {}

    def test_a_mask_at_the_boundary_is_right_where_no_input_is_exactly_0(self, tmp_path):
        code, document, _ = affine(tmp_path, AFFINE_RIGHT.replace("(a > 0)", "(a >= 0)"), B_APART)
        assert code == 0 and diagnoses(document) == {}


class TestMatrixProducts:
    @pytest.mark.parametrize("line, written", [
        ("dW = X.T.dot(dD)", "X.T @ dD"),  # the factors in the wrong order
        ("dW = dD.dot(X)", "dD @ X"),  # untransposed
    ])
    def test_dW_with_shapes_that_happen_to_fit(self, tmp_path, line, written):
        code, document, report = matmul(tmp_path, f"{line}\ndX = W.T.dot(dD)\n")
        assert code == 1
        found = diagnoses(document)
        assert set(found) == {"dW"}
        assert found["dW"]["mistake"] == "matmul-factors" and found["dW"]["line"] == 1
        assert found["dW"]["message"] == "line 1 goes wrong at stage D = W @ X (every element is wrong)"
        assert (f"in stage D = W @ X, dW = dD @ X.T, of shape (3, 3); {written} has that shape too here "
                "(the shapes happen to fit), but other numbers") in found["dW"]["hint"]
        assert found["dW"]["hint"].startswith("Dimension analysis: the gradient on a factor of a matrix product")
        lines = document["problems"][0]["backward"]["lines"]
        assert [line["status"] for line in lines] == ["wrong", "right"]
        assert "hint: Dimension analysis" in report

    def test_a_hint_only_within_the_tolerance_in_use(self, tmp_path):
        near = X.T @ DD + 1e-3  # the mistake, off by more than the 1e-6 of computed numbers
        expect = ("--expect", npy(tmp_path, "dW", near))
        _, strict, _ = matmul(tmp_path, None, *expect)
        assert diagnoses(strict)["dW"]["mistake"] is None and diagnoses(strict)["dW"]["hint"] is None
        _, loose, _ = matmul(tmp_path, None, *expect, "--atol", "0.01")
        assert diagnoses(loose)["dW"]["mistake"] == "matmul-factors"
        assert "X.T @ dD has that shape too here" in diagnoses(loose)["dW"]["hint"]

    def test_dX_untransposed(self, tmp_path):
        code, document, _ = matmul(tmp_path, "dW = dD.dot(X.T)\ndX = W.dot(dD)\n")
        found = diagnoses(document)
        assert code == 1 and set(found) == {"dX"} and found["dX"]["line"] == 2
        assert "dX = W.T @ dD, of shape (3, 3); W @ dD has that shape too here" in found["dX"]["hint"]

    def test_the_layer_form_dout_w_for_dout_w_T(self, tmp_path):
        x, w = np.array([[1.0, 2, 0], [3, 4, 1], [5, 6, 2]]), np.array([[1.0, -1, 0], [2, 0.5, 1], [0, 1, 1]])
        dout = np.array([[1.0, 0, 2], [0, 1, 1], [1, 1, -1]])
        code, document, _ = check(tmp_path, "out = x.dot(w)\n", "dx = dout.dot(w)\ndw = x.T.dot(dout)\n",
                                  *values(x=x, w=w, upstream=dout))
        found = diagnoses(document)
        assert code == 1 and set(found) == {"dx"}
        np.testing.assert_allclose(document["problems"][0]["expectations"][0]["expected"], dout @ w)
        assert found["dx"]["mistake"] == "matmul-factors" and found["dx"]["line"] == 1
        assert "dx = dout @ w.T, of shape (3, 3); dout @ w has that shape too here" in found["dx"]["hint"]

    def test_a_wrong_shape_from_an_npy_file(self, tmp_path):
        rng = np.random.default_rng(1)
        w, x, dd = rng.normal(size=(3, 2)), rng.normal(size=(2, 4)), rng.normal(size=(3, 4))
        code, document, report = matmul(tmp_path, None, "--expect", npy(tmp_path, "dX", dd.T @ w), w=w, x=x, dd=dd)
        assert code == 1
        found = diagnoses(document)["dX"]
        assert found["mistake"] == "matmul-factors" and found["message"] == "dX goes wrong at stage D = W @ X"
        assert found["hint"].endswith("dX = W.T @ dD, of shape (2, 4); dD.T @ W has shape (4, 2).")
        assert "the expected value has shape (4, 2), but bpcli's has (2, 4)" in report


    def test_a_product_whose_shapes_do_not_fit_is_bad_input_with_the_dimension_analysis(self, tmp_path):
        rng = np.random.default_rng(1)
        w, x, dd = rng.normal(size=(3, 2)), rng.normal(size=(2, 4)), rng.normal(size=(3, 4))
        (tmp_path / "mine.py").write_text("dW = X.T.dot(dD)\ndX = W.T.dot(dD)\n")
        result = run_cli("check", "D = W.dot(X)", *values(W=w, X=x, upstream=dd),
                         "--backward", str(tmp_path / "mine.py"))
        assert result.exit_code == 2 and "Traceback" not in result.stderr
        assert "inner dimensions 2 and 3 differ" in result.stderr
        assert "dimension analysis: dW has the shape of W, (3, 2), and exactly one product" in result.stderr


class TestBroadcastSums:
    def test_a_bias_gradient_not_summed_over_the_batch(self, tmp_path):
        code, document, report = affine(tmp_path, AFFINE_RIGHT.replace("np.sum(da, axis=0)", "da"))
        assert code == 1
        found = diagnoses(document)
        assert set(found) == {"db"}
        assert found["db"]["mistake"] == "broadcast-not-summed" and found["db"]["line"] == 5
        assert found["db"]["hint"].endswith(
            "in stage a = h + b, b (shape (2,)) is broadcast to (4, 2), so db = np.sum(da, axis=0); "
            "not summed, db = da has shape (4, 2).")
        assert "your db has shape (4, 2), but bpcli's has (2,)" in report

    def test_summed_over_the_wrong_axis(self, tmp_path):
        code, document, _ = affine(tmp_path, AFFINE_RIGHT.replace("axis=0", "axis=1"))
        found = diagnoses(document)["db"]
        assert code == 1 and found["mistake"] == "broadcast-not-summed" and found["line"] == 5
        assert found["hint"].endswith("np.sum(da, axis=1) sums over the wrong axes (shape (4,)).")

    def test_a_scale_gradient_not_summed_as_batchnorm_writes_it(self, tmp_path):
        xhat = AX - AX.mean(axis=0)
        backward = "dgamma = dout * xhat\ndbeta = np.sum(dout, axis=0)\ndxhat = dout * gamma\n"
        code, document, _ = check(tmp_path, "out = xhat * gamma + beta\n", backward,
                                  *values(xhat=xhat, gamma=[1.0, 2.0, -1.0], beta=[0.0, 0.5, 1.0],
                                          upstream=DOUT @ AW.T))
        found = diagnoses(document)
        assert code == 1 and set(found) == {"dgamma"}
        assert found["dgamma"]["mistake"] == "broadcast-not-summed" and found["dgamma"]["line"] == 1
        # d(xhat * gamma): the gradient of the unnamed product, which is dout here.
        assert found["dgamma"]["hint"].endswith("so dgamma = np.sum(d(xhat * gamma) * xhat, axis=0); not summed, "
                                                "dgamma = d(xhat * gamma) * xhat has shape (4, 3).")

    def test_not_summed_given_as_an_expectation(self, tmp_path):
        code, document, _ = check(tmp_path, "out = x.dot(w) + b\n", None, *values(x=AX, w=AW, b=B_APART, upstream=DOUT),
                                  "--expect", npy(tmp_path, "db", DOUT))
        found = diagnoses(document)["db"]
        assert code == 1 and found["mistake"] == "broadcast-not-summed"
        assert found["message"] == "db goes wrong at stage out = x @ w + b"


class TestFactors:
    @pytest.mark.parametrize("last, factor, kind, words, summary", [
        (None, 5, "factor", "dx is 5 times the true gradient in every element: a / N = 5 (x.shape[0]) is missing",
         "every element is wrong, by a factor of 5"),
        ("dx /= N * N", 1 / 5, "factor", "dx is the true gradient / 5 in every element: an extra / N = 5 "
         "(x.shape[0])", "every element is wrong, by a factor of 0.2"),
        ("dx /= 2 * N", 1 / 2, "factor", "dx is the true gradient / 2 in every element: an extra / 2",
         "every element is wrong, by a factor of 0.5"),
        ("dx /= -N", -1, "flipped-sign", "", "every element is wrong, with its sign flipped"),
    ])
    def test_the_softmax_gradient_scaled(self, tmp_path, last, factor, kind, words, summary):
        backward = "dx = np.exp(shifted) / Z\ndx[np.arange(N), y] -= 1\n" + (f"{last}\n" if last else "")
        code, document, _ = softmax(tmp_path, backward)
        expectation = document["problems"][0]["expectations"][0]
        np.testing.assert_allclose(expectation["expected"], softmax_gradient() * factor, rtol=1e-9)
        found = expectation["diagnosis"]
        assert code == 1 and found["mistake"] == kind
        assert found["line"] == (3 if last else 2)
        assert words in found["hint"] and found["message"].endswith(f"({summary})")


    def test_the_svm_gradient_without_its_division_by_N(self, tmp_path):
        code, document, _ = svm(tmp_path, SVM_RIGHT.replace("dx /= N\n", ""))
        found = diagnoses(document)["dx"]
        assert code == 1 and found["mistake"] == "factor" and found["line"] == 4
        assert "dx is 5 times the true gradient in every element: a / N = 5 (x.shape[0]) is missing" in found["hint"]
        assert found["message"].endswith("(every nonzero element is wrong, by a factor of 5)")


class TestReluMasks:
    def test_a_mask_at_the_other_boundary_is_a_one_sided_derivative(self, tmp_path):
        # a[2, 0] is exactly 0: relu's gradient there is 0 by convention, and (a >= 0) takes its right side, 1.
        code, document, report = affine(tmp_path, AFFINE_RIGHT.replace("(a > 0)", "(a >= 0)"), B_ZERO)
        note = "at the kink; accepted as a one-sided derivative of out = relu(a)"
        expectations = document["problems"][0]["expectations"]
        assert code == 0 and diagnoses(document) == {}
        assert [(e["key"], e["pass"], e["note"]) for e in expectations] == [
            (key, True, note) for key in ("da", "dh", "dx", "dw", "db")]
        right_side = DOUT * (AX @ AW + B_ZERO >= 0)
        np.testing.assert_array_equal(expectations[0]["expected"], right_side)
        assert expectations[0]["expected"][2][0] == 0.3 and expectations[0]["actual"][2][0] == 0.0
        assert f"✓ da = [[1, 2], [0, 0], [0.3, -2], [1, 0]]: {note}" in report

    def test_a_mask_at_the_wrong_boundary_of_a_product_that_is_no_kink(self, tmp_path):
        # a * (a > 0) is relu's value but no relu gate: its gradient at 0 is (a > 0) + a * 0 = 0, no side to take.
        forward = AFFINE.replace("relu(a)", "a * (a > 0)")
        code, document, _ = check(tmp_path, forward, AFFINE_RIGHT.replace("(a > 0)", "(a >= 0)"),
                                  *values(x=AX, w=AW, b=B_ZERO, upstream=DOUT))
        found = diagnoses(document)
        assert code == 1 and found["da"]["mistake"] == "relu-mask" and found["da"]["line"] == 1
        assert found["da"]["message"] == "line 1 goes wrong at stage out = a * (a > 0) (element (2, 0) is wrong)"
        assert found["da"]["hint"].endswith("in stage out = a * (a > 0), da = dout * (a > 0); with (a >= 0) the gradient "
                                            "also passes where a is exactly 0 (1 of 8 elements).")

    def test_the_mask_of_another_array(self, tmp_path):
        code, document, _ = affine(tmp_path, AFFINE_RIGHT.replace("(a > 0)", "(h > 0)"), B_APART)
        found = diagnoses(document)["da"]
        assert code == 1 and found["mistake"] == "relu-mask" and found["line"] == 1
        assert found["hint"].endswith("with the mask of h (h > 0), it differs in 2 of 8 elements.")


    def test_the_mask_of_the_upstream_gradient(self, tmp_path):
        code, document, _ = affine(tmp_path, AFFINE_RIGHT.replace("(a > 0)", "(dout > 0)"), B_APART)
        found = diagnoses(document)["da"]
        assert code == 1 and found["mistake"] == "relu-mask" and found["line"] == 1
        assert found["hint"].endswith("with the mask of dout (dout > 0), it differs in 4 of 8 elements.")


class TestMaximumAtATie:
    """np.maximum(0, x) at an exact 0 splits the gradient (as torch.maximum, jnp.maximum); a mask takes one
    side of the tie, a one-sided derivative, which is accepted with a note."""

    X0 = [[1.0, 0.0, -2.0], [3.0, -1.0, 0.0]]
    DOUT = [[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]]

    @pytest.mark.parametrize("mask, at_the_zeros", [("(x > 0)", [0.0, 0.0]), ("(x >= 0)", [-1.0, -3.0])])
    def test_a_mask_is_accepted_at_the_tie_as_a_one_sided_derivative(self, tmp_path, mask, at_the_zeros):
        code, document, report = check(tmp_path, "out = np.maximum(0, x)\nloss = np.sum(out * dout)\n",
                                       f"dx = dout * {mask}\n", *values(x=self.X0, dout=self.DOUT), "--const", "dout")
        (expectation,) = document["problems"][0]["expectations"]
        note = "at the kink; accepted as a one-sided derivative of out = max(0, x)"
        assert code == 0 and expectation["pass"] and expectation["note"] == note and expectation["diagnosis"] is None
        assert [expectation["expected"][0][1], expectation["expected"][1][2]] == at_the_zeros
        assert [expectation["actual"][0][1], expectation["actual"][1][2]] == [-0.5, -1.5]  # bpcli's: split evenly
        (line,) = document["problems"][0]["backward"]["lines"]
        assert line["status"] == "right" and line["note"] == note
        assert f"dx = dout * {mask}" in report and "accepted as a one-sided derivative" in report

    def test_a_value_on_neither_side_is_still_wrong(self, tmp_path):
        code, document, _ = check(tmp_path, "out = np.maximum(0, x)\nloss = np.sum(out * dout)\n",
                                  "dx = dout * (x < 0)\n", *values(x=self.X0, dout=self.DOUT), "--const", "dout")
        (expectation,) = document["problems"][0]["expectations"]
        assert code == 1 and not expectation["pass"] and expectation["note"] is None

    def test_relu_itself_takes_the_mask(self, tmp_path):
        code, document, _ = check(tmp_path, "out = relu(x)\nloss = np.sum(out * dout)\n", "dx = dout * (x > 0)\n",
                                  *values(x=self.X0, dout=self.DOUT), "--const", "dout")
        assert code == 0 and diagnoses(document) == {}


class TestIndexedUpdates:
    def test_set_instead_of_subtracted(self, tmp_path):
        code, document, report = softmax(tmp_path, SOFTMAX_RIGHT.replace("-= 1", "= -1"))
        wrong = softmax_gradient()
        wrong[np.arange(5), SY] = -1 / 5
        expectation = document["problems"][0]["expectations"][0]
        np.testing.assert_allclose(expectation["expected"], wrong, rtol=1e-9)
        found = expectation["diagnosis"]
        assert code == 1 and found["mistake"] == "index-set" and found["line"] == 2  # the line that set
        assert found["message"] == "line 2 goes wrong at log_probs[arange(N), y] (5 of 15 elements are wrong)"
        assert found["hint"].startswith("An indexed update accumulates: dx[idx] -= 1 subtracts 1 from what is there")
        assert "dx is right except at the 5 elements log_probs[arange(N), y] picks" in found["hint"]
        # Judged where the steps end (line 3 is the wrong one), reported where the mistake is written.
        assert "First wrong line: 2: dx[np.arange(N), y] = -1" in report
        statuses = [line["status"] for line in document["problems"][0]["backward"]["lines"]]
        assert statuses == ["step", "step", "wrong"]

    def test_a_repeated_index_set_instead_of_added(self, tmp_path):
        # np.sum(x[[0, 0, 2]] * w): dx = [w0 + w1, 0, w2] = [-1.5, 0, 4]; set, x[0] keeps w1 only.
        result = run_cli("check", "f = np.sum(x[[0, 0, 2]] * w)", "-x", "[1, 2, 3]", "-w", "[0.5, -2, 4]",
                         "--expect", "dx=[-2.0, 0, 4.0]", "--json")
        found = diagnoses(json.loads(result.stdout))["dx"]
        assert result.exit_code == 1 and found["mistake"] == "index-set"
        assert "with dx[...] = d(x[[0, 0, 2]]) a repeated index keeps only its last write" in found["hint"]


class TestWhichElementsAreWrong:
    def test_a_number_no_mistake_explains_gets_the_summary_and_no_hint(self, tmp_path):
        student = DD @ X.T
        student[:, 2] += 1.0
        code, document, report = matmul(tmp_path, None, "--expect", npy(tmp_path, "dW", student))
        found = diagnoses(document)["dW"]
        assert code == 1 and found["mistake"] is None and found["hint"] is None
        assert found["message"] == "dW is wrong, and no common mistake explains its number (column 2 is wrong)"
        assert "hint" not in report

    def test_a_wrong_array_of_values(self, tmp_path):
        wrong = (W @ X).tolist()
        wrong[1] = [0.0, 0.0, 0.0]
        code, document, report = matmul(tmp_path, None, "--expect", f"D={json.dumps(wrong)}",
                                        "--expect", npy(tmp_path, "W", W))
        assert code == 1
        found = diagnoses(document)
        assert set(found) == {"D"} and found["D"]["mistake"] is None and found["D"]["hint"] is None
        assert found["D"]["message"] == "the value D is wrong (row 1 is wrong)"
        assert "the value D is wrong (row 1 is wrong)" in report

    def test_a_factor_no_mistake_explains(self, tmp_path):
        code, document, _ = matmul(tmp_path, None, "--expect", npy(tmp_path, "dW", 7 * DD @ X.T))
        found = diagnoses(document)["dW"]
        assert found["hint"] is None and found["message"].endswith("(every element is wrong, by a factor of 7)")

    @pytest.mark.parametrize("wrong, summary", [
        ([(0, 0), (0, 1), (0, 2), (3, 0), (3, 1), (3, 2)], "rows 0 and 3 are wrong"),
        ([(1, 2), (2, 2), (0, 2), (3, 2)], "column 2 is wrong"),
        ([(0, 1), (2, 2), (3, 0)], "elements (0, 1), (2, 2) and (3, 0) are wrong"),
        ([(0, 1), (2, 2), (3, 0), (1, 1), (0, 0)], "5 of 12 elements are wrong"),
        ([(i, j) for i in range(4) for j in range(3)], "every element is wrong"),
    ])
    def test_summaries(self, wrong, summary):
        true = np.arange(12.0).reshape(4, 3) + 1
        mine = true.copy()
        for place in wrong:
            mine[place] += 0.5 + place[0] * place[1]  # not one factor for all
        assert wrong_elements(mine, true, 1e-6) == summary

    def test_vectors_and_exact_factors(self):
        true = np.array([1.0, -2.0, 3.0, 4.0])
        assert wrong_elements(true * 5, true, 1e-9) == "every element is wrong, by a factor of 5"
        assert wrong_elements(np.array([1.0, 0.0, 3.0, 4.1]), true, 1e-9) == "elements 1 and 3 are wrong"
        assert wrong_elements(true, true[:3], 1e-9) is None  # shapes differ: the note says so instead
        assert wrong_elements(np.float64(2.0), np.float64(1.0), 1e-9) is None

    def test_a_factor_where_zeros_stay_zeros(self):
        true = np.array([[0.0, 1.0, -2.0], [0.0, 0.0, 0.0], [3.0, 0.5, 1.0]])
        assert wrong_elements(5 * true, true, 1e-9) == "every nonzero element is wrong, by a factor of 5"
        assert wrong_elements(-true, true, 1e-9) == "every nonzero element is wrong, with its sign flipped"

    def test_a_large_array_is_summarised_without_listing_it(self):
        true = np.ones((1000, 1000))
        mine = true.copy()
        mine[::2] = 0.0
        assert wrong_elements(mine, true, 1e-9) == "500 of 1000 rows are wrong"


def test_in_a_real_process(tmp_path):
    (tmp_path / "forward.py").write_text(AFFINE)
    (tmp_path / "mine.py").write_text(AFFINE_RIGHT.replace("np.sum(da, axis=0)", "da"))
    process = run_process("check", "--file", str(tmp_path / "forward.py"), "--backward", str(tmp_path / "mine.py"),
                          *values(x=AX, w=AW, b=B_APART, upstream=DOUT))
    assert process.returncode == 1, process.stderr
    text = " ".join(process.stdout.split())  # the report wraps at the terminal's width
    assert "line 5 goes wrong at stage a = h + b" in text
    assert "not summed, db = da has shape (4, 2)." in text
    assert "First wrong line: 5: db = da" in text


class TestBoundedWork:
    def test_the_seven_wrong_products_cost_three_matrix_products(self):
        from bpcli.analyses.diagnosis import Use, _matmul_factors

        class Counted(np.ndarray):
            products = 0

            def __matmul__(self, other):
                Counted.products += 1
                return np.asarray(self) @ np.asarray(other)

        rng = np.random.default_rng(3)
        w, x, dd = (rng.normal(size=(4, 4)) for _ in range(3))
        use = Use(name="W", stage="D", expr="D = W @ X", op="matmul", position=0, upstream=dd.view(Counted),
                  operands=(w, x.view(Counted)), operand_names=("W", "X"), contribution=dd @ x.T, stage_label="D")
        readings = {detail.split("; ")[1].split(" has")[0]: wrong for wrong, detail in _matmul_factors(use)}
        assert Counted.products == 3
        oracle = {"dD @ X": dd @ x, "X.T @ dD": x.T @ dd, "X @ dD": x @ dd, "dD.T @ X": dd.T @ x,
                  "dD.T @ X.T": dd.T @ x.T, "X.T @ dD.T": x.T @ dd.T, "X @ dD.T": x @ dd.T}
        assert set(readings) == set(oracle)  # every product of the two but the right one, dD @ X.T
        for text, product in oracle.items():
            np.testing.assert_allclose(np.asarray(readings[text]), product, rtol=1e-12)

    def test_mistakes_further_up_are_traced_within_an_element_budget(self, monkeypatch):
        import bpcli
        from bpcli.analyses import diagnosis

        passes = []
        real = diagnosis.Truth._backward_from
        monkeypatch.setattr(diagnosis.Truth, "_backward_from",
                            lambda self, source, delta: passes.append(source) or real(self, source, delta))
        rng = np.random.default_rng(4)
        x, w = rng.normal(size=(30, 30)), rng.normal(size=(30, 30))
        wrong = rng.normal(size=(30, 30))  # no mistake explains it: every candidate further up is tried
        bpcli.check("h = x.dot(w); a = h * 2; out = relu(a)", x=x, w=w, upstream=np.ones((30, 30)),
                    expect={"dx": wrong})
        unbounded = len(passes)
        passes.clear()
        monkeypatch.setattr(diagnosis, "MAX_TRACED_ELEMENTS", 3 * 900)
        result = bpcli.check("h = x.dot(w); a = h * 2; out = relu(a)", x=x, w=w, upstream=np.ones((30, 30)),
                             expect={"dx": wrong})
        assert unbounded > 3 and len(passes) == 3
        assert result.problems[0].outcomes[0].diagnosis.mistake is None


class TestTheAssignmentsStudents:
    """The students of tests/fixtures/students (layers.py functions, --forward/--backward FILE:NAME) get the hint
    of their mistake, at the line tests/test_student_code.py finds wrong."""

    @pytest.mark.parametrize("file, key, mistake, words", [
        ("wrong_bias.py", "db", "broadcast-not-summed", "not summed, db = dout has shape (2, 5)"),
        ("wrong_order.py", "dw", "matmul-factors", "has that shape too here (the shapes happen to fit)"),
        ("wrong_mask.py", "dx", "relu-mask", "with (x >= 0) the gradient also passes where x is exactly 0"),
        ("wrong_n.py", "dxmu", "factor", "xmu gets 4 times what flows back through it: a / N = 4"),
        ("wrong_svm_n.py", "dx", "factor", "dx is 5 times the true gradient in every element: a / N = 5"),
    ])
    def test_the_hint_of_each_mistake(self, file, key, mistake, words):
        from test_student_code import STUDENTS, WRONG, checked, line_of, pair

        (_, forward, backward, bindings, statement, _), = [case for case in WRONG if case[0] == file]
        document = checked(*pair(STUDENTS / file, forward, backward), *bindings)
        found = diagnoses(document)[key]
        assert found["mistake"] == mistake and found["line"] == line_of(STUDENTS / file, statement)
        assert words in found["hint"]

    def test_the_student_who_sets_an_indexed_update(self):
        from test_student_code import LOSS, STUDENTS, checked, line_of, pair

        path = STUDENTS / "wrong_set.py"
        found = diagnoses(checked(*pair(path, "softmax_loss"), *LOSS))["dx"]
        assert found["mistake"] == "index-set" and found["line"] == line_of(path, "dx[np.arange(N), y] = -1")

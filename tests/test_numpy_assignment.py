"""Reassignment, augmented and indexed assignment (issue 16): functional updates, every version a stage
(c#1, c#2, ..., the plain name the last), differentiated as JAX's .at[...].set: an overwritten element
passes no gradient back. Values against numpy running the same text; gradients against centred
differences and closed forms."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import run_cli, run_json
from numpy_oracle import SOFTMAX, assert_like_numpy, numpy_run

import bpcli

RNG = np.random.default_rng(4)
X = RNG.normal(size=(5, 3))
Y = [0, 2, 1, 1, 0]

PROGRAMS = [
    ("c = a * b; c += 1; c = c * c", {"a": np.array(1.5), "b": np.array(-2.0)}),
    ("c = a * b; c -= a; c *= b; c /= a; f = c", {"a": np.array(1.5), "b": np.array(-2.0)}),
    ("m = x * 2; m[0] = 0; f = np.sum(m * x)", {"x": X}),
    ("m = x * 1; m[1:3, ::2] = v; f = np.sum(m ** 2)", {"x": X, "v": np.array(0.7)}),
    ("m = x + 0; m[:, 1] = w; f = np.sum(m * x)", {"x": X, "w": RNG.normal(size=5)}),
    ("m = x * 1; m[[0, 2], [1, 1]] -= 1; f = np.sum(m ** 2)", {"x": X}),
    ("d = x.copy(); d[x <= 0] = 0; f = np.sum(d * x)", {"x": X}),
    ("d = x * 3; d[x > 0.5] = v; f = np.sum(d)", {"x": X, "v": np.array(2.0)}),
]


@pytest.mark.parametrize("text, values", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_values_are_numpys_and_gradients_are_centred_differences(text, values):
    assert_like_numpy(text, values)


def test_an_overwritten_element_passes_no_gradient_back():
    result = bpcli.grad("m = x * 1; m[1] = 5; f = np.sum(m)", x=[1.0, 2.0, 3.0])
    assert result.gradients["x"].tolist() == [1.0, 0.0, 1.0]


class TestVersions:
    TEXT = "c = a + b; c += 1; c = c * c"

    def test_every_version_is_a_stage_the_plain_name_the_last(self):
        doc = run_json("grad", self.TEXT, "-a", "1", "-b", "2")
        assert [(s["name"], s["expr"]) for s in doc["stages"]] == [
            ("c#1", "a + b"), ("c#2", "c#1 + 1"), ("c", "c#2 * c#2")]
        assert doc["output"] == "c" and doc["value"] == 16.0 and doc["gradients"] == {"a": 8.0, "b": 8.0}

    def test_the_table_names_the_versions(self):
        table = run_cli("grad", self.TEXT, "-a", "1", "-b", "2").stdout
        assert "c#1" in table and "c#2 * c#2" in table

    def test_expect_checks_a_version_and_its_gradient(self):
        right = run_cli("check", self.TEXT, "-a", "1", "-b", "2", "--expect", "c#1=3", "--expect", "dc#2=8",
                        "--expect", "d(c#1)=8", "--expect", "c=16")
        assert right.exit_code == 0, right.stdout
        wrong = run_cli("check", self.TEXT, "-a", "1", "-b", "2", "--expect", "dc#1=4")
        assert wrong.exit_code == 1

    def test_the_staged_code_runs_with_python_names_for_the_versions(self):
        code = run_cli("code", self.TEXT, "-a", "1", "-b", "2").stdout
        namespace: dict = {}
        exec(code.split('if __name__ == "__main__":')[0], namespace)  # noqa: S102 - bpcli's own output
        value, gradients = namespace["backprop"](a=1.0, b=2.0)
        assert value == 16.0 and gradients == {"a": 8.0, "b": 8.0}


SVM = """N = x.shape[0]
correct = x[np.arange(N), y][:, np.newaxis]
margins = np.maximum(0, x - correct + 1)
margins[np.arange(N), y] = 0
loss = np.sum(margins) / N
"""


def svm_closed_form(x: np.ndarray, y: list[int]) -> np.ndarray:
    n = len(y)
    margins = np.maximum(0, x - x[np.arange(n), y][:, None] + 1)
    margins[np.arange(n), y] = 0
    counts = (margins > 0).astype(float)
    counts[np.arange(n), y] = -counts.sum(axis=1)
    return counts / n


def test_the_vectorized_svm_loss_as_written(tmp_path):
    x = X + np.array([0.0, 0.3, 0.6])  # no margin exactly 0 (a kink)
    path = tmp_path / "svm.py"
    path.write_text(SVM)
    doc = run_json("grad", "--file", str(path), "-x", json.dumps(x.tolist()), "-y", json.dumps(Y))
    assert np.isclose(doc["value"], numpy_run(SVM, {"x": x, "y": np.array(Y)}), rtol=1e-13)
    assert np.allclose(doc["gradients"]["x"], svm_closed_form(x, Y), rtol=1e-12, atol=1e-15)
    assert doc["constants"] == ["y"]
    assert [s["name"] for s in doc["stages"] if s["name"].startswith("margins")] == ["margins#1", "margins"]


class TestBackwardFilesWithIndexedAssignment:
    def check(self, tmp_path, backward: str):
        (tmp_path / "softmax.py").write_text(SOFTMAX)
        (tmp_path / "backward.py").write_text(backward)
        return run_cli("check", "--file", str(tmp_path / "softmax.py"), "--backward", str(tmp_path / "backward.py"),
                       "-x", json.dumps(X.tolist()), "-y", json.dumps(Y), "--json")

    def test_the_assignments_softmax_backward_passes(self, tmp_path):
        result = self.check(tmp_path, "dx = np.exp(shifted) / Z\ndx[np.arange(N), y] -= 1\ndx /= N\n")
        assert result.exit_code == 0, result.stdout
        lines = json.loads(result.stdout)["problems"][0]["backward"]["lines"]
        # x is a fork (through shifted, and through the max whose share is 0): the last line adds
        # what flows back through shifted, which is all of it.
        assert [line["status"] for line in lines][:2] == ["step", "step"]
        assert lines[2]["status"] in ("right", "partial") and np.allclose(lines[2]["value"], lines[2]["should_be"])

    def test_assigning_where_it_should_subtract_fails(self, tmp_path):
        result = self.check(tmp_path, "dx = np.exp(shifted) / Z\ndx[np.arange(N), y] = 1\ndx /= N\n")
        assert result.exit_code == 1
        backward = json.loads(result.stdout)["problems"][0]["backward"]
        assert backward["first_wrong_line"] == 3  # judged where the gradient is complete


@pytest.mark.parametrize("text, message, underlined", [
    ("m = x * 1; m[0] = w; f = np.sum(m)", "cannot be written into the (3,) elements", "m[0] = w"),
    ("m = x * 1; m[x > 0] = w; f = np.sum(m)", "a (2,) value cannot be written into the (4,) elements",
     "m[x > 0] = w"),
    ("m = x * 1; m[7] = 0; f = np.sum(m)", "index 7 is out of bounds", "m[7] = 0"),
    ("f(x)[0] = 1", "only a name's elements can be assigned to", "f(x)"),
])
def test_refused_assignments_are_bad_input_with_the_construct_underlined(text, message, underlined):
    result = run_cli("grad", text, "-x", "[[1, -2, 3], [4, 5, -6]]", "-w", "[1, 2]")
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr
    lines = result.stderr.splitlines()
    carets = next(line for line in lines if line.strip() and set(line.strip()) == {"^"})
    source = lines[lines.index(carets) - 1]
    assert carets == " " * source.index(underlined) + "^" * len(underlined)


def test_the_worked_examples_in_docs_numpy_md_are_what_bpcli_prints():
    from helpers import REPO

    doc = (REPO / "docs" / "numpy.md").read_text()
    x = [[1.0, 2.0, 0.5], [0.2, -1.0, 1.5], [2.0, 0.1, -0.3], [-0.5, 0.4, 0.9], [1.2, 1.1, -1.0]]
    softmax = bpcli.grad(SOFTMAX, x=x, y=Y)
    assert f'"value": {float(softmax.value)!r}' in doc
    first_row = ", ".join(f"{v:.4f}" for v in softmax.gradients["x"][0])
    assert f'[[{first_row}]' in doc
    svm = bpcli.grad(SVM, x=x, y=Y)
    assert f"the loss is {round(svm.value, 12):g}" in doc
    written = "[" + ", ".join("[" + ", ".join(f"{v:g}" for v in row) + "]" for row in svm.gradients["x"]) + "]"
    assert written.replace("-0,", "0,") in doc


def test_explain_says_what_a_subscript_an_assignment_and_a_comparison_do():
    result = run_cli("grad", "m = x * 1; m[0] = 0; f = np.sum(np.where(m > 1, m, 0)[1:])", "-x", "[[1, 2], [3, 4]]",
                     "--explain")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "the subscript gate t5 = t4[1:] sends the [[1, 1]] it received back to the elements it picked" in text
    assert "an overwritten one passes nothing back" in text
    assert "no gradient flows through the gt gate t3 = m > 1: its value is a boolean" in text

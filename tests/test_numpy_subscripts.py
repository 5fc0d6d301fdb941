"""numpy's subscripts and booleans (issue 16, first slices): values against numpy, gradients against
centred differences, every command on them.

The oracle for values is numpy running the same text here, in the test harness; bpcli only parses it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import run_cli, run_json
from numpy_oracle import assert_like_numpy

import bpcli

RNG = np.random.default_rng(16)
X = RNG.normal(size=(4, 3))
V = RNG.normal(size=5)


PROGRAMS = [
    ("np.sum(x[0] * x[-1])", {"x": X}),
    ("np.sum(x[1:3, ::2] ** 2)", {"x": X}),
    ("np.sum(x[::-1, 1:] * x[:, :2])", {"x": X}),
    ("np.sum(x[..., None] * x[:, None, :])", {"x": X}),
    ("np.sum(x[:, np.newaxis, 1] * v[None, 1:4])", {"x": X, "v": V}),
    ("np.sum(v[[0, 0, 2, 4]] * v[[1, 2, 3, 3]])", {"v": V}),
    ("np.sum(x[np.arange(4), [0, 2, 1, 1]] ** 2)", {"x": X}),
    ("np.sum(x[[0, 1], :][:, [2, 0]] * x[-2:, -1:])", {"x": X}),
    ("np.sum(x[-1, ...] * x[..., -1][:3])", {"x": X}),
    ("np.sum(np.where(x > 0, x, 0.1 * x))", {"x": X}),
    ("np.sum(x * (x > 0) + v[1] * (x <= -0.5))", {"x": X, "v": V}),
    ("np.sum(np.where((x > -1) & ~(x > 1) | (x == 0), x ** 2, x))", {"x": X}),
    ("np.sum(np.where(np.logical_and(x > 0, np.logical_not(x > 1)), x, 0))", {"x": X}),
    ("a = x[1:, :2]; b = a * (a != a[0]); c = np.sum(b[::2] * 3)", {"x": X}),
]


@pytest.mark.parametrize("text, values", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_values_are_numpys_and_gradients_are_centred_differences(text, values):
    assert_like_numpy(text, values)


def test_a_gather_backpropagates_as_a_scatter_add_repeated_indices_accumulate():
    result = bpcli.grad("np.sum(x[[0, 0, 2]] * w)", x=[1.0, 2.0, 3.0], w=[10.0, 20.0, 30.0])
    assert result.gradients["x"].tolist() == [30.0, 0.0, 30.0]  # as np.add.at: 10 + 20 at x[0]
    expected = np.zeros(3)
    np.add.at(expected, [0, 0, 2], [10.0, 20.0, 30.0])
    assert result.gradients["x"].tolist() == expected.tolist()


def test_a_comparison_is_a_boolean_0_and_1_in_arithmetic_and_carries_no_gradient():
    result = bpcli.grad("np.sum(dout * (x > 0))", x=[1.0, -2.0, 3.0, -1.0], dout=[4.0, -1.0, 5.0, 9.0])
    assert result.value == 9.0
    assert result.gradients["dout"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert result.gradients["x"].tolist() == [0.0, 0.0, 0.0, 0.0]
    mask = next(stage for stage in result.stages if stage.op == "gt")
    assert mask.upstream is None  # nothing flows back through a boolean


class TestIndexInputs:
    SOFTMAX_PICK = "N = 3\nloss = -np.sum(x[np.arange(3), y]) / 3"

    def test_a_variable_used_only_as_an_index_takes_no_gradient_and_is_listed_as_a_constant(self):
        doc = run_json("grad", self.SOFTMAX_PICK, "-x", json.dumps(X[:3].tolist()), "-y", "[0, 2, 1]")
        assert doc["constants"] == ["y"]
        assert set(doc["gradients"]) == {"N", "x"}
        expected = np.zeros((3, 3))
        expected[[0, 1, 2], [0, 2, 1]] = -1 / 3
        assert np.allclose(doc["gradients"]["x"], expected)

    def test_the_table_says_an_index_input_has_no_gradient(self):
        result = run_cli("grad", self.SOFTMAX_PICK, "-x", json.dumps(X[:3].tolist()), "-y", "[0, 2, 1]")
        assert result.exit_code == 0
        assert "none (index input)" in result.stdout

    def test_a_float_in_an_index_input_is_bad_input_naming_it(self):
        result = run_cli("grad", self.SOFTMAX_PICK, "-x", json.dumps(X[:3].tolist()), "-y", "[0, 1.5, 1]")
        assert result.exit_code == 2
        assert "y is used as an index" in result.stderr and "1.5" in result.stderr

    def test_an_index_out_of_range_in_an_index_input_is_bad_input_under_the_subscript(self):
        result = run_cli("grad", "np.sum(x[y])", "-x", "[1, 2, 3]", "-y", "[0, 3]")
        assert result.exit_code == 2
        assert "index 3 is out of bounds for axis 0 with size 3" in result.stderr
        assert "np.sum(x[y])\n         ^^^^" in result.stderr

    def test_gradcheck_skips_index_inputs(self):
        doc = run_json("gradcheck", "np.sum(x[[0, 1], y] ** 2)", "-x", "[[1, 2], [3, 4]]", "-y", "[1, 0]")
        assert doc["passed"] and {check["input"] for check in doc["checks"]} == {"x"}


class TestConstants:
    def test_const_makes_an_input_a_constant_in_table_and_json(self):
        doc = run_json("grad", "np.sum(x * m)", "-x", "[1, 2]", "-m", "[0, 1]", "--const", "m")
        assert doc["constants"] == ["m"] and doc["gradients"] == {"x": [0.0, 1.0]}
        table = run_cli("grad", "np.sum(x * m)", "-x", "[1, 2]", "-m", "[0, 1]", "--const", "m")
        assert "none (constant)" in table.stdout

    def test_const_of_an_unbound_name_is_bad_input(self):
        result = run_cli("grad", "np.sum(x * m)", "-x", "[1, 2]", "--const", "m")
        assert result.exit_code == 2 and "--const m" in result.stderr

    def test_the_library_takes_constants_too(self):
        result = bpcli.grad("sum(x * m)", x=[1.0, 2.0], m=bpcli.Constant([0.0, 1.0]))
        assert result.constants == ["m"] and list(result.gradients) == ["x"]


@pytest.mark.parametrize("text, message, underlined", [
    ("x[5]", "index out of range in x[5]: index 5 is out of bounds", "x[5]"),
    ("x[1.5]", "an index or a slice bound is a whole number", "1.5"),
    ("x[[0.5, 1]]", "an index or a slice bound is a whole number", "0.5"),
    ("x[0, 0]", "too many indices", "x[0, 0]"),
    ("a < x < b", "a chained comparison is not supported", "a < x < b"),
    ("~x", "~ combines booleans", "~x"),
    ("m = x > 0; f = -m", "numpy refuses this arithmetic on booleans", "-m"),
    ("m = x > 0; f = m & x", "& combines booleans", "m & x"),
    ("np.fft(x)", "np.fft is not a function bpcli knows (`bpcli gates`", "np.fft(x)"),
    ("x * np.random.rand(3)", "bind the random values as an input: `-mask rand:...`", "np.random"),
])
def test_refused_constructs_are_bad_input_with_the_construct_underlined(text, message, underlined):
    result = run_cli("grad", text, "-x", "[1, -2, 3]", "-a", "0", "-b", "1")
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr
    lines = result.stderr.splitlines()
    carets = next(line for line in lines if line.strip() and set(line.strip()) == {"^"})
    source = lines[lines.index(carets) - 1]
    start = source.index(underlined)
    assert carets == " " * start + "^" * len(underlined)


def test_subscripts_and_comparisons_print_back_as_they_parse():
    for text in ["x[-1, 1:3:2]", "x[..., None]", "x[::2]", "(x > 0) & (y <= 1) | ~m", "(x + 1)[0]", "-x[0]**2"]:
        program = bpcli.parse(text)
        from bpcli.engine.syntax.printer import to_text

        assert bpcli.parse(to_text(program.statements[0])) == program


def test_the_staged_code_reproduces_the_gradients_indexing_and_masks_included(tmp_path):
    text = "c = x[np.arange(3), y][:, np.newaxis]\nm = np.maximum(0, x - c + 1) * (x != c)\nloss = np.sum(m[::-1, 1:])"
    args = ["code", text, "-x", json.dumps(X[:3].tolist()), "-y", "[0, 2, 1]"]
    code = run_cli(*args)
    assert code.exit_code == 0, code.stderr
    path = tmp_path / "staged.py"
    path.write_text(code.stdout + "\nimport json\nprint(json.dumps({k: np.asarray(v).tolist() "
                    "for k, v in backprop(x=np.array(%s), y=np.array([0, 2, 1]))[1].items()}))\n"
                    % json.dumps(X[:3].tolist()))
    ran = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=True)
    gradients = json.loads(ran.stdout.splitlines()[-1])
    expected = bpcli.grad(text, x=X[:3], y=[0, 2, 1]).gradients["x"]
    assert np.allclose(gradients["x"], expected, rtol=1e-12)


def test_graph_draws_gathers_and_comparisons():
    result = run_cli("graph", "np.sum(x[0] * (x[1] > 0))", "-x", "[[1, 2], [3, -4]]")
    assert result.exit_code == 0 and "digraph" in result.stdout
    mermaid = run_cli("graph", "np.sum(x[0] * (x[1] > 0))", "-x", "[[1, 2], [3, -4]]", "--format", "mermaid")
    assert mermaid.exit_code == 0, mermaid.stderr


class TestReluBackwardFile:
    FORWARD = "h = x * w\nout = np.maximum(0, h)\nloss = np.sum(out * dout)\n"
    VALUES = ["-x", "[1, -2, 3]", "-w", "[2, 2, 2]", "--dout", "[1, 2, 3]", "--const", "dout"]

    def check(self, tmp_path, backward: str):
        (tmp_path / "forward.py").write_text(self.FORWARD)
        (tmp_path / "backward.py").write_text(backward)
        return run_cli("check", "--file", str(tmp_path / "forward.py"), "--backward", str(tmp_path / "backward.py"),
                       *self.VALUES, "--json")

    def test_the_assignments_mask_idiom_passes(self, tmp_path):
        result = self.check(tmp_path, "dh = dout * (h > 0)\ndx = dh * w\ndw = dh * x\n")
        assert result.exit_code == 0, result.stdout

    def test_a_mask_with_the_wrong_comparison_fails_at_that_line(self, tmp_path):
        result = self.check(tmp_path, "dh = dout * (h < 0)\ndx = dh * w\ndw = dh * x\n")
        assert result.exit_code == 1
        backward = json.loads(result.stdout)["problems"][0]["backward"]
        assert backward["first_wrong_line"] == 1
        assert backward["lines"][0]["text"] == "dh = dout * (h < 0)"  # the whole line, its bracket too

    def test_the_other_comparison_at_the_tie_is_a_one_sided_derivative(self, tmp_path):
        self.VALUES = ["-x", "[1, 0, 3]", *self.VALUES[2:]]  # h = 0 at x = 0: > and >= differ there
        result = self.check(tmp_path, "dh = dout * (h >= 0)\ndx = dh * w\ndw = dh * x\n")
        assert result.exit_code == 0
        lines = json.loads(result.stdout)["problems"][0]["backward"]["lines"]
        note = "at the kink; accepted as a one-sided derivative of out = max(0, h)"
        # dw = dh * x: x is 0 where the sides differ, so dw is bpcli's own number.
        assert [(line["status"], line["note"]) for line in lines] == [("right", note), ("right", note),
                                                                      ("right", None)]


@pytest.mark.parametrize("index", ["inf", "[Infinity, 0]", "NaN"])
def test_an_index_input_that_is_not_finite_is_bad_input(index):
    """inf passed the whole-number test (inf == round(inf)) and crashed with an OverflowError."""
    result = run_cli("grad", "sum(x[i])", "-x", "[1, 2]", "-i", index)
    assert result.exit_code == 2
    assert "i is used as an index, so its values must be whole numbers" in result.stderr

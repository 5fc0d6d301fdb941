"""Student code as it is handed in: functions picked from a layers.py, checked line by line.

The fixtures in tests/fixtures/students are written by hand the way the CS231n
assignment's template is (docstrings, ``x, w, b = cache``, ``return dx, dw, db``):
a correct student (good_layers.py) and one student per typical mistake. The
true gradients are numpy's own formulas for each layer (the oracle), and the CLI
is run as a user runs it: in process (CliRunner) and as a real subprocess.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpcli
from bpcli.analyses.student_code import load_function, student_code
from bpcli.engine.errors import BpcliError
from bpcli.engine.syntax.function_spec import split_spec
from bpcli.engine.syntax.functions import read_function
from helpers import run_cli, run_process

STUDENTS = Path(__file__).parent / "fixtures" / "students"
GOOD = STUDENTS / "good_layers.py"

# The affine layer's input, reshaped as the assignment's test does: (2, 3, 4) -> (2, 12).
X = np.array([[[0.5, -1.2, 0.3, 2.0], [1.1, 0.0, -0.7, 0.4], [-0.3, 0.8, 1.5, -2.1]],
              [[0.9, -0.4, 0.2, -1.3], [0.6, 1.7, -0.9, 0.05], [-1.1, 0.3, 0.7, 1.2]]])
W = np.linspace(-1.0, 1.0, 60).reshape(12, 5)
B = np.array([0.1, -0.2, 0.3, 0.0, 0.5])
# An exact 0 in the ReLU's input: where >= and > part.
RELU_X = np.array([[1.5, -2.0, 0.0], [-0.5, 3.0, 0.25]])
SCORES = np.array([[1.0, 2.0, 0.5], [0.2, -1.0, 1.5], [2.0, 0.1, -0.3], [-0.5, 0.4, 0.9], [1.2, 1.1, -1.0]])
LABELS = np.array([0, 2, 1, 1, 0])
BN_X = np.array([[0.3, -1.2, 2.0], [1.5, 0.4, -0.6], [-0.8, 0.9, 0.1], [0.2, -0.3, 1.7]])
GAMMA, BETA, EPS = np.array([1.5, -0.5, 2.0]), np.array([0.1, 0.2, -0.3]), 1e-5


def text(value: np.ndarray) -> str:
    return json.dumps(np.asarray(value).tolist())


def pair(path: Path, forward: str, backward: str | None = None) -> list[str]:
    args = ["check", "--forward", f"{path}:{forward}"]
    return args + (["--backward", f"{path}:{backward}"] if backward else [])


AFFINE = ["-x", text(X), "-w", text(W), "-b", text(B)]
RELU = ["-x", text(RELU_X)]
LOSS = ["-x", text(SCORES), "-y", text(LABELS)]
BATCHNORM = ["-x", text(BN_X), "--gamma", text(GAMMA), "--beta", text(BETA), "--eps", str(EPS)]


def checked(*args: str) -> dict:
    """The bpcli.check/1 document of a run (validated against its schema by run_cli)."""
    result = run_cli(*args, "--json")
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


def line_of(path: Path, statement: str) -> int:
    """The line of the student's file that holds ``statement`` (exactly once)."""
    numbers = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if line.strip() == statement]
    assert len(numbers) == 1, (statement, numbers)
    return numbers[0]


def dout_of(document: dict) -> np.ndarray:
    upstream = document["problems"][0]["upstream"]
    return np.asarray(upstream["value"], dtype=float)


def gradients(document: dict) -> dict[str, np.ndarray]:
    return {e["name"]: np.asarray(e["expected"], dtype=float) for e in document["problems"][0]["expectations"]}


def statuses(document: dict) -> dict[int, str]:
    return {line["line"]: line["status"] for line in document["problems"][0]["backward"]["lines"]}


# ---- the correct student ---------------------------------------------------------------


class TestACorrectStudent:
    def test_affine_with_a_reshaped_input_passes_and_its_numbers_are_numpys(self):
        document = checked(*pair(GOOD, "affine_forward", "affine_backward"), *AFFINE)
        assert document["exit_code"] == 0 and document["passed"]
        dout = dout_of(document)
        mine = gradients(document)  # the student's numbers, as computed from their lines
        np.testing.assert_allclose(mine["x"], (dout @ W.T).reshape(X.shape), rtol=1e-12)
        np.testing.assert_allclose(mine["w"], X.reshape(2, -1).T @ dout, rtol=1e-12)
        np.testing.assert_allclose(mine["b"], dout.sum(axis=0), rtol=1e-12)
        lines = {e["name"]: e["line"] for e in document["problems"][0]["expectations"]}
        assert lines == {"x": line_of(GOOD, "dx = dout.dot(w.T).reshape(x.shape[0], x.shape[1], x.shape[2])"),
                         "w": line_of(GOOD, "dw = x.reshape(N, -1).T.dot(dout)"),
                         "b": line_of(GOOD, "db = np.sum(dout, axis=0)")}

    def test_the_upstream_is_seeded_random_normal_values_as_the_assignment_draws_them(self):
        document = checked(*pair(GOOD, "affine_forward", "affine_backward"), *AFFINE)
        upstream = document["problems"][0]["upstream"]
        assert (upstream["source"], upstream["name"], upstream["seed"]) == ("random", "dout", 0)
        # No input is a random fill, so the upstream is the generator's first draw.
        np.testing.assert_array_equal(dout_of(document), np.random.default_rng(0).standard_normal((2, 5)))
        other = checked(*pair(GOOD, "affine_forward", "affine_backward"), *AFFINE, "--seed", "7")
        np.testing.assert_array_equal(dout_of(other), np.random.default_rng(7).standard_normal((2, 5)))
        assert other["problems"][0]["upstream"]["seed"] == 7 and other["passed"]

    def test_a_random_upstream_follows_the_inputs_random_fills(self):
        document = checked(*pair(GOOD, "affine_forward", "affine_backward"),
                           "-x", "randn:2,3,4", "-w", "randn:12,5", "-b", "randn:5", "--seed", "3")
        rng = np.random.default_rng(3)
        x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((12, 5)), rng.standard_normal(5)
        np.testing.assert_array_equal(np.asarray(document["problems"][0]["inputs"]["b"]), b)
        np.testing.assert_array_equal(dout_of(document), rng.standard_normal((2, 5)))  # then dout, as in the notebook
        assert document["passed"] and w.shape == (12, 5) and x.shape == (2, 3, 4)

    def test_an_upstream_given_is_used_and_named(self):
        document = checked(*pair(GOOD, "affine_forward", "affine_backward"), *AFFINE, "--upstream", "ones")
        assert document["problems"][0]["upstream"]["source"] == "ones" and document["passed"]
        np.testing.assert_allclose(gradients(document)["b"], [2.0] * 5)

    def test_relu_with_an_exact_zero(self):
        document = checked(*pair(GOOD, "relu_forward", "relu_backward"), *RELU)
        assert document["exit_code"] == 0
        np.testing.assert_array_equal(gradients(document)["x"], dout_of(document) * (RELU_X > 0))

    def test_batchnorm_stage_by_stage(self):
        document = checked(*pair(GOOD, "batchnorm_forward", "batchnorm_backward"), *BATCHNORM)
        assert document["exit_code"] == 0
        dout, n = dout_of(document), BN_X.shape[0]
        xhat = (BN_X - BN_X.mean(0)) / np.sqrt(BN_X.var(0) + EPS)
        dxhat = dout * GAMMA
        dx = (n * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0)) / (n * np.sqrt(BN_X.var(0) + EPS))
        mine = gradients(document)
        np.testing.assert_allclose(mine["x"], dx, rtol=1e-9, atol=1e-12)  # the paper's closed form
        np.testing.assert_allclose(mine["gamma"], (dout * xhat).sum(0), rtol=1e-9)
        np.testing.assert_allclose(mine["beta"], dout.sum(0), rtol=1e-12)
        assert set(statuses(document).values()) <= {"right", "partial", "helper"}

    @pytest.mark.parametrize("loss", ["svm_loss", "softmax_loss"])
    def test_a_loss_function_that_returns_its_gradient(self, loss):
        document = checked(*pair(GOOD, loss), *LOSS)
        assert document["exit_code"] == 0
        problem = document["problems"][0]
        assert problem["output"] == "loss" and problem["upstream"]["source"] == "one"
        n = len(LABELS)
        if loss == "svm_loss":
            margins = np.maximum(0, SCORES - SCORES[np.arange(n), LABELS][:, None] + 1)
            margins[np.arange(n), LABELS] = 0
            expected = margins.sum() / n
        else:
            shifted = SCORES - SCORES.max(1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
            expected = -log_probs[np.arange(n), LABELS].sum() / n
        assert problem["value"] == pytest.approx(expected, rel=1e-12)
        assert problem["warnings"] == []  # probs feeds only the gradient lines: not an unused stage

    def test_a_forward_function_alone_with_expectations(self):
        dout = np.ones((2, 5))
        result = run_cli(*pair(GOOD, "affine_forward"), *AFFINE, "--upstream", "ones",
                         "--expect", f"db={text(dout.sum(0))}", "--expect", f"out={text(X.reshape(2, -1) @ W + B)}")
        assert result.exit_code == 0, result.stdout + result.stderr

    def test_the_python_api(self):
        code = student_code(load_function(f"{GOOD}:affine_forward", lambda p: Path(p).read_text()),
                            load_function(f"{GOOD}:affine_backward", lambda p: Path(p).read_text()))
        result = bpcli.check(f"{GOOD}:affine_forward", x=X, w=W, b=B, code=code, seed=0)
        assert result.passed and result.problems[0].upstream.source == "random"

    def test_a_real_subprocess(self):
        process = run_process(*pair(GOOD, "affine_forward", "affine_backward"), *AFFINE)
        assert process.returncode == 0, process.stderr
        assert "Upstream gradient dout (random normal values, --seed 0) = [[" in process.stdout
        assert f"{GOOD}:affine_backward" in process.stdout


# ---- students with a typical mistake: exit 1, and the first wrong line -------------------


WRONG = [
    # file, forward, backward, bindings, the wrong statement, the gradient it spoils
    ("wrong_bias.py", "affine_forward", "affine_backward", AFFINE, "db = dout", "b"),
    ("wrong_order.py", "affine_forward", "affine_backward",
     ["-x", text(X), "-w", text(np.linspace(-1, 1, 144).reshape(12, 12)), "-b", text(np.zeros(12))],
     "dw = dout.T.dot(x.reshape(N, -1))", "w"),
    ("wrong_mask.py", "relu_forward", "relu_backward", RELU, "dx = dout * (x >= 0)", "x"),
    ("wrong_n.py", "batchnorm_forward", "batchnorm_backward", BATCHNORM, "dxmu += 2 * xmu * dvar", "x"),
    ("wrong_svm_n.py", "svm_loss", None, LOSS, "dx[np.arange(N), y] -= num_pos", "x"),
]


class TestStudentsWithAMistake:
    @pytest.mark.parametrize("file, forward, backward, bindings, statement, spoiled", WRONG,
                             ids=[case[0] for case in WRONG])
    def test_exit_1_and_the_first_wrong_line(self, file, forward, backward, bindings, statement, spoiled):
        path = STUDENTS / file
        document = checked(*pair(path, forward, backward), *bindings)
        assert document["exit_code"] == 1
        wrong = line_of(path, statement)
        assert document["problems"][0]["backward"]["first_wrong_line"] == wrong
        assert statuses(document)[wrong] == "wrong"
        inputs = document["problems"][0]["inputs"]  # of the gradients returned, only the spoiled one fails
        failed = [e["name"] for e in document["problems"][0]["expectations"] if not e["pass"] and e["name"] in inputs]
        assert failed == [spoiled]

    def test_db_not_summed_is_a_shape_the_other_gradients_right(self):
        document = checked(*pair(STUDENTS / "wrong_bias.py", "affine_forward", "affine_backward"), *AFFINE)
        outcomes = {e["name"]: e for e in document["problems"][0]["expectations"]}
        assert outcomes["x"]["pass"] and outcomes["w"]["pass"]
        assert outcomes["b"]["note"] == "your db has shape (2, 5), but bpcli's has (5,)"

    def test_the_mask_is_wrong_only_where_the_input_is_exactly_zero(self):
        path = STUDENTS / "wrong_mask.py"
        document = checked(*pair(path, "relu_forward", "relu_backward"), *RELU)
        outcome = document["problems"][0]["expectations"][0]
        wrong = np.asarray(outcome["expected"]) != np.asarray(outcome["actual"])
        np.testing.assert_array_equal(wrong, RELU_X == 0)
        assert checked(*pair(path, "relu_forward", "relu_backward"), "-x", "[[1.5, -2.0], [-0.5, 3.0]]")["passed"]

    def test_an_indexed_update_that_sets_is_wrong_where_its_steps_end(self):
        # dx = probs.copy(); dx[idx] = -1; dx /= N: the lines before the last are steps, judged
        # through the last one (docs/numpy.md); the step that sets is one of them.
        path = STUDENTS / "wrong_set.py"
        document = checked(*pair(path, "softmax_loss"), *LOSS)
        assert document["exit_code"] == 1
        lines = statuses(document)
        assert lines[line_of(path, "dx[np.arange(N), y] = -1")] == "step"
        # The chain is judged at its end, but the first wrong line is the step its diagnosis names.
        assert document["problems"][0]["backward"]["first_wrong_line"] == line_of(path, "dx[np.arange(N), y] = -1")

    def test_a_real_subprocess_names_the_line(self):
        path = STUDENTS / "wrong_bias.py"
        process = run_process(*pair(path, "affine_forward", "affine_backward"), *AFFINE)
        assert process.returncode == 1, process.stderr
        assert f"First wrong line: {line_of(path, 'db = dout')}: db = dout" in process.stdout


# ---- what is refused: exit 2, one message naming the file's line ------------------------


def student(tmp_path: Path, backward_body: str, forward_body: str = "    out = x * w\n    cache = (x, w)\n"
            "    return out, cache\n", extra: str = "") -> Path:
    path = tmp_path / "layers.py"
    path.write_text("import numpy as np\n\n\ndef forward(x, w):\n" + forward_body
                    + "\n\ndef backward(dout, cache):\n    x, w = cache\n" + backward_body + extra)
    return path


REFUSED = [
    ("    for i in range(3):\n        dx = dout\n    return dx, dout\n", 12, "a for loop is outside"),
    ("    if True:\n        dx = dout\n    return dx\n", 12, "an if statement is outside"),
    ("    import math\n    dx = dout * w\n    return dx\n", 12, "an import is outside"),
    ("    def helper(a):\n        return a\n    dx = dout * w\n    return dx\n", 12, "a nested function"),
    ("    dx = forward(x, w)\n    return dx\n", 12, "backward calls forward, another function of the file"),
    ("    dx = [dout * w for i in range(2)]\n    return dx\n", 12, "a list comprehension"),
    ("    dx = dout * out\n    return dx\n", 12, "out is neither a parameter of backward nor assigned"),
    ("    dx = dout * cache[0]\n    return dx\n", 12, "unpack the cache first"),
    ("    dx = dout * w\n    dw = dout * x\n    return dw, dx\n", 14, "returns dw in the place of the gradient of x"),
    ("    dx = dout * w\n    print(dx)\n    return dx\n", 13, "a bare expression"),
    ("    dx = dout * w\n    return dx * 2\n", 13, "return values by name"),
]


class TestRefused:
    @pytest.mark.parametrize("body, line, message", REFUSED, ids=[case[2] for case in REFUSED])
    def test_outside_the_subset_is_exit_2_naming_the_line(self, tmp_path, body, line, message):
        path = student(tmp_path, body)
        result = run_cli(*pair(path, "forward", "backward"), "-x", "[1.0, 2.0]", "-w", "[3.0, -1.0]")
        assert result.exit_code == 2, result.stdout
        assert result.stdout == ""
        assert result.stderr.startswith(f"bpcli: error: {path}:backward, line {line}: "), result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr

    def test_a_grammar_error_names_the_files_line(self, tmp_path):
        path = student(tmp_path, "    dx = dout * np.fft(w)\n    return dx\n")
        result = run_cli(*pair(path, "forward", "backward"), "-x", "[1.0, 2.0]", "-w", "[3.0, -1.0]")
        assert result.exit_code == 2
        assert result.stderr.startswith(f"bpcli: error: {path}:backward, line 12: "), result.stderr

    def test_a_forward_error_names_the_files_line(self, tmp_path):
        path = student(tmp_path, "    dx = dout * w\n    return dx\n",
                       forward_body="    \"\"\"Doc.\"\"\"\n    out = x @ w.T.T.reshape(5)\n    return out, (x, w)\n")
        result = run_cli(*pair(path, "forward", "backward"), "-x", "[1.0, 2.0]", "-w", "[3.0, -1.0]")
        assert result.exit_code == 2
        assert result.stderr.startswith(f"bpcli: error: {path}:forward, line 6: "), result.stderr

    @pytest.mark.parametrize("spec, message", [
        ("good_layers.py:no_such_layer", "has no function no_such_layer (its functions: affine_forward, "),
        ("missing.py:affine_forward", "missing.py"),
    ])
    def test_missing_functions_and_files(self, spec, message):
        result = run_cli("check", "--forward", str(STUDENTS / spec), *AFFINE, "--expect", "db=1")
        assert result.exit_code == 2 and message in result.stderr, result.stderr

    def test_a_huge_file_is_refused_unread(self, tmp_path):
        path = tmp_path / "huge.py"
        path.write_text("def f(x):\n    out = x * 2\n    return out\n" + "#" * 5000)
        result = run_cli("check", "--forward", f"{path}:f", "-x", "1", "--expect", "dx=2", "--max-length", "1000")
        assert result.exit_code == 2 and "--max-length" in result.stderr

    def test_nested_beyond_pythons_parser(self, tmp_path):
        path = tmp_path / "chain.py"
        path.write_text("def f(x):\n    out = x" + " + x" * 100_000 + "\n    return out\n")
        result = run_cli("check", "--forward", f"{path}:f", "-x", "1", "--expect", "dx=1")
        assert result.exit_code == 2, result.stderr  # Python's parser gives up: which way depends on its version
        assert f"{path}: nested more deeply than Python's parser reads" in result.stderr or "not valid Python" in \
            result.stderr

    def test_not_python(self, tmp_path):
        path = tmp_path / "broken.py"
        path.write_text("def f(x:\n    return x\n")
        result = run_cli("check", "--forward", f"{path}:f", "-x", "1", "--expect", "dx=1")
        assert result.exit_code == 2 and "line 1: not valid Python" in result.stderr

    def test_the_cache_must_fit_what_the_backward_unpacks(self, tmp_path):
        path = student(tmp_path, "    dx = dout * w\n    return dx\n",
                       forward_body="    out = x * w\n    cache = (x, w, out)\n    return out, cache\n")
        result = run_cli(*pair(path, "forward", "backward"), "-x", "[1.0, 2.0]", "-w", "[3.0, -1.0]")
        assert result.exit_code == 2
        assert "unpacks 2 values (x, w) from a cache that holds 3 (x, w, out" in result.stderr

    def test_the_output_must_be_computed_last(self, tmp_path):
        path = student(tmp_path, "    dx = dout * w\n    return dx\n",
                       forward_body="    out = x * w\n    h = out + 1\n    return out, (x, w)\n")
        result = run_cli(*pair(path, "forward", "backward"), "-x", "[1.0, 2.0]", "-w", "[3.0, -1.0]")
        assert result.exit_code == 2 and "compute out last" in result.stderr

    def test_a_cached_value_the_forward_never_uses(self, tmp_path):
        path = student(tmp_path, "    dx = dout * 2.0\n    return dx\n",
                       forward_body="    out = x * 2.0\n    return out, (x, w)\n")
        result = run_cli(*pair(path, "forward", "backward"), "-x", "[1.0, 2.0]", "-w", "[3.0, -1.0]")
        assert result.exit_code == 2 and "the cache holds w, which forward never uses" in result.stderr

    def test_a_gradient_of_a_parameter_the_forward_never_uses(self, tmp_path):
        path = tmp_path / "layers.py"  # affine without + b: db has no true gradient to be compared with
        path.write_text("def forward(x, w, b):\n    out = x * w\n    return out, x\n\n\n"
                        "def backward(dout, cache):\n    x = cache\n    dx = dout\n    dw = dout * x\n"
                        "    db = dout\n    return dx, dw, db\n")
        result = run_cli(*pair(path, "forward", "backward"), "-x", "[1.0, 2.0]", "-w", "[3.0, -1.0]", "-b", "[0.0, 1.0]")
        assert result.exit_code == 2, result.stderr
        assert "forward never uses its parameter b, so no gradient flows back to it" in result.stderr

    @pytest.mark.parametrize("args, message", [
        (["--file", "f.py"], "give no --file with it"),
        (["--answers", "hw.toml"], "give no expression, bindings, --expect, --forward or --backward with it"),
        ([], "nothing to check: give an expectation (--expect dx=...) or the backward function"),
    ])
    def test_options_that_do_not_go_with_forward(self, args, message):
        result = run_cli("check", "--forward", f"{GOOD}:affine_forward", *args, *AFFINE)
        assert result.exit_code == 2 and message in result.stderr, result.stderr

    def test_a_backward_function_needs_its_forward(self):
        result = run_cli("check", "x*y", "-x", "1", "-y", "2", "--backward", f"{GOOD}:affine_backward")
        assert result.exit_code == 2 and "--forward FILE.py:NAME" in result.stderr


# ---- answers files pick functions too, confined to their folder --------------------------


class TestAnswersFiles:
    def test_functions_picked_by_at_paths(self, tmp_path):
        for name in ("good_layers.py", "wrong_bias.py"):
            (tmp_path / name).write_text((STUDENTS / name).read_text())
        (tmp_path / "hw.toml").write_text(f"""
[[problem]]
name = "affine, right"
expr = "@good_layers.py:affine_forward"
backward = "@good_layers.py:affine_backward"
inputs = {{ x = "{text(X)}", w = "{text(W)}", b = "{text(B)}" }}

[[problem]]
name = "affine, db not summed"
expr = "@wrong_bias.py:affine_forward"
backward = "@wrong_bias.py:affine_backward"
inputs = {{ x = "{text(X)}", w = "{text(W)}", b = "{text(B)}" }}

[[problem]]
name = "softmax"
expr = "@good_layers.py:softmax_loss"
inputs = {{ x = "{text(SCORES)}", y = "{text(LABELS)}" }}
expect = {{ loss = 1.14 }}
""")
        result = run_cli("check", "--answers", str(tmp_path / "hw.toml"), "--json")
        document = json.loads(result.stdout)
        assert result.exit_code == 1
        assert [p["passed"] for p in document["problems"]] == [True, False, True]
        wrong = document["problems"][1]
        assert wrong["backward"]["first_wrong_line"] == line_of(STUDENTS / "wrong_bias.py", "db = dout")
        assert wrong["expression"] == "@wrong_bias.py:affine_forward"
        assert document["problems"][0]["upstream"]["source"] == "random"

    def test_a_path_outside_the_folder_is_refused_unopened(self, tmp_path):
        inside = tmp_path / "student"
        inside.mkdir()
        (inside / "hw.toml").write_text(f"""
[[problem]]
expr = "@../layers.py:affine_forward"
backward = "@../layers.py:affine_backward"
inputs = {{ x = 1 }}

[[problem]]
expr = "@{GOOD}:affine_forward"
inputs = {{ x = 1 }}
expect = {{ dx = 1 }}
""")
        document = json.loads(run_cli("check", "--answers", str(inside / "hw.toml"), "--json").stdout)
        assert document["exit_code"] == 2
        assert [p["error"].split(" is outside")[0] for p in document["problems"]] == ["@../layers.py", f"@{GOOD}"]

    def test_a_link_that_leads_outside_is_refused(self, tmp_path):
        inside = tmp_path / "student"
        inside.mkdir()
        (inside / "layers.py").symlink_to(GOOD)
        (inside / "hw.toml").write_text('[[problem]]\nexpr = "@layers.py:relu_forward"\n'
                                        'backward = "@layers.py:relu_backward"\ninputs = { x = 1 }\n')
        document = json.loads(run_cli("check", "--answers", str(inside / "hw.toml"), "--json").stdout)
        assert document["exit_code"] == 2
        assert document["problems"][0]["error"].startswith("@layers.py is outside the answers file's folder")

    def test_a_backward_function_needs_its_forward_function(self, tmp_path):
        (tmp_path / "layers.py").write_text(GOOD.read_text())
        (tmp_path / "hw.toml").write_text('[[problem]]\nexpr = "x * w"\nbackward = "@layers.py:affine_backward"\n'
                                          'inputs = { x = 1, w = 2 }\n')
        document = json.loads(run_cli("check", "--answers", str(tmp_path / "hw.toml"), "--json").stdout)
        assert "expr must pick its forward function" in document["problems"][0]["error"]


# ---- the program handed to the grammar keeps the file's lines ----------------------------


def test_the_program_keeps_each_statement_at_its_line_and_column():
    source = GOOD.read_text()
    function = read_function(source, "affine_backward", "good_layers.py")
    program = function.program.split("\n")
    original = source.split("\n")
    for number in (line_of(GOOD, "dw = x.reshape(N, -1).T.dot(dout)"), line_of(GOOD, "db = np.sum(dout, axis=0)")):
        assert program[number - 1] == original[number - 1]
    unpacking = line_of(GOOD, "x, w, b = cache")
    assert program[unpacking - 1] == "" and function.unpacked == ("x", "w", "b")
    assert function.returns == ("dx", "dw", "db")


def test_two_statements_on_a_line_and_a_template_line_beside_them():
    source = "def f(x, w):\n    out = None; h = x * w; out = h + 1\n    return out, (x, w)\n"
    function = read_function(source, "f", "s.py")
    assert function.program.split("\n")[1] == "                h = x * w; out = h + 1"
    assert bpcli.grad(function.program, x=2.0, w=3.0).value == 7.0


def test_the_file_is_never_run(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.py"
    path.write_text(f"open({str(marker)!r}, 'w').write('x')\n\ndef f(x):\n    out = x * 2\n    return out\n")
    result = run_cli("check", "--forward", f"{path}:f", "-x", "3", "--expect", "dx=2")
    assert result.exit_code == 0 and not marker.exists()


def test_a_function_missing_raises_bpcli_error():
    with pytest.raises(BpcliError, match="has no function nope"):
        read_function("def f(x):\n    return x\n", "nope", "f.py")


def test_a_backward_function_without_its_forward_is_one_message():
    result = run_cli("check", "x*2", "-x", "1", "--backward", f"{GOOD}:relu_backward")
    assert result.exit_code == 2
    assert "picks a backward function: give its forward function with --forward FILE.py:NAME" in result.stderr
    assert "Traceback" not in result.stderr


SPEC_PATTERN = re.compile(r"(?P<path>.+\.py):(?P<name>[A-Za-z_][A-Za-z0-9_]*)\Z")  # what FILE.py:NAME always meant


@given(st.lists(st.sampled_from(["a", "_", "1", ".py", ":", ".", "/", " ", "\n", "\r", "é", "py"]), max_size=12).map("".join))
def test_a_function_is_picked_exactly_where_the_pattern_of_file_py_name_matches(text):
    """function_spec.split_spec reads FILE.py:NAME without compiling a pattern at start-up: the pattern is
    the oracle (a path of one line ending in .py, a colon, an ASCII identifier; spaces around are not part)."""
    found = SPEC_PATTERN.match(text.strip())
    assert split_spec(text) == (None if found is None else (found.group("path"), found.group("name")))


@pytest.mark.parametrize("text", ["layers.py:affine_forward", " a/b.py:f ", "x.py:y:z.py:g", "my.py:_f1"])
def test_a_pick_names_its_file_and_function(text):
    path, name = split_spec(text)
    assert f"{path}:{name}" == text.strip()

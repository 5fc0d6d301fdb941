"""Hostile and absurd input: one clear message and exit 2 (or a flagged answer), never a crash or a hang.

Each test here is a case the fuzz suite (tests/fuzz/) or a probe of the limits found
giving a traceback, an internal error or a silent wrong answer before it was fixed.
"""

from __future__ import annotations

import io
import json
import os
import subprocess

import numpy as np
import pytest

import bpcli
from bpcli.engine.errors import BpcliError
from helpers import bpcli_executable, on_a_terminal, run_cli, run_process


def refused(result, fragment: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("bpcli: error: ") and result.stderr.count("bpcli: error:") == 1
    assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


class TestValues:
    def test_a_whole_number_of_five_thousand_digits_is_inf_not_a_crash(self):
        result = run_cli("grad", "sum(x)", "-x", "[1" + "0" * 5000 + ", 2]", "--json")
        assert result.exit_code == 0, result.stderr
        doc = json.loads(result.stdout)
        assert doc["value"] == "inf"
        assert [w["kind"] for w in doc["warnings"]] == ["nonfinite-input"]

    def test_a_fill_with_more_dimensions_than_numpy_has(self):
        refused(run_cli("grad", "sum(x)", "-x", "randn:" + ",".join(["1"] * 65)), "at most 64 dimensions")

    def test_a_negative_seed(self):
        result = run_cli("grad", "sum(x)", "-x", "randn:3", "--seed", "-1")
        assert result.exit_code == 2 and "--seed" in result.stderr
        with pytest.raises(BpcliError, match="whole number, 0 or more"):
            from bpcli.engine.values import ValueReader

            ValueReader(seed=-1)

    @pytest.mark.parametrize("suffix", [".json", ".csv", ".npy"])
    def test_files_over_the_element_limit_are_refused_before_they_are_parsed(self, tmp_path, suffix):
        path = tmp_path / f"x{suffix}"
        numbers = np.arange(1000.0)
        if suffix == ".npy":
            np.save(path, numbers)
        elif suffix == ".json":
            path.write_text(json.dumps(numbers.tolist()))
        else:
            path.write_text("\n".join(f"{a},{b}" for a, b in numbers.reshape(-1, 2)))
        refused(run_cli("grad", "sum(x)", "-x", f"@{path}", "--max-elements", "999"), "the limit is 999")
        assert run_cli("grad", "sum(x)", "-x", f"@{path}", "--max-elements", "1000").exit_code == 0

    def test_the_count_comes_before_the_parse(self, tmp_path):
        damaged = tmp_path / "x.json"
        damaged.write_text("[" + "1, " * 1000 + "oops")  # not JSON: a parse would say so first
        refused(run_cli("grad", "sum(x)", "-x", f"@{damaged}", "--max-elements", "999"), "the limit is 999")

    def test_an_npy_header_that_claims_terabytes(self, tmp_path):
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
        path = tmp_path / "x.npy"
        path.write_bytes(header.getvalue() + b"\0" * 16)
        refused(run_cli("grad", "sum(x)", "-x", f"@{path}"), "1,000,000,000,000 elements")

    @pytest.mark.usefixtures("points_path")
    def test_points_lines_nested_too_deeply_or_with_huge_numbers(self, tmp_path):
        deep = tmp_path / "deep.jsonl"
        deep.write_text('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
        refused(run_cli("grad", "x * 2", "--points", str(deep)), "nested too deeply")
        huge = tmp_path / "huge.jsonl"
        huge.write_text('{"x": 1' + "0" * 5000 + "}\n")
        result = run_cli("grad", "x * 2", "--points", str(huge))
        assert result.exit_code == 0 and "x is inf" in result.stderr


class TestAnswersFiles:
    @pytest.mark.parametrize(
        "inputs, fragment",
        [("[" * 100_000 + "1" + "]" * 100_000, "nested too deeply"), ("1" + "0" * 5000, "more than 4,300 digits")],
    )
    def test_values_no_parser_can_read(self, tmp_path, inputs, fragment):
        answers = tmp_path / "hw.toml"
        answers.write_text(f'[[problem]]\nexpr = "sum(x)"\ninputs = {{ x = {inputs} }}\nexpect = {{ dx = 1 }}\n')
        refused(run_cli("check", "--answers", str(answers)), fragment)

    def test_a_fill_over_the_limit_fails_its_problem_only(self, tmp_path):
        answers = tmp_path / "hw.toml"
        answers.write_text('[[problem]]\nexpr = "sum(x)"\ninputs = { x = "randn:100000,100000" }\nexpect = { dx = 1 }\n'
                           '[[problem]]\nexpr = "x * y"\ninputs = { x = 3, y = 2 }\nexpect = { dx = 2 }\n')
        result = run_cli("check", "--answers", str(answers), "--json")
        assert result.exit_code == 2  # a problem could not be checked; the other still is
        problems = json.loads(result.stdout)["problems"]
        assert "the limit is 50,000,000" in problems[0]["error"]
        assert problems[1]["passed"] is True


class TestExpressions:
    @pytest.mark.parametrize("axis", ["1e999", "9" * 400])
    def test_an_axis_beyond_float64(self, axis):
        result = run_cli("grad", f"sum(x, axis={axis})", "-x", "[1, 2]")
        assert result.exit_code == 2 and "Traceback" not in result.stderr and "internal" not in result.stderr

    @pytest.mark.parametrize(
        "expression, fragment",
        [("sum(x, axis=0, axis=1)", "axis is given twice"), ("sum(axis=0, x)", "positional argument follows")],
    )
    def test_keyword_arguments_as_python_allows_them(self, expression, fragment):
        refused(run_cli("grad", expression, "-x", "[[1, 2]]", "--upstream", "ones"), fragment)

    @pytest.mark.parametrize(
        "expression, fragment",
        [("sum(A.T())", ".T(...) is not a method bpcli knows"), ("sum(A.Tx)", ".Tx is not an attribute bpcli knows"),
         ("sum(A.shape)", "x.shape is a tuple of numbers"), ("sum(A.shap)", ".shap is not an attribute"), ("math.pi * x", "constants such as math.pi are not supported")],
    )
    def test_attributes_lex_as_in_python(self, expression, fragment):
        # .T used to be one token, so A.T() and A.Tx were parse errors at the wrong place.
        refused(run_cli("grad", expression, "-A", "[[1, 2], [3, 4]]", "-x", "1"), fragment)

    def test_a_transposed_number_prints_with_parentheses(self):
        from bpcli.engine.syntax.ast import Number, Transpose
        from bpcli.engine.syntax.printer import to_text

        tree = Transpose(Number(2.0, "2"))
        assert to_text(tree) == "(2).T"  # 2.T reads as the number 2. and the name T, in Python too
        assert bpcli.parse(to_text(tree)).statements == (tree,)

    def test_symbolic_derivatives_of_an_expression_without_variables(self):
        result = run_cli("grad", "--symbolic", "--", "2 * 3", "x=1")
        assert result.exit_code == 0, result.stderr
        assert result.stdout == "2 * 3 has no input variables: there is nothing to differentiate\n"
        assert bpcli.symbolic("2 * 3").gradients == {}

    @pytest.mark.parametrize(
        "expression, values",
        [("sum(outer(x, y))", ["-x", "randn:1000000", "-y", "randn:1000000"]),
         ("sum(x + y.T)", ["-x", "randn:100000,1", "-y", "randn:100000,1"])],
    )
    def test_an_intermediate_array_over_the_element_limit(self, expression, values):
        refused(run_cli("grad", expression, *values), "(raise it with --max-elements)")

    def test_the_element_limit_on_intermediates_follows_the_option(self):
        args = ["grad", "sum(outer(x, y))", "-x", "randn:100", "-y", "randn:100"]
        refused(run_cli(*args, "--max-elements", "9999"), "would have 10,000 elements (100, 100); the limit is 9,999")
        assert run_cli(*args, "--max-elements", "10000").exit_code == 0


class TestExpressionLength:
    def test_a_file_longer_than_the_limit_is_not_read_whole(self, tmp_path):
        long = tmp_path / "long.txt"
        long.write_text("x+" * 600_000 + "x")
        refused(run_cli("grad", "--file", str(long)), "more than 1,000,000 bytes")
        # A device is not read at all (issue 17): it is not a regular file.
        refused(run_cli("grad", "--file", "/dev/zero"), "not a regular file")

    def test_a_directory_is_refused_as_a_device_is(self, tmp_path):
        # os.open opens a directory; making a file of it was an internal error (IsADirectoryError, exit 3).
        refused(run_cli("grad", "--file", str(tmp_path)), "not a regular file")
        refused(run_cli("check", "--answers", str(tmp_path)), "not a regular file")

    def test_standard_input_longer_than_the_limit(self):
        text = "x + " * 100 + "x"
        refused(run_cli("grad", "-", "-x", "1", "--max-length", "100", input=text), "(raise the limit with --max-length)")
        result = run_cli("grad", "-", "-x", "1", "--max-length", str(len(text)), "--json", input=text)
        assert json.loads(result.stdout)["gradients"] == {"x": 101.0}

    def test_a_backward_file_longer_than_the_limit(self, tmp_path):
        backward = tmp_path / "mine.py"
        backward.write_text("dx = 1\n" * 100)
        refused(run_cli("check", "x", "-x", "1", "--backward", str(backward), "--max-length", "50"), str(backward))


class TestCommands:
    @pytest.mark.parametrize("value", ["nan", "inf"])
    def test_gradcheck_at_a_nonfinite_input_is_inconclusive(self, value):
        doc = json.loads(run_cli("gradcheck", "x * 2", "-x", value, "--json").stdout)
        assert [c["reading"] for c in doc["checks"]] == ["inconclusive"]

    def test_an_expected_value_beyond_float64(self):
        result = run_cli("check", "x", "-x", "1", "--expect", "dx=1e999")
        assert result.exit_code == 1  # dx is 1, not inf
        assert "Traceback" not in result.stderr

    @pytest.mark.filterwarnings("error::RuntimeWarning")
    def test_diagnosing_a_gradient_of_inf_raises_no_numpy_warning(self):
        result = run_cli("check", "sum(exp(x))", "-x", "[1000, 1]", "--expect", "dx=[1, 2]")
        assert result.exit_code == 1, result.stderr  # wrong, and diagnosed without a RuntimeWarning
        assert "internal error" not in result.stderr

    def test_gradcheck_checks_fewer_elements_of_a_large_input(self, monkeypatch):
        from bpcli.analyses import gradcheck as finite_differences

        monkeypatch.setattr(finite_differences, "WORK_BUDGET", 2_000)
        x = np.linspace(1.0, 2.0, 100)
        sampled = bpcli.gradcheck("sum(x * x)", x=x)
        assert len(sampled.checks) == 2_000 // (2 * (100 + 100 + 1))
        assert [w.kind for w in sampled.warnings] == ["sampled"]
        assert len(bpcli.gradcheck("sum(x * x)", x=x, max_checks=100).checks) == 100

    def test_running_out_of_memory_is_reported_not_a_traceback(self, monkeypatch):
        def exhausted(*args, **kwargs):
            raise MemoryError

        monkeypatch.setattr(bpcli.analyses.grad, "grad_shown", exhausted)  # what the command calls
        refused(run_cli("grad", "x * 2", "-x", "1", "--precision", "3"), "out of memory")


class TestProcess:
    @pytest.mark.parametrize(
        "arguments",
        [[b"grad", b"x # \xe9", b"-x", b"1"], [b"grad", b"x", b"-x", b"\xff"], [b"grad", b"x", b"\xe9=1", b"--json"]],
    )
    def test_arguments_that_are_not_utf8(self, arguments):
        process = subprocess.run([*map(os.fsencode, bpcli_executable()), *arguments], capture_output=True, timeout=60)
        assert process.returncode == 2
        assert process.stdout == b""
        assert process.stderr.startswith(b"bpcli: error: argument ") and b"is not UTF-8 text" in process.stderr
        assert b"Traceback" not in process.stderr

    def test_standard_input_that_is_not_utf8(self):
        process = subprocess.run([*bpcli_executable(), "grad", "-", "-x", "1"], input=b"x * \xe9", capture_output=True)
        assert process.returncode == 2
        assert process.stderr == b"bpcli: error: standard input is not UTF-8 text (byte 4)\n"

    def test_no_color_removes_every_escape_code_on_a_terminal(self):
        env = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "FORCE_COLOR")}
        env.update(TERM="xterm-256color", COLUMNS="120")
        args = ("grad", "relu(x) * y", "-x", "0", "-y", "2", "--precision", "3")
        coloured = on_a_terminal(*args, env=env)
        assert b"\x1b[3" in coloured  # a terminal gets colours (so the test below can fail)
        plain = on_a_terminal(*args, env={**env, "NO_COLOR": "1"})
        assert b"\x1b[" not in plain
        assert "relu at 0".encode() in plain

    def test_a_real_process_reports_a_limit(self):
        process = run_process("grad", "sum(outer(x, y))", "-x", "randn:100000", "-y", "randn:100000")
        assert process.returncode == 2
        assert process.stderr.startswith("bpcli: error: outer(x, y) would have 10,000,000,000 elements")


def test_commands_run_with_docstrings_stripped():
    """python -OO (PYTHONOPTIMIZE=2) strips docstrings, which each command's help is formatted from:
    building the command line must not fail on them (it was an internal error, exit 3)."""
    process = run_process("hessian", "x*y", "-x", "1", "-y", "2", "--json", env={"PYTHONOPTIMIZE": "2"})
    assert process.returncode == 0, process.stderr
    assert json.loads(process.stdout)["hessian"] == [[0.0, 1.0], [1.0, 0.0]]


def test_astype_without_its_type_is_bad_input():
    # x.astype() read the missing type as an expression to print: an internal error (exit 3).
    refused(run_cli("grad", "sum(x.astype())", "-x", "[1, 2]"), "x.astype takes float")

"""Words that match the numbers and the student's own text (issue 18, "Words")."""

from __future__ import annotations

import json

import pytest

import bpcli
from helpers import run_cli, run_process, validated


class TestExplainAtABroadcast:
    PROGRAM = "h = relu(X @ W + b); L = sum(h)"
    VALUES = ["-X", "[[1,2],[3,4]]", "-W", "[[1,-1],[0.5,2]]", "-b", "[0.1,-0.2]"]

    def test_the_broadcast_input_gets_the_upstream_summed_as_the_table_shows(self):
        doc = json.loads(run_cli("grad", self.PROGRAM, *self.VALUES, "--explain", "--json").stdout)
        (add,) = [e["text"] for e in doc["explanation"] if e["name"] == "t2"]
        assert doc["gradients"]["b"] == [2.0, 2.0]
        assert "unchanged to t1 and b" not in add
        assert "t1 gets it unchanged, b gets it summed over the broadcast axes = [2, 2]" in add

    def test_without_a_broadcast_add_still_distributes_unchanged(self):
        doc = json.loads(run_cli("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--explain", "--json").stdout)
        assert any("distributes it unchanged to x and y" in e["text"] for e in doc["explanation"])


class TestCheckHints:
    def test_a_bare_expression_is_staged_as_the_user_wrote_it(self):
        result = run_cli("check", "sigmoid(w*x + b)", "-w", "2", "-x", "-1", "-b", "-3", "--expect", "p=6")
        assert result.exit_code == 2
        assert "q = x + y; f = q * z" not in result.stderr
        assert "t1 = w * x; t2 = t1 + b; f = sigmoid(t2)" in result.stderr

    def test_diagnoses_use_the_students_names_and_text(self):
        result = run_cli("check", "a = x*y; f = a*(-x)", "-x", "2", "-y", "3", "--expect", "dx=-6")
        assert result.exit_code == 1
        text = " ".join(result.stdout.split())
        assert "dx = -6 (via -x) + -6 (via a = x * y) = -12" in text
        assert "t1" not in text and "t2" not in text

    def test_a_mistake_at_an_unnamed_stage_reads_as_the_students_expression(self):
        r = bpcli.check("(x+y)*z", x=-2, y=5, z=-4, expect={"dy": 3})
        diagnosis = r.problems[0].outcomes[0].diagnosis
        assert diagnosis.mistake == "multiply-not-swapped"
        assert "stage f = (x + y) * z" in diagnosis.message
        assert "d(x + y) = z · df" in diagnosis.hint

    def test_a_stage_that_only_renames_stays_addressable(self):
        r = bpcli.check("a = x; f = a*y", x=2, y=3, expect={"a": 2, "da": 3})
        assert r.passed and r.score["met"] == 2

    def test_a_backward_files_parse_error_names_the_file(self, tmp_path):
        backward = tmp_path / "mine.py"
        backward.write_text("dz = q\ndq = z *\n")
        result = run_cli("check", "q = x + y; f = q * z", "-x", "-2", "-y", "5", "-z", "-4", "--backward", str(backward))
        assert result.exit_code == 2
        assert result.stderr.startswith(f"bpcli: error: {backward}: parse error at line 2")

    def test_a_malformed_answers_file_with_json_still_prints_a_document(self, tmp_path):
        answers = tmp_path / "hw.toml"
        answers.write_text("[problem\nexpr = 'x'\n")
        result = run_cli("check", "--answers", str(answers), "--json")
        assert result.exit_code == 2
        doc = validated(result.stdout)
        assert doc["schema"] == "bpcli.check/1" and doc["exit_code"] == 2 and doc["problems"] == []
        (file,) = doc["files"]
        assert file["answers"] == str(answers) and file["error"].startswith(f"{answers} is not valid TOML")
        assert "is not valid TOML" in result.stderr


class TestOptionWords:
    def test_a_word_close_to_an_option_suggests_it(self):
        result = run_cli("grad", "x*y", "-x", "1", "-y", "2", "--jsn")
        assert result.exit_code == 2
        assert "did you mean --json?" in result.stderr and "goes before --" not in result.stderr

    def test_an_option_after_double_dash_says_to_put_it_before(self):
        result = run_cli("grad", "--", "x*y", "-x", "1", "-y", "2", "--json")
        assert result.exit_code == 2
        assert "put the options before --" in result.stderr

    def test_a_close_word_with_a_value_may_still_be_a_binding(self):
        result = run_cli("grad", "jsonn * 2", "--jsonn", "3", "--json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["gradients"] == {"jsonn": 2.0}

    @pytest.mark.parametrize("arguments", [["grad", "--version"], ["grad", "x", "-x", "1", "--version"],
                                           ["hessian", "x*y", "--version"], ["gates", "relu", "--version"],
                                           ["schema", "grad", "--version"]])
    def test_version_anywhere_is_the_option(self, arguments):
        result = run_process(*arguments)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("bpcli ")

    def test_help_anywhere_is_the_option(self):
        result = run_process("grad", "x", "-x", "1", "--help")
        assert result.returncode == 0 and result.stdout.startswith("Usage: bpcli grad")


class TestParseHints:
    MULTIPLY = "multiplication is written with *"

    @pytest.mark.parametrize("expression", ["2x", "2 x", "x y", "(x+1)(y)"])
    def test_side_by_side_values_get_the_multiplication_hint(self, expression):
        assert self.MULTIPLY in run_cli("grad", expression, "-x", "1", "-y", "2").stderr

    @pytest.mark.parametrize("expression, hint", [
        ("exp x", "a function is called with parentheses: exp(x)"),
        ("import os", "'import' is Python"),
    ])
    def test_a_function_without_parentheses_or_python_gets_its_own_hint(self, expression, hint):
        result = run_cli("grad", expression, "-x", "1")
        assert result.exit_code == 2
        assert hint in result.stderr and self.MULTIPLY not in result.stderr

    def test_a_cyrillic_letter_is_not_ascii(self):
        result = run_cli("grad", "х*y", "-y", "1")  # the first letter is Cyrillic
        assert "is not ASCII" in result.stderr and "did you mean the Latin 'x'?" in result.stderr
        result = run_cli("grad", "x*y", "-х", "1", "-y", "1")
        assert "is not ASCII" in result.stderr and "letters, digits and _ and starts" not in result.stderr

    @pytest.mark.parametrize("value, spelt", [("[nan, 1]", "NaN"), ("[1, -inf]", "-Infinity")])
    def test_nan_in_a_json_value_says_how_json_spells_it(self, value, spelt):
        result = run_cli("grad", "sum(x)", "-x", value)
        assert result.exit_code == 2
        assert f"write {spelt}" in result.stderr


def test_order_leaves_out_formulas_too_large_without_mentioning_symbolic():
    result = run_cli("grad", "sigmoid(x)*tanh(x)", "-x", "0.3", "--order", "3", "--max-nodes", "100", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [w["kind"] for w in doc["warnings"]] == ["formulas-left-out"]
    assert "--symbolic" not in result.stderr
    exact = bpcli.derivative("sigmoid(x)*tanh(x)", x=0.3, order=3).value
    assert doc["derivatives"][-1]["value"] == exact


def test_order_leaves_out_formulas_past_reading_and_says_symbolic_writes_them():
    # sigmoid's 12th derivative is 117,000 characters: simplifying such formulas took minutes by order 15
    result = run_cli("grad", "sigmoid(x)", "-x", "0.3", "--order", "12", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [w["kind"] for w in doc["warnings"]] == ["formulas-left-out"]
    assert "past 20,000 terms and factors" in doc["warnings"][0]["message"]
    assert "--symbolic --order N writes them" in doc["warnings"][0]["message"]
    assert [d["formula"] for d in doc["derivatives"]] == [None] * 13
    assert doc["derivatives"][-1]["value"] == bpcli.derivative("sigmoid(x)", x=0.3, order=12).value
    symbolic = run_cli("grad", "sigmoid(x)", "--symbolic", "--order", "12")
    assert symbolic.exit_code == 0 and "d¹²f/dx¹²" in symbolic.stdout


def test_order_keeps_formulas_that_can_be_read():
    doc = json.loads(run_cli("grad", "sigmoid(x)", "-x", "0.3", "--order", "10", "--json").stdout)
    assert doc["warnings"] == [] and all(d["formula"] for d in doc["derivatives"])

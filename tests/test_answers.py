"""Answers files: many [[problem]] tables checked in one process, with a score and per-problem errors."""

from __future__ import annotations

import json
import random
import textwrap

import numpy as np
import pytest

import bpcli
from helpers import REPO, run_cli, run_process

DATA = REPO / "tests" / "data"

HOMEWORK = """
[[problem]]
name = "neuron"
expr = "sigmoid(w0*x0 + w1*x1 + w2)"
inputs = { w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3 }
expect = { f = 0.7311, dx0 = 0.3932, dx1 = -0.5898, dw0 = -0.1966, dw1 = -0.3932, dw2 = 0.1966 }

[[problem]]
name = "add then multiply"
expr = "q = x + y; f = q * z"
inputs = { x = -2, y = 5, z = -4 }
expect = { dx = -4, dy = -4, dz = -4, q = 3 }

[[problem]]
name = "staged"
expr = "@forward.py"
inputs = { x = 3, y = -4 }
backward = "@mine.py"
"""


def write(tmp_path, text: str, backward: str | None = None):
    (tmp_path / "forward.py").write_text((DATA / "notes_forward.py").read_text())
    (tmp_path / "mine.py").write_text(backward or (DATA / "notes_backward.py").read_text())
    path = tmp_path / "hw.toml"
    path.write_text(textwrap.dedent(text))
    return path


class TestAnswersFiles:
    def test_a_report_per_problem_and_a_score(self, tmp_path):
        path = write(tmp_path, HOMEWORK)
        result = run_cli("check", "--answers", str(path))
        assert result.exit_code == 1, result.stdout + result.stderr
        out = result.stdout
        assert "Score: 2 of 3 problems right (67%), 18 of 19 expectations met." in out
        assert "Problem 2: add then multiply" in out
        assert "✗ dz = -4, but ∂f/∂z = 3" in out
        assert "multiply gate swaps its inputs" in out
        assert "Problem 1" not in out and "Problem 3" not in out  # right problems are not detailed

    def test_json_for_grading_scripts(self, tmp_path):
        doc = json.loads(run_cli("check", "--answers", str(write(tmp_path, HOMEWORK)), "--json").stdout)
        assert doc["schema"] == "bpcli.check/1"
        assert doc["answers"].endswith("hw.toml")
        assert doc["score"] == {"problems": 3, "passed": 2, "expectations": 19, "met": 18}
        names = [(p["index"], p["name"], p["passed"]) for p in doc["problems"]]
        assert names == [(1, "neuron", True), (2, "add then multiply", False), (3, "staged", True)]
        dz = next(e for e in doc["problems"][1]["expectations"] if e["key"] == "dz")
        assert (dz["expected"], dz["actual"], dz["pass"]) == (-4.0, 3.0, False)
        assert dz["diagnosis"]["mistake"] == "multiply-not-swapped"
        staged = doc["problems"][2]
        assert staged["backward"]["file"] == "mine.py" and staged["backward"]["first_wrong_line"] is None

    def test_all_right_exits_0(self, tmp_path):
        path = write(tmp_path, HOMEWORK.replace("dz = -4", "dz = 3"))
        assert bpcli.check_answers(path).exit_code == 0

    def test_a_problem_that_cannot_be_checked_is_its_own_error(self, tmp_path):
        broken = HOMEWORK + '\n[[problem]]\nexpr = "(x+"\ninputs = { x = 1 }\nexpect = { dx = 1 }\n'
        result = run_cli("check", "--answers", str(write(tmp_path, broken)))
        assert result.exit_code == 2
        assert "Problem 4: (x+" in result.stdout and "error: parse error" in result.stdout
        assert "Score: 2 of 4 problems right" in result.stdout  # the others were still checked

    def test_toml_floats_keep_their_digits(self, tmp_path):
        problem = '[[problem]]\nexpr = "x*y"\ninputs = {{ x = 0.24, y = 1 }}\nexpect = {{ dy = {} }}\n'
        assert bpcli.check_answers(write(tmp_path, problem.format("0.2"))).passed
        assert not bpcli.check_answers(write(tmp_path, problem.format("0.20"))).passed

    def test_arrays_strings_and_files_beside_the_answers_file(self, tmp_path):
        np.save(tmp_path / "dW.npy", np.array([[0.5, -1.0], [0.5, -1.0]]))
        text = """
        [[problem]]
        expr = "W @ x"
        inputs = { W = [[1, 2], [3, 4]], x = "[0.5, -1]" }
        upstream = [1, 1]
        expect = { dW = "@dW.npy", dx = [4, 6], "d(W)" = [[0.5, -1.0], [0.5, -1.0]] }
        """
        duplicated = bpcli.check_answers(write(tmp_path, text))
        assert duplicated.exit_code == 2 and "d(W) and dW expect the same thing" in duplicated.problems[0].error
        result = bpcli.check_answers(write(tmp_path, text.replace(', "d(W)" = [[0.5, -1.0], [0.5, -1.0]]', "")))
        assert result.exit_code == 0, result.problems[0].error

    @pytest.mark.parametrize("text, fragment", [
        ("[[problem]\nexpr = 1", "is not valid TOML"),
        ("title = 'hw'\n[[problem]]\nexpr = 'x'\nexpect = { x = 1 }", "unknown top-level key 'title'"),
        ("[[problem]]\nexpr = 'x'\nexpects = { x = 1 }", "unknown key 'expects'"),
        ("[[problem]]\ninputs = { x = 1 }\nexpect = { x = 1 }", "expr, the expression, is missing"),
        ("[[problem]]\nexpr = 'x'\ninputs = { x = 1 }", "nothing to check"),
        ("", "has no problems"),
    ])
    def test_a_malformed_file_is_bad_input(self, tmp_path, text, fragment):
        result = run_cli("check", "--answers", str(write(tmp_path, text)))
        assert result.exit_code == 2
        assert fragment in result.stderr


def thousand_problems(seed: int = 0) -> tuple[str, int]:
    """1,000 problems over four expressions; every seventh has a wrong gradient."""
    rng = random.Random(seed)
    forms = [
        ("q = x + y; f = q * z", lambda x, y, z: {"dx": z, "dy": z, "dz": x + y, "q": x + y}),
        ("f = max(x, y) * z", lambda x, y, z: {"dz": max(x, y), "f": max(x, y) * z}),
        ("a = x * y; f = a + x * z", lambda x, y, z: {"dx": y + z, "dy": x, "dz": x}),
        ("f = x * x + y * z", lambda x, y, z: {"dx": 2 * x, "dy": z, "dz": y}),
    ]
    tables, wrong = [], 0
    for index in range(1000):
        expression, answers = forms[index % len(forms)]
        x, y, z = rng.randint(-9, 9), rng.randint(-9, 9) + 20, rng.randint(-9, 9)
        expect = answers(x, y, z)
        if index % 7 == 0:
            key = next(iter(expect))
            expect[key] = expect[key] + 3
            wrong += 1
        cells = ", ".join(f'"{key}" = {value}' for key, value in expect.items())
        tables.append(f'[[problem]]\nexpr = "{expression}"\ninputs = {{ x = {x}, y = {y}, z = {z} }}\n'
                      f"expect = {{ {cells} }}\n")
    return "\n".join(tables), wrong


@pytest.mark.slow
def test_a_thousand_problems_in_one_process(tmp_path):
    text, wrong = thousand_problems()
    path = tmp_path / "hw.toml"
    path.write_text(text)
    process = run_process("check", "--answers", str(path), "--json")
    assert process.returncode == 1, process.stderr
    doc = json.loads(process.stdout)
    assert doc["score"]["problems"] == 1000
    assert doc["score"]["passed"] == 1000 - wrong
    failed = [p["index"] for p in doc["problems"] if not p["passed"]]
    assert failed == [i + 1 for i in range(0, 1000, 7)]

"""%bpcli and %%bpcli: the command line's words, results as objects, values from the notebook.

The magic's work is bpcli.cli.magic.run(line, cell, namespace); these tests call
it as IPython does (the kernel test, test_notebook_kernel.py, runs it through
a real %load_ext in a real kernel).
"""

from __future__ import annotations

import numpy as np
import pytest

import bpcli
from bpcli.cli.magic import run
from helpers import REPO, run_cli, validated

STAGED = "q = x + y; f = q * z"
RIGHT_BACKWARD = "dq = z\ndz = q\ndx = dq\ndy = dq\n"
WRONG_BACKWARD = "dq = z\ndz = q\ndx = -dq\ndy = dq\n"


def test_line_grad_is_the_library_result():
    result = run('grad "(x+y)*z" -x -2 -y 5 -z -4', None, {})
    assert isinstance(result, bpcli.GradResult)
    assert (result.value, result.gradients) == (-12.0, {"x": -4.0, "y": -4.0, "z": 3.0})


def test_values_come_from_the_notebook_by_dollar_and_by_name():
    namespace = {"a": -2, "z": -4.0, "y": np.float64(5)}
    result = run('grad "(x+y)*z" -x $a', None, namespace)  # y and z: notebook variables of those names
    assert result.gradients == {"x": -4.0, "y": -4.0, "z": 3.0}
    written = run('grad "(x+y)*z" -x $a -y 1 -z 1', None, namespace)  # the line wins over the notebook
    assert written.value == -1.0


def test_arrays_from_the_notebook():
    namespace = {"v": np.array([1.0, -2.0, 3.0, -1.0]), "up": [4, -1, 5, 9]}
    result = run('grad "relu(x)" -x $v --upstream $up', None, namespace)
    assert result.gradients["x"].tolist() == [4.0, 0.0, 5.0, 0.0]


class _Sneaky:
    touched = False

    def __float__(self) -> float:
        _Sneaky.touched = True
        return 1.0


@pytest.mark.parametrize(("line", "message"), [
    ('grad "x*2" -x $nothing', "the notebook has no variable named nothing"),
    ('grad "x*2" -x "$__import__(\'os\')"', "the notebook has no variable named __import__('os')"),
    ('grad "x*2" -x $s', "s is a _Sneaky, not a number or an array"),
    ('grad "x*2" -x $text', "text is a str, not a number or an array"),
])
def test_names_are_looked_up_never_evaluated(line, message, capsys):
    assert run(line, None, {"s": _Sneaky(), "text": "1+1"}) is None
    error = capsys.readouterr().err
    assert error.startswith("error: x = $") and error.endswith(f": {message}\n")
    assert not _Sneaky.touched


@pytest.mark.parametrize(("line", "cell", "message"), [
    ("", None, "error: %bpcli COMMAND EXPR"),
    ('nope "x"', None, "error: %bpcli COMMAND EXPR"),
    ('grad "x+" -x 1', None, "error: parse error at line 1, column 3"),
    ('grad "x*y" -x 1', None, "error: unbound variable: y"),
    ('grad "x', None, "error: cannot split the line into words"),
    ('grad "x*2" -x 1 --precision 99', None, "error: Invalid value for '--precision'"),
    ('grad "x*2" -x 1', "dx = 2", "error: the cell of %%bpcli is a backward pass to check"),
    ('grad "x*2" -x 1 --points p.csv', None, "error: --points writes a file of rows"),
    ("grad $nothing -x 1", None, "error: $nothing: the notebook has no string named nothing"),
])
def test_bad_input_is_one_message_never_a_traceback(line, cell, message, capsys):
    assert run(line, cell, {}) is None
    error = capsys.readouterr().err
    assert error.startswith(message) and "Traceback" not in error


def test_cell_check_marks_the_wrong_line():
    result = run("check --forward fwd -x -2 -y 5 -z -4", WRONG_BACKWARD, {"fwd": STAGED})
    assert isinstance(result, bpcli.CheckResult) and not result.passed
    lines = result.problems[0].backward.lines
    assert [(line.number, line.status) for line in lines] == [(1, "right"), (2, "right"), (3, "wrong"), (4, "right")]
    shown = result._repr_html_()
    wrong = [row for row in shown.split("<tr") if 'class="wrong"' in row]
    assert len(wrong) == 2 and "dx = -dq" in wrong[0]  # the line, and its expectation dx
    assert run("check --forward fwd -x -2 -y 5 -z -4", RIGHT_BACKWARD, {"fwd": STAGED}).passed


def test_cell_check_forward_may_be_the_expression_itself():
    result = run(f'check --forward "{STAGED}" -x -2 -y 5 -z -4 --expect dz=3', RIGHT_BACKWARD, {})
    assert result.passed and result.score["expectations"] == 5


def test_the_expression_may_be_a_notebook_string_named_with_a_dollar():
    namespace = {"expr": STAGED, "x": "not an expression, not a value"}
    assert run("grad $expr -x -2 -y 5 -z -4", None, namespace).value == -12.0
    assert run("grad x -x 3", None, namespace).value == 3.0  # a bare name is the expression itself


def test_line_check_with_expectations():
    result = run(f'check "{STAGED}" -x -2 -y 5 -z -4 --expect dx=-4 --expect dz=-4', None, {})
    assert [o.passed for o in result.problems[0].outcomes] == [True, False]


def test_json_prints_the_document(capsys):
    assert run('grad "(x+y)*z" -x -2 -y 5 -z -4 --json', None, {}) is None
    assert validated(capsys.readouterr().out)["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}


def test_the_other_commands():
    assert run('gradcheck "x*y" -x 3 -y 2', None, {}).passed
    assert run('hessian "x*x*y" -x 1 -y 2', None, {}).matrix.tolist() == [[4.0, 2.0], [2.0, 0.0]]
    jacobian = run("jacobian \"x*y\" -x '[1,2]' -y 3", None, {})
    assert (jacobian.matrix("x").tolist(), jacobian.matrix("y").tolist()) == ([[3.0, 0.0], [0.0, 3.0]], [[1.0], [2.0]])
    assert run('grad "x**3" -x 2 --order 2', None, {}).value == 12.0
    symbolic = run('grad "x*y" --symbolic', None, {"x": 5})  # --symbolic binds nothing by name
    assert isinstance(symbolic, bpcli.SymbolicResult)
    assert run('graph "x*y" -x 2 -y 3', None, {}).gradients == {"x": 3.0, "y": 2.0}


def test_load_ext_registers_the_magic():
    interactive = pytest.importorskip("IPython.core.interactiveshell", reason="IPython is not installed")
    shell = interactive.InteractiveShell.instance()
    try:
        shell.run_line_magic("load_ext", "bpcli")
        shell.user_ns["x"] = -2
        result = shell.run_line_magic("bpcli", 'grad "(x+y)*z" -x $x -y 5 -z -4')
        assert result.gradients == {"x": -4.0, "y": -4.0, "z": 3.0}
        checked = shell.run_cell_magic("bpcli", f'check --forward "{STAGED}" -y 5 -z -4', WRONG_BACKWARD)
        assert not checked.passed
    finally:
        interactive.InteractiveShell.clear_instance()


def test_graph_writes_the_page_as_the_command_does(tmp_path):
    target = tmp_path / "circuit.html"
    result = run(f'graph "(x+y)*z" -x -2 -y 5 -z -4 --format html -o {target}', None, {})
    assert result.value == -12.0
    printed = run_cli("graph", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--format", "html")
    assert target.read_text(encoding="utf-8") == printed.stdout


@pytest.mark.parametrize("option", ["-o", "--out"])
def test_graph_writes_the_file_with_either_spelling_of_out(tmp_path, option):
    target = tmp_path / "circuit.dot"
    run(f'graph "(x+y)*z" -x -2 -y 5 -z -4 {option} {target}', None, {})  # --out was an AttributeError
    printed = run_cli("graph", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4")
    assert target.read_text(encoding="utf-8") == printed.stdout


def test_gradients_only_shortens_the_document_as_on_the_command_line(capsys):
    assert run('grad "(x+y)*z" -x -2 -y 5 -z -4 --json --gradients-only', None, {}) is None
    printed = run_cli("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--json", "--gradients-only")
    assert capsys.readouterr().out == printed.stdout  # the stages were printed too
    assert run('grad "x*y" -x 1 -y 2 --gradients-only', None, {}) is None  # not silently the table
    assert "--gradients-only shortens the JSON document: use it with --json" in capsys.readouterr().err
    assert run('grad "x*y" -x 1 -y 2 --order 2 --wrt x --json --gradients-only', None, {}) is None  # not ignored
    assert "does not go with --order or --symbolic" in capsys.readouterr().err


def test_check_writes_its_html_report_as_the_command_does(tmp_path):
    target = tmp_path / "report.html"
    run(f'check "x*y" -x 1 -y 2 --expect dx=3 --html {target}', None, {})  # was ignored: no file
    report = target.read_text(encoding="utf-8")
    assert report.startswith("<!DOCTYPE html>") and report.endswith("</html>\n")  # the whole page, not an empty file
    assert run_cli("check", "x*y", "-x", "1", "-y", "2", "--expect", "dx=3", "--html", "-").stdout.startswith(
        target.read_text(encoding="utf-8"))


def test_answers_files_are_for_check_answers(capsys, tmp_path):
    answers = tmp_path / "answers.toml"
    answers.write_text('[[problem]]\nexpr = "x*y"\ninputs = {x = 1, y = 2}\n')
    assert run(f"check --answers {answers}", None, {}) is None
    assert "in a notebook call bpcli.check_answers(PATH)" in capsys.readouterr().err  # not "give an expression"


def test_max_elements_bounds_the_run_as_on_the_command_line(capsys):
    assert run("grad \"sum(outer(x, x))\" -x '[1, 2, 3]' --max-elements 5", None, {}) is None
    assert "the limit is 5" in capsys.readouterr().err


def test_max_total_elements_bounds_the_run_as_on_the_command_line(capsys):
    assert run("grad \"sum(exp(x))\" -x '[1, 2, 3]' --max-total-elements 5", None, {}) is None
    err = capsys.readouterr().err
    assert "numbers at once" in err and "the budget is 5 numbers" in err, err


def test_the_cell_magic_example_of_docs_notebook_md_passes():
    """docs/notebook.md's %%bpcli check example (the lecture's backward pass) is right, as the page says."""
    text = (REPO / "docs" / "notebook.md").read_text(encoding="utf-8")
    forward = text.split('fwd = """', 1)[1].split('"""', 1)[0]
    magic, cell = text.split("```python\n%%bpcli ", 1)[1].split("```", 1)[0].split("\n", 1)
    result = run(magic, cell, {"fwd": forward})
    assert result.passed and result.score["met"] == result.score["expectations"] == 9


STUDENTS = REPO / "tests" / "fixtures" / "students"
AFFINE_ARGS = "-x randn:2,3,4 -w randn:12,5 -b randn:5"


@pytest.mark.parametrize("student", ["good_layers.py", "wrong_bias.py"])
def test_check_picks_functions_from_files_as_the_command_line_does(student):
    """--forward FILE.py:NAME --backward FILE.py:NAME: the same values, seeded upstream and verdicts as bpcli check."""
    pair = f"--forward {STUDENTS / 'good_layers.py'}:affine_forward --backward {STUDENTS / student}:affine_backward"
    result = run(f"check {pair} {AFFINE_ARGS} --seed 4", None, {})
    assert isinstance(result, bpcli.CheckResult)
    command = run_cli("check", *pair.split(), *AFFINE_ARGS.split(), "--seed", "4", "--json")
    assert command.exit_code == result.exit_code, command.stderr
    problem, = validated(command.stdout)["problems"]
    mine = result.problems[0]
    assert (mine.upstream.source, mine.upstream.seed) == ("random", 4)
    np.testing.assert_array_equal(mine.upstream.value, problem["upstream"]["value"])
    assert [(o.key, o.passed, o.line) for o in mine.outcomes] == [
        (e["key"], e["pass"], e["line"]) for e in problem["expectations"]]
    for outcome, expectation in zip(mine.outcomes, problem["expectations"]):
        np.testing.assert_array_equal(outcome.actual, expectation["actual"])


@pytest.mark.parametrize(("plain", "passed"), [("dx = dout * (x > 0)\n", True), ("dx = dout\n", False)])
def test_a_plain_backward_file_of_a_picked_forward_is_checked_as_the_notebook_checks_it(plain, passed, tmp_path):
    """--forward FILE.py:NAME --backward PLAIN.py (the notes' style, over the function's own names): the command
    line checks it, with the notebook's verdicts, numbers and seeded upstream."""
    (tmp_path / "relu_backward.py").write_text(plain)
    words = (f"--forward {STUDENTS / 'good_layers.py'}:relu_forward --backward {tmp_path / 'relu_backward.py'} "
             "-x [[1.5,-2.0,0.5]] --seed 3").split()
    mine = run(" ".join(["check", *words]), None, {}).problems[0]
    command = run_cli("check", *words, "--json")
    assert command.exit_code == (0 if passed else 1), command.stderr
    problem, = validated(command.stdout)["problems"]
    assert [(o.key, o.passed, o.line) for o in mine.outcomes] == [
        (e["key"], e["pass"], e["line"]) for e in problem["expectations"]] == [("dx", passed, 1)]
    np.testing.assert_array_equal(mine.upstream.value, problem["upstream"]["value"])
    for outcome, expectation in zip(mine.outcomes, problem["expectations"]):
        np.testing.assert_array_equal(outcome.actual, expectation["actual"])
    assert problem["backward"]["file"] == mine.backward.label == str(tmp_path / "relu_backward.py")


def test_a_loss_with_its_own_gradient_takes_no_other_backward_pass(tmp_path, capsys):
    """softmax_loss returns its own dx: a backward file besides it was ignored; now it is refused, on both paths."""
    (tmp_path / "back.py").write_text("dx = dloss\n")
    line = (f"check --forward {STUDENTS / 'good_layers.py'}:softmax_loss --backward {tmp_path / 'back.py'} "
            "-x [[1.5,-2.0,0.5]] -y [0]")
    command = run_cli(*line.split())
    assert command.exit_code == 2 and "give no backward pass with it" in command.stderr
    assert run(line, None, {}) is None and "give no backward pass with it" in capsys.readouterr().err


def test_a_student_function_takes_values_from_the_notebook_by_name():
    x = np.array([[1.5, -2.0, 0.0], [-0.5, 3.0, 0.25]])
    result = run(f"check --forward {STUDENTS / 'wrong_mask.py'}:relu_forward "
                 f"--backward {STUDENTS / 'wrong_mask.py'}:relu_backward --upstream ones", None, {"x": x})
    assert result.problems[0].inputs["x"].tolist() == x.tolist()  # x, the function's parameter, from the notebook
    (dx,) = result.problems[0].outcomes
    assert not dx.passed and dx.diagnosis.mistake == "relu-mask"


def test_the_cell_is_a_backward_pass_of_a_picked_forward_function():
    forward = f"check --forward {STUDENTS / 'good_layers.py'}:relu_forward -x '[1.5, -2, 0.5]' --upstream '[1, 2, 3]'"
    right = run(forward, "dx = dout * (x > 0)", {})
    assert right.passed and right.problems[0].backward.label == "the cell"
    wrong = run(forward, "dx = dout", {})
    assert not wrong.passed and wrong.problems[0].outcomes[0].actual.tolist() == [1.0, 0.0, 3.0]


@pytest.mark.parametrize(("line", "cell", "message"), [
    ("grad --forward layers.py:affine_forward -x 1", None, "picks a function from a file for check"),
    ('check "x*2" -x 1 --backward layers.py:relu_backward', None, "picks a backward function: give its forward"),
    ("check --forward {good}:relu_forward --backward {good}:relu_backward -x 1", "dx = 1", "not both"),
    ("check --forward {good}:relu_forward -x 1", None, "nothing to check"),
    ("check --forward {good}:nope -x 1", None, "has no function nope"),
    ("check --forward {good}:relu_forward --file f.py -x 1", None, "give no --file with it"),
])
def test_picking_functions_badly_is_one_message(line, cell, message, capsys):
    assert run(line.format(good=STUDENTS / "good_layers.py"), cell, {}) is None
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and "Traceback" not in error


def test_the_student_function_examples_of_docs_notebook_md_pass(tmp_path, monkeypatch):
    """docs/notebook.md's --forward FILE.py:NAME lines, run on the correct student's layers.py."""
    (tmp_path / "layers.py").write_text((STUDENTS / "good_layers.py").read_text())
    monkeypatch.chdir(tmp_path)
    text = (REPO / "docs" / "notebook.md").read_text(encoding="utf-8").split("**A student's functions.**", 1)[1]
    line = text.split("```python\n", 1)[1].split("```", 1)[0].splitlines()[1]
    rng = np.random.default_rng(1)
    namespace = {"x": rng.normal(size=(4, 2, 3)), "w": rng.normal(size=(6, 5)), "b": rng.normal(size=5)}
    assert run(line.removeprefix("%bpcli "), None, namespace).score["met"] == 3
    magic, cell = text.split("```python\n%%bpcli ", 1)[1].split("```", 1)[0].split("\n", 1)
    assert run(magic, cell, {}).passed

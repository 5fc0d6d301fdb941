"""Hostile input found by trying to break bpcli as its users and attackers would.

Each test reproduces one defect against the contract (bad input: one message on
stderr and exit 2, never exit 3; text from input escaped before a terminal; work
bounded before it starts); numpy, run by the harness on the same text, is the
oracle for values.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

import bpcli
from bpcli.engine.printable import printable
from helpers import run_cli, run_process


def _bad_input(*args: str) -> str:
    """The one message of a run that must be bad input (exit 2, no traceback)."""
    result = run_cli(*args)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return result.stderr


# ---- np.var and np.std with no degrees of freedom left ---------------------------


def _numpy(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy warns of the division by zero it does
        return function(*args, **kwargs)


@pytest.mark.parametrize("ddof", [1, 2])
def test_var_of_a_number_with_ddof_is_numpys_nan_not_an_internal_error(ddof):
    result = run_cli("grad", f"f = np.var(x, ddof={ddof})", "-x", "3", "--json")
    assert result.exit_code == 0, result.stderr
    assert np.isnan(_numpy(np.var, 3.0, ddof=ddof))
    assert '"value": "nan"' in result.stdout


@pytest.mark.parametrize("text", ["np.var(m, ddof=1.0)", "np.var(m, ddof=1.5)", "m.var(ddof=-1)",
                                  "np.std(m, axis=0, ddof=0.5)", "np.var(x, ddof=0.5)", "np.var(x, ddof=-2)"])
def test_ddof_is_any_number_as_numpy_takes_it(text):
    """numpy takes ddof=1.0 and ddof=1.5 (it was refused: "a whole number ..., or a tuple of them")."""
    m, x = np.array([[1.0, 2, 4], [4, 5, 9]]), 3.0
    expected = eval(text, {"np": np, "m": m, "x": x})  # noqa: S307 - the harness runs numpy on the test's text
    summed = f"f = np.sum({text})"
    result = bpcli.grad(summed, m=m, x=x)
    assert result.value == pytest.approx(float(np.sum(expected)), rel=1e-15)
    used = [(name, value) for name, value in (("m", m), ("x", x)) if f"{name}," in text or f"{name}." in text]
    assert used and set(result.gradients) == {name for name, _ in used}
    for name, value in used:
        def f(v, name=name):
            return float(np.sum(eval(text, {"np": np, "m": v if name == "m" else m,  # noqa: S307
                                            "x": v if name == "x" else x})))
        h, point = 1e-6, np.array(value, dtype=float)
        numeric = np.zeros_like(point)
        for index in np.ndindex(point.shape):
            up, down = point.copy(), point.copy()
            up[index] += h
            down[index] -= h
            numeric[index] = (f(up) - f(down)) / (2 * h)
        np.testing.assert_allclose(result.gradients[name], numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("ddof", [6, 10])
def test_var_with_ddof_at_or_past_the_count_is_differentiated_as_numpy_divides(ddof):
    # numpy and PyTorch divide by max(n - ddof, 0): the variance is inf, and its gradient
    # 2 (a - mean) / 0 is inf times the deviation's sign (never a finite number of the wrong sign).
    m = np.array([[1.0, 2, 3], [4, 5, 6]])
    result = bpcli.grad(f"f = np.var(m, ddof={ddof})", m=m)
    assert result.value == _numpy(np.var, m, ddof=ddof) == np.inf
    expected = _numpy(np.multiply, np.inf, np.sign(m - m.mean()))
    np.testing.assert_array_equal(result.gradients["m"], expected)


def test_std_over_an_axis_with_ddof_equal_to_its_length_is_not_an_internal_error():
    result = run_cli("grad", "f = np.sum(np.std(m, axis=0, ddof=2))", "-m", "[[1, 2, 3], [4, 5, 6]]", "--json")
    assert result.exit_code == 0, result.stderr


# ---- np.arange's bounds ------------------------------------------------------------


@pytest.mark.parametrize("text", ["np.arange(2**64)", "np.arange(1e308)", "np.arange(0, 2**70, 2)"])
def test_an_arange_past_the_machines_integers_is_over_the_limit_not_an_internal_error(text):
    assert "limit is 50,000,000" in _bad_input("grad", f"f = np.sum({text})", "--json")


def test_an_arange_with_step_zero_is_refused_by_name():
    message = _bad_input("grad", "f = np.sum(np.arange(0, 10, 0))", "--json")
    assert "step" in message and "zero" in message


def test_an_arange_with_a_negative_step_has_numpys_length():
    result = bpcli.grad("f = np.sum(x[np.arange(5, 0, -2)])", x=np.arange(6.0))
    assert result.value == np.sum(np.arange(6.0)[np.arange(5, 0, -2)])
    np.testing.assert_array_equal(result.gradients["x"], [0, 1, 0, 1, 0, 1])


# ---- invisible characters reach no terminal ------------------------------------------


@pytest.mark.parametrize("character", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e",
                                       "\U000e0041"])
def test_invisible_format_characters_are_escaped(character):
    # A zero-width space makes "ada\u200b" print as "ada": two students who look like one on the scoreboard.
    shown = printable(f"ada{character}")
    assert shown != f"ada{character}" and shown.isascii()


def test_a_student_id_with_a_zero_width_space_is_shown_escaped_on_the_scoreboard(tmp_path):
    run_cli("grade", "--init", str(tmp_path / "course"))
    course = tmp_path / "course"
    twin = course / "ada\u200b.toml"
    twin.write_text('[[problem]]\nname = "fork"\nexpect = { dx = 3, dy = 3 }\n')
    result = run_cli("grade", str(course / "key.toml"), str(course / "ada"), str(twin))
    assert result.exit_code == 0, result.stderr
    assert "\u200b" not in result.stdout and "ada\\u200b" in result.stdout


# ---- a student's Python file -----------------------------------------------------------


def test_a_python_file_with_a_null_byte_names_no_line_none(tmp_path):
    (tmp_path / "layer.py").write_bytes(b"def f(x):\n    out = x * 2\x00\n    cache = (x,)\n    return out, cache\n")
    message = _bad_input("check", "--forward", str(tmp_path / "layer.py") + ":f", "-x", "2", "--expect", "out=4")
    assert "None" not in message and "null byte" in message


# ---- bpcli code writes Python that runs ----------------------------------------------


@pytest.mark.parametrize("text, values", [("f = x * 1e999", {"x": 2.0}),
                                          ("f = np.var(m, ddof=6)", {"m": np.array([[1.0, 2, 3], [4, 5, 6]])})])
def test_the_code_of_an_infinite_constant_runs_and_gives_bpclis_numbers(text, values):
    from bpcli.views.code import python_code

    result = bpcli.grad(text, **values)
    namespace: dict = {}
    # The program bpcli wrote, run in this process (the test's, not bpcli's, use of exec).
    exec(compile(python_code(result), "<bpcli code>", "exec"), namespace)  # noqa: S102
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value, gradients = namespace["backprop"](**values)
    assert np.array_equal(value, result.value, equal_nan=True)
    for name, gradient in result.gradients.items():
        np.testing.assert_array_equal(gradients[name], gradient)


# ---- rosters of bpcli exercise ---------------------------------------------------------


def test_roster_ids_that_differ_only_in_case_are_refused(tmp_path):
    # ADA.md and ada.md are one file on macOS and Windows: one student would get the other's sheet.
    (tmp_path / "roster.csv").write_text("id\nada\nADA\n")
    message = _bad_input("exercise", "(x+y)*z", "--students", str(tmp_path / "roster.csv"),
                         "--out", str(tmp_path / "sheets"))
    assert "'ada' and 'ADA'" in message and "case" in message
    assert not (tmp_path / "sheets").exists()


def test_a_roster_past_the_student_limit_is_refused_before_its_ids_are_compared(tmp_path, monkeypatch):
    # The ids were compared each with every earlier one (a list), and counted only at the end:
    # a 4 MB roster of 500,000 ids was 10^11 comparisons before its refusal.
    from bpcli.analyses import exercise

    compared: list[str] = []
    check = exercise._check_id
    monkeypatch.setattr(exercise, "_check_id", lambda *args: compared.append(args[2]) or check(*args))
    (tmp_path / "roster.csv").write_text("id\n" + "".join(f"s{i}\n" for i in range(exercise.MAX_STUDENTS + 500)))
    with pytest.raises(bpcli.BpcliError, match="at most 10,000"):
        exercise.read_roster(tmp_path / "roster.csv")
    assert len(compared) == exercise.MAX_STUDENTS


# ---- diagnoses are bounded work --------------------------------------------------------


def _chain_answers(path, stages: int) -> None:
    """A staged program of ``stages`` stages, each stage's gradient answered wrong."""
    program = "\n".join(["a0 = x * 1.0", *(f"a{i} = a{i - 1} * 1.001 + x" for i in range(1, stages))])
    expect = "\n".join(f"da{i} = 12345" for i in range(stages))
    path.write_text(f'[[problem]]\nexpr = """\n{program}\n"""\ninputs = {{ x = 0.5 }}\n[problem.expect]\n{expect}\n')


def test_diagnosing_every_wrong_gradient_of_a_long_chain_is_linear_work(tmp_path, monkeypatch):
    # Each wrong gradient's diagnosis scanned every stage between it and the output: an answers
    # file of N stages with N wrong answers was N**2 work (4,000 stages: 54 s). The work counted
    # here is every read of the graph's nodes once check has the true numbers.
    from bpcli.analyses import diagnosis

    work = [0]

    class Counted(list):
        def __getitem__(self, index):
            work[0] += 1
            return super().__getitem__(index)

        def __iter__(self):
            work[0] += len(self)
            return super().__iter__()

    made = diagnosis.Truth.__init__

    def counting(self, result):
        made(self, result)
        self.graph.nodes = Counted(self.graph.nodes)

    monkeypatch.setattr(diagnosis.Truth, "__init__", counting)
    steps = {}
    for stages in (50, 200):
        work[0] = 0
        _chain_answers(tmp_path / f"chain{stages}.toml", stages)
        result = bpcli.check_answers(tmp_path / f"chain{stages}.toml")
        assert result.score["met"] == 0
        outcomes = result.problems[0].outcomes
        assert all(o.diagnosis is not None for o in outcomes)
        # the nearest the output of the wrong gradients it follows from, as before
        assert outcomes[0].diagnosis.message == f"da0 follows from da{stages - 1}, which is already wrong"
        steps[stages] = work[0]
    assert steps[200] <= 6 * steps[50], steps  # 4 times the input: linear work, with room to spare


# ---- bpcli exercise --out ---------------------------------------------------------------


@pytest.mark.parametrize("run", [run_cli, run_process])
def test_exercise_out_a_new_folder_with_a_trailing_slash_writes_into_it(tmp_path, run):
    # typer's Path dropped the "/": the sheet went to new.md and new.toml beside the folder asked for.
    result = run("exercise", "(x+y)*z", "--seed", "7", "--out", f"{tmp_path / 'new'}/")
    assert (result.exit_code if hasattr(result, "exit_code") else result.returncode) == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["exercise.md", "exercise.toml"]
    assert not (tmp_path / "new.md").exists()


# ---- --points files --------------------------------------------------------------------


@pytest.mark.usefixtures("points_path")
def test_a_json_lines_point_that_names_a_column_twice_is_refused_as_a_csv_header_is(tmp_path):
    # {"x": 1, "x": 2} silently kept the last x; a CSV header x,x is refused by name.
    (tmp_path / "p.jsonl").write_text('{"x": 1, "x": 2, "y": 1}\n')
    (tmp_path / "p.csv").write_text("x,x,y\n1,2,1\n")
    for name in ("p.jsonl", "p.csv"):
        assert "appears twice" in _bad_input("grad", "x*y", "--points", str(tmp_path / name))


@pytest.mark.usefixtures("points_path")
def test_many_unused_columns_give_a_few_warnings_not_one_per_column(tmp_path):
    columns = [f"k{i}" for i in range(10_000)]
    (tmp_path / "p.csv").write_text(",".join(["x", "y", *columns]) + "\n" + ",".join(["1"] * (len(columns) + 2)) + "\n")
    result = run_cli("grad", "x*y", "--points", str(tmp_path / "p.csv"))
    assert result.exit_code == 0, result.stderr
    assert "the column k0 is not a variable of the expression" in result.stderr
    assert "9,995 more columns are not variables of the expression" in result.stderr
    assert len(result.stderr.splitlines()) <= 10


@pytest.mark.usefixtures("points_path")
def test_a_json_lines_point_with_other_keys_names_the_difference_not_every_key(tmp_path):
    keys = ", ".join(f'"k{i}": 1' for i in range(10_000))
    (tmp_path / "p.jsonl").write_text(f'{{"x": 1, "y": 1, {keys}}}\n{{"x": 1, "y": 1, {keys}, "z": 2}}\n')
    message = _bad_input("grad", "x*y", "--points", str(tmp_path / "p.jsonl"))
    assert "'z'" in message and len(message) < 500


# ---- numpy's own refusals ----------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "f = np.sum(m.reshape(6.0))", "f = np.sum(np.zeros((2.0, 3)))", "f = np.sum(m.reshape(-1.0))",
    "f = np.sum(m.reshape((3, 2e0)))", "f = np.sum(np.reshape(m, (3, 2.)))", "f = np.sum(m.transpose(1.0, 0))",
    "f = np.sum(m.swapaxes(0.0, 1))", "f = np.sum(np.ones(6.0))", "f = np.sum(np.full((2.0, 3), 1.5))",
    "f = np.sum(np.eye(2.0))", "f = np.sum(np.expand_dims(m, 0.0))", "f = np.sum(m, 1.0)", "f = np.sum(m, (0, 1.0))",
    "f = np.sum(m, axis=1.0)", "f = np.sum(m.sum(axis=(0, 1.5)))",
    # a float literal anywhere in a size's arithmetic, or a true division, makes it a float in numpy too
    "f = np.sum(m.reshape(12 / 2))", "f = np.sum(m.reshape(3, 4 / 2))", "f = np.sum(m.reshape(-6 / 6))",
    "f = np.sum(m.reshape(6 // 1.0))", "f = np.sum(m.reshape(6.0 // 1))", "f = np.sum(np.zeros(2 * 3.0))",
    "f = np.sum(np.ones((2, 1 + 2.0)))", "f = np.sum(m.transpose(2 / 2, 0))",
])
def test_a_size_written_or_computed_as_a_float_is_refused_as_numpy_refuses_it(text):
    m = np.array([[1.0, 2, 3], [4, 5, 6]])
    with pytest.raises(TypeError):
        eval(text.split("=", 1)[1], {"np": np, "m": m})  # noqa: S307 - the harness runs numpy on the test's text
    message = _bad_input("grad", text, "-m", "[[1, 2, 3], [4, 5, 6]]")
    assert "integer" in message  # and, where numpy reads an axis, the argument it took for one


@pytest.mark.parametrize("text", ["f = np.sum(m.reshape(6))", "f = np.sum(np.full((2, 3), 1.5) * m)",
                                  "f = np.sum(m.reshape(-1) * 2.0)", "f = np.sum(np.arange(3.0))",
                                  "f = np.sum(m.reshape(12 // 2, 3 - 2))", "f = np.sum(m.reshape(m.shape[0] * 3))"])
def test_sizes_written_as_integers_and_floats_elsewhere_are_taken(text):
    m = np.array([[1.0, 2, 3], [4, 5, 6]])
    expected = eval(text.split("=", 1)[1], {"np": np, "m": m})  # noqa: S307 - the harness runs numpy on the test's text
    result = run_cli("grad", text, "-m", "[[1, 2, 3], [4, 5, 6]]", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["value"] == expected


# ---- booleans moved without arithmetic stay booleans, as numpy keeps their dtype --------------


BOOLEAN_VALUES = {"x": np.array([10.0, 20.0]), "m": np.array([[0.0, 1.0], [2.0, -3.0]])}


@pytest.mark.parametrize("text", [
    "f = np.sum(x[(m > 0).T[1]])",  # a transposed mask is a mask: x[[True, False]], not x[[1, 0]]
    "f = np.sum(x[(m > 0).reshape(-1)[:2]])",
    "f = np.sum(x[np.concatenate([m[0] > 0, m[1] > 5])[1:3]])",
    "f = np.sum(~(m > 0)[0] * x)",
    "f = np.sum(((m > 0).T & (m < 0)) * m)",
    "f = np.sum(np.expand_dims(m[0] > 0, 0).squeeze(0) * x)",
    "f = np.sum(x[((m > 0) + (m < 0))[0]])",  # True + True is True in numpy: still a mask
    "f = np.sum(x[np.where(m > 0, m > 1, m < 1)[1]])",
    "f = np.sum(x * ((m > 0) * (m < 5))[0])",  # True * True is True: a mask in arithmetic is 0 and 1
])
def test_a_mask_moved_or_picked_is_still_a_mask(text):
    want = eval(text.split("=", 1)[1], {"np": np, **BOOLEAN_VALUES})  # noqa: S307 - the harness runs numpy
    result = bpcli.grad(text, **BOOLEAN_VALUES)
    assert result.value == want


@pytest.mark.parametrize("text", [
    "f = np.sum(-(m > 0)[0])", "f = np.sum(-(m > 0)[m > 0])", "f = np.sum((m > 0)[0] - (m < 0)[0])",
    "f = np.sum(-(m > 0).T)", "f = np.sum(-(m > 0).reshape(-1))", "f = np.sum(-np.concatenate([m > 0, m > 1]))",
    "f = np.sum(-((m > 0) + (m > 0)))", "f = np.sum(-np.where(m > 0, m > 1, m > 2))",
])
def test_arithmetic_numpy_refuses_on_moved_booleans_is_bad_input(text):
    with pytest.raises(TypeError):
        eval(text.split("=", 1)[1], {"np": np, **BOOLEAN_VALUES})  # noqa: S307 - the harness runs numpy
    assert "booleans" in _bad_input("grad", text, "-m", "[[0, 1], [2, -3]]")


@pytest.mark.parametrize("text, expected", [
    ("f = np.exp(np.sum(x > 0))", math.e), ("f = np.exp(np.mean(x > 0)) * x", math.e),
    ("f = np.exp((x > 0) + (x > 0))", math.e), ("f = sigmoid(np.sum(x > 0))", 1 / (1 + math.exp(-1.0))),
])
def test_a_boolean_number_summed_or_added_enters_a_function_as_one(text, expected):
    # The scalar backend's sum kept np.True_, which sigmoid negated: an internal error, exit 3.
    # (numpy's own exp of a boolean is float16; bpcli computes in float64, exp(1) to the last bit.)
    assert bpcli.grad(text, x=1.0).value == expected


# ---- a student's file that rebinds np, or the function graded, after the def bpcli reads -----------

_RELU_KEY = """[[problem]]
name = "relu"
expr = "@reference.py:relu_forward"
inputs = { x = [[1.5, -2.0, 0.0], [-0.5, 3.0, 0.25]] }
backward = "@layers.py:relu_backward"
"""
_REFERENCE = "def relu_forward(x):\n    out = x * (x > 0)\n    cache = x\n    return out, cache\n"
_RIGHT = "def relu_backward(dout, cache):\n    x = cache\n    dx = dout * np.sign(np.maximum(x, 0))\n    return dx\n"


@pytest.mark.parametrize("student, name", [
    ("import numpy as np\n\n" + _RIGHT + "\nnp = None\n", "np"),  # Python: None has no sign
    ("import math as np\n\n" + _RIGHT, "np"),  # math has no sign
    ("import numpy as np\n\n" + _RIGHT + "\n\ndef wrong(dout, cache):\n    dx = dout\n    return dx\n\n"
     "relu_backward = wrong\n", "relu_backward"),  # Python grades wrong(), which passes dout everywhere
    ("import numpy as np\n\n" + _RIGHT.replace("    x = cache\n", "    x = cache\n    np = x\n"), "np"),
])
def test_a_student_file_that_rebinds_a_name_the_def_reads_gets_no_credit(tmp_path, student, name):
    """Python would run another function, or np would not be numpy: bpcli must not grade the def it sees."""
    (tmp_path / "key.toml").write_text(_RELU_KEY)
    (tmp_path / "reference.py").write_text(_REFERENCE)
    (tmp_path / "carl.py").write_text(student)
    result = run_cli("grade", str(tmp_path / "key.toml"), str(tmp_path / "carl.py"), "--json")
    assert "Traceback" not in result.stderr
    problem = json.loads(result.stdout)["students"][0]["problems"][0]
    assert problem["score"] == 0.0
    assert name in problem["error"]


def test_a_student_file_with_numpy_imported_the_usual_ways_is_still_graded(tmp_path):
    (tmp_path / "key.toml").write_text(_RELU_KEY)
    (tmp_path / "reference.py").write_text(_REFERENCE)
    (tmp_path / "carl.py").write_text("import math\nimport numpy\nimport numpy as np\n\n" + _RIGHT)
    result = run_cli("grade", str(tmp_path / "key.toml"), str(tmp_path / "carl.py"), "--json")
    assert json.loads(result.stdout)["students"][0]["score"] == 1.0


# ---- np.where's gradient with the upstream 1: a boolean mask, not a float -------------------------


@pytest.mark.usefixtures("points_path")
def test_np_where_over_points_writes_float_gradients_not_an_internal_error(tmp_path):
    # 1 × (c != 0) was folded to the comparison itself: a boolean gradient column, which the CSV writer
    # could not write (exit 3) and bpcli.grad returned as np.True_.
    (tmp_path / "p.csv").write_text("x,y\n1,2\n-1,3\n")
    result = run_cli("grad", "np.where(x > 0, x, y)", "--points", str(tmp_path / "p.csv"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "x,y,f,df/dx,df/dy\n1.0,2.0,1.0,1.0,0.0\n-1.0,3.0,3.0,0.0,1.0\n"


def test_np_where_gradients_are_float64():
    gradients = bpcli.grad("np.where(x > 0, x, y)", x=1.0, y=2.0).gradients
    assert [type(g) for g in gradients.values()] == [float, float] or all(
        np.asarray(g).dtype == np.float64 for g in gradients.values())
    assert gradients == {"x": 1.0, "y": 0.0}


# ---- one-sided derivatives at a kink: the expectations of one run from one choice of sides -------


def test_a_tie_routed_wholly_to_both_inputs_stays_wrong():
    # max(x, y) at x = y: (1, 0) and (0, 1) are one-sided derivatives; (1, 1) is no choice of a side, and
    # is the classic error of a max that passes the gradient to both inputs (their sum is 2, f moves by 1).
    # (Written 1.0, not 1: a whole number allows ±0.5, which bpcli's own split 0.5 meets.)
    result = run_cli("check", "max(x, y)", "-x", "1", "-y", "1", "--expect", "dx=1.0", "--expect", "dy=1.0")
    assert result.exit_code == 1, result.stdout

"""bpcli grade of students' Python files: the key picks each student's backward function from their layers.py.

The key's forward functions are the grader's reference (tests/fixtures/students/good_layers.py, copied into
the key's folder); each student hands in a folder holding layers.py, or a .py file alone. The students are
the fixtures of tests/test_student_code.py (one per typical mistake), whose wrong lines that file pins; here
they are graded to a known scoreboard, through the command line as a TA runs it.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import bpcli
from helpers import run_cli, run_process, validated

STUDENTS = Path(__file__).parent / "fixtures" / "students"
GOOD = STUDENTS / "good_layers.py"

KEY = """
[[problem]]
name = "affine"
expr = "@reference.py:affine_forward"
inputs = { x = "randn:2,3,4", w = "randn:12,12", b = "randn:12" }
backward = "@layers.py:affine_backward"
points = 3

[[problem]]
name = "relu"
expr = "@reference.py:relu_forward"
inputs = { x = [[1.5, -2.0, 0.0], [-0.5, 3.0, 0.25]] }
backward = "@layers.py:relu_backward"
hidden = true

[[problem]]
name = "batchnorm"
expr = "@reference.py:batchnorm_forward"
inputs = { x = "randn:4,3", gamma = [1.5, -0.5, 2.0], beta = [0.1, 0.2, -0.3], eps = 1e-5 }
backward = "@layers.py:batchnorm_backward"
gradients = ["dx", "dgamma", "dbeta"]
points = 3
"""

NEVER_RUN = """\
open(__file__ + ".ran", "w").write("ran")  # a module that writes a file when it is imported


def affine_backward(dout, cache):
    x, w, b = cache
    N = x.shape[0]
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(N, -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db
"""

LOOPED = """\
def affine_backward(dout, cache):
    x, w, b = cache
    db = np.zeros_like(b)
    for row in dout:
        db += row
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    return dx, dw, db
"""

ELSEWHERE = '[[problem]]\nname = "affine"\nbackward = "@mine.py:affine_backward"\n'

# Each student: what they hand in (a folder's files, or a .py file's text), the score of 7 it earns, and
# each problem's (met, error words or None).
CLASS: dict[str, tuple[dict[str, str] | str, float, dict[str, tuple[int, str | None]]]] = {
    "good": ({"layers.py": GOOD.read_text()}, 7, {"affine": (3, None), "relu": (1, None), "batchnorm": (3, None)}),
    "bias": ((STUDENTS / "wrong_bias.py").read_text(), 2,  # a .py file alone: db = dout, and no other layers
             {"affine": (2, None), "relu": (0, "bias.py has no function relu_backward"),
              "batchnorm": (0, "bias.py has no function batchnorm_backward")}),
    "order": ({"layers.py": (STUDENTS / "wrong_order.py").read_text()}, 2,
              {"affine": (2, None), "relu": (0, "has no function"), "batchnorm": (0, "has no function")}),
    "mask": ({"layers.py": (STUDENTS / "wrong_mask.py").read_text()}, 0,
             {"affine": (0, "has no function"), "relu": (0, None), "batchnorm": (0, "has no function")}),
    "n": ({"layers.py": (STUDENTS / "wrong_n.py").read_text()}, 2,
          {"affine": (0, "has no function"), "relu": (0, "has no function"), "batchnorm": (2, None)}),
    "broken": ("def affine_backward(dout, cache:\n", 0,
               {name: (0, "broken.py: line 1: not valid Python") for name in ("affine", "relu", "batchnorm")}),
    "empty": ({"notes.txt": "nothing here"}, 0, {"affine": (0, None), "relu": (0, None), "batchnorm": (0, None)}),
    "never_run": ({"layers.py": NEVER_RUN}, 3,
                  {"affine": (3, None), "relu": (0, "has no function"), "batchnorm": (0, "has no function")}),
    "looped": ({"layers.py": LOOPED}, 0,
               {"affine": (0, "layers.py:affine_backward, line 4: a for loop is outside bpcli's numpy subset"),
                "relu": (0, "has no function"), "batchnorm": (0, "has no function")}),
    "elsewhere": ({"answers.toml": ELSEWHERE, "mine.py": GOOD.read_text()}, 3,  # says where its function is
                  {"affine": (3, None), "relu": (0, None), "batchnorm": (0, None)}),  # no layers.py: not handed in
    "outside": ({"answers.toml": ELSEWHERE.replace("@mine.py", "@../good/layers.py")}, 0,
                {"affine": (0, "is outside the answers file's folder"), "relu": (0, None), "batchnorm": (0, None)}),
}


@pytest.fixture
def course(tmp_path: Path) -> tuple[Path, list[Path]]:
    shutil.copy(GOOD, tmp_path / "reference.py")
    key = tmp_path / "key.toml"
    key.write_text(KEY)
    submissions = []
    for student, (work, _, _) in CLASS.items():
        if isinstance(work, str):
            path = tmp_path / "class" / f"{student}.py"
            path.parent.mkdir(exist_ok=True)
            path.write_text(work)
        else:
            path = tmp_path / "class" / student
            path.mkdir(parents=True)
            for name, content in work.items():
                (path / name).write_text(content)
        submissions.append(path)
    return key, submissions


def test_a_class_of_layers_files_to_the_known_scoreboard(course):
    key, submissions = course
    result = run_cli("grade", str(key), *map(str, submissions), "--json")
    assert result.exit_code == 0, result.stderr
    students = {s["student"]: s for s in validated(result.stdout)["students"]}
    assert {name: s["score"] for name, s in students.items()} == {name: c[1] for name, c in CLASS.items()}
    for name, (_, _, marks) in CLASS.items():
        for mark in students[name]["problems"]:
            met, words = marks[mark["name"]]
            assert mark["met"] == met, (name, mark)
            assert mark["error"] is None if words is None else words in (mark["error"] or ""), (name, mark)
        assert students[name]["error"] is None  # a bad file is a zero per problem, never the whole submission
    assert not list(submissions[0].parent.rglob("*.ran"))  # never imported, never run


def test_partial_credit_and_the_line_that_goes_wrong(course):
    key, submissions = course
    graded = bpcli.grade(key, submissions)
    students = {s.student: {mark.name: mark for mark in s.problems} for s in graded.students}
    bias = students["bias"]["affine"]
    assert (bias.score, bias.max_score, bias.met, bias.expectations) == (2.0, 3.0, 2, 3)
    (db,) = [outcome for outcome in bias.result.outcomes if not outcome.passed]
    assert db.key == "db" and db.diagnosis.mistake == "broadcast-not-summed"
    assert bias.result.backward.first_wrong.number == _line_of(STUDENTS / "wrong_bias.py", "db = dout")
    batchnorm = students["n"]["batchnorm"]  # eps is no gradient the key asks for: 2 of the 3 it names
    assert (batchnorm.score, batchnorm.met, batchnorm.expectations) == (2.0, 2, 3)
    assert students["empty"]["affine"].notes == ["no backward pass (layers.py:affine_backward)"]
    assert students["bias"]["affine"].result.backward.label == "bias.py:affine_backward"


def test_the_true_gradients_are_numpys(course):
    """The truth the class is graded against: numpy's affine gradients for the seeded random upstream."""
    key, submissions = course
    (good,) = bpcli.grade(key, submissions[:1]).students
    problem = good.problems[0].result
    x, w = problem.inputs["x"], problem.inputs["w"]
    dout = np.random.default_rng(0)  # the key's seed, 0: the inputs' random fills first, then the upstream
    for shape in ((2, 3, 4), (12, 12), (12,)):
        dout.standard_normal(shape)
    upstream = dout.standard_normal((2, 12))
    actual = {outcome.key: outcome.actual for outcome in problem.outcomes if outcome.key in ("dx", "dw", "db")}
    np.testing.assert_allclose(actual["dx"], (upstream @ w.T).reshape(x.shape))
    np.testing.assert_allclose(actual["dw"], x.reshape(2, -1).T @ upstream)
    np.testing.assert_allclose(actual["db"], upstream.sum(axis=0))


@pytest.mark.parametrize("seed", [0, 3])
def test_grade_and_check_agree_on_the_truth(course, seed):
    """A picked non-scalar forward with no upstream: grade draws check's seeded random upstream (--seed)."""
    key, submissions = course
    key.write_text(KEY.replace('points = 3\n', f'points = 3\nseed = {seed}\n', 1))
    student = submissions[list(CLASS).index("bias")]
    checked = run_cli("check", "--forward", f"{key.parent / 'reference.py'}:affine_forward",
                      "--backward", f"{student}:affine_backward", "-x", "randn:2,3,4", "-w", "randn:12,12",
                      "-b", "randn:12", "--seed", str(seed), "--json")
    assert checked.exit_code == 1, checked.stderr
    graded = run_cli("grade", str(key), str(student), "--json")
    assert graded.exit_code == 0, graded.stderr
    truth = {e["key"]: (e["actual"], e["pass"]) for e in json.loads(checked.stdout)["problems"][0]["expectations"]}
    mark = json.loads(graded.stdout)["students"][0]["problems"][0]
    assert {e["key"]: (e["actual"], e["pass"]) for e in mark["answers"]} == truth
    assert [p for p, passed in truth.values()] and [passed for _, passed in truth.values()] == [True, True, False]


def test_an_answers_problem_of_a_picked_forward_has_check_answers_truth(course, tmp_path):
    """No backward function: the answers asked for are checked against the truth check --answers finds."""
    key, _ = course
    problem = ('[[problem]]\nname = "affine"\nexpr = "@reference.py:affine_forward"\nseed = 5\n'
               'inputs = { x = "randn:2,1,3", w = "randn:3,2", b = "randn:2" }\n')
    key.write_text(problem + 'answers = ["dw", "db"]\n')
    (key.parent / "hw.toml").write_text(problem + 'expect = { dw = 0, db = 0 }\n')
    checked = run_cli("check", "--answers", str(key.parent / "hw.toml"), "--json")
    assert checked.exit_code == 1, checked.stderr
    truth = {e["key"]: e["actual"] for e in json.loads(checked.stdout)["problems"][0]["expectations"]}
    student = tmp_path / "ada.toml"
    student.write_text(f'[[problem]]\nname = "affine"\nexpect = {{ dw = {truth["dw"]}, db = {truth["db"]} }}\n')
    graded = run_cli("grade", str(key), str(student), "--json")
    assert graded.exit_code == 0, graded.stderr
    mark = json.loads(graded.stdout)["students"][0]["problems"][0]
    assert (mark["score"], {e["key"]: e["actual"] for e in mark["answers"]}) == (1, truth)


def test_the_gradebook_and_gradescope(course, tmp_path):
    key, submissions = course
    gradebook = tmp_path / "gradebook.csv"
    assert run_cli("grade", str(key), *map(str, submissions), "--csv", str(gradebook)).exit_code == 0
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO(gradebook.read_text()))}
    assert (rows["bias"]["affine"], rows["bias"]["relu"], rows["bias"]["total"]) == ("2", "0", "2")
    assert rows["good"]["max_score"] == "7"
    results = tmp_path / "results.json"
    student = submissions[list(CLASS).index("order")]
    assert run_cli("grade", str(key), str(student), "--gradescope", str(results)).exit_code == 0
    tests = {test["name"]: test for test in json.loads(results.read_text())["tests"]}
    assert (tests["affine"]["score"], tests["affine"]["max_score"]) == (2.0, 3.0)
    line = _line_of(STUDENTS / "wrong_order.py", "dw = dout.T.dot(x.reshape(N, -1))")
    assert f"✗ dw (layers.py:affine_backward, line {line}) is wrong" in tests["affine"]["output"]
    assert (tests["relu"]["visibility"], tests["affine"]["visibility"]) == ("after_published", "visible")


def test_as_a_ta_runs_it(course):
    key, submissions = course
    process = run_process("grade", str(key), *map(str, submissions))
    assert process.returncode == 0, process.stderr
    assert "good: 7 of 7" in process.stdout  # a terminal this narrow gets a block per student
    assert "broken.py: line 1: not valid Python" in process.stdout


@pytest.mark.parametrize("problem, message", [
    ('expr = "out = x * 2"\ninputs = { x = [1.0, 2.0] }\nbackward = "@layers.py:relu_backward"',
     "give an upstream gradient of that shape"),
    ('expr = "@reference.py:relu_forward"\ninputs = { x = [1.0] }\nbackward = "@layers.py:relu_backward"\n'
     'gradients = ["dw"]', "dw is not a value of the program"),
    ('expr = "@reference.py:relu_forward"\ninputs = { x = [1.0] }\nanswers = ["dx"]\ngradients = ["dx"]',
     "gradients says what a backward pass must give"),
    ('expr = "@reference.py:softmax_loss"\ninputs = { x = [[1.0, 2.0]], y = [0] }\n'
     'backward = "@layers.py:softmax_backward"', "returns its gradients after its output"),
    ('expr = "@reference.py:relu_forward"\ninputs = { x = [1.0] }\nbackward = "@layers.py:relu_backward"\n'
     'gradients = "dx"', "gradients must be a list"),
    # The same gradient twice would count twice as an expectation that one gradient meets once: no student
    # could score the problem's points.
    ('expr = "@reference.py:relu_forward"\ninputs = { x = [1.0] }\nbackward = "@layers.py:relu_backward"\n'
     'gradients = ["dx", "d(x)"]', "gradients dx and d(x) name the same gradient; give it once"),
])
def test_a_bad_key_is_bad_input(course, problem, message):
    key, submissions = course
    key.write_text(f'[[problem]]\nname = "p"\n{problem}\n')
    result = run_cli("grade", str(key), str(submissions[0]))
    assert result.exit_code == 2 and message in result.stderr, result.stderr


EXPRESSION_KEY = """
[[problem]]
name = "affine"
expr = "out = x.reshape(x.shape[0], -1).dot(w) + b"
inputs = { x = "randn:2,3,4", w = "randn:12,12", b = "randn:12" }
upstream = "randn:2,12"
backward = "@layers.py:affine_backward"
points = 3

[[problem]]
name = "relu"
expr = "relu(x)"
inputs = { x = [[1.5, -2.0, 0.0], [-0.5, 3.0, 0.25]] }
upstream = [[1, 2, 3], [4, 5, 6]]
backward = "@layers.py:relu_backward"
"""


def test_the_forward_may_be_an_expression_whose_cache_is_its_inputs(course):
    key, submissions = course
    key.write_text(EXPRESSION_KEY)
    result = run_cli("grade", str(key), *map(str, submissions), "--json")
    assert result.exit_code == 0, result.stderr
    students = {s["student"]: s for s in validated(result.stdout)["students"]}
    marks = {name: [(p["score"], p["met"]) for p in students[name]["problems"]] for name in ("good", "bias", "order",
                                                                                            "mask")}
    # The key's relu(x) is a kink gate: the mask (x >= 0) takes its right side at the exact 0, a one-sided
    # derivative, which earns the point (check --forward of the student's own x * (x > 0) still marks it wrong).
    assert marks == {"good": [(3, 3), (1, 1)], "bias": [(2, 2), (0, 0)], "order": [(2, 2), (0, 0)],
                     "mask": [(0, 0), (1, 1)]}
    (dx,) = students["mask"]["problems"][1]["answers"]
    assert (dx["actual"], dx["expected"]) == ([[1, 0, 0], [0, 5, 6]], [[1, 0, 3], [0, 5, 6]])
    assert dx["pass"] and dx["note"] == "at the kink; accepted as a one-sided derivative of f = relu(x)"


def test_a_cache_unpacked_unlike_the_expressions_inputs_is_that_problems_zero(course):
    key, submissions = course
    key.write_text(EXPRESSION_KEY.replace('"relu(x)"', '"relu(x * w)"').replace(
        "inputs = { x = [[1.5, -2.0, 0.0], [-0.5, 3.0, 0.25]] }",
        "inputs = { x = [[1.5, -2.0, 0.0], [-0.5, 3.0, 0.25]], w = 2 }"))
    (good,) = bpcli.grade(key, submissions[:1]).students
    assert [mark.score for mark in good.problems] == [3, 0]
    assert "relu_backward takes the cache as one value, but the key's expression's holds 2 (x, w)" in \
        good.problems[1].error


def test_a_link_out_of_the_folder_is_refused(course, tmp_path):
    key, submissions = course
    linked = tmp_path / "class" / "linked"
    linked.mkdir()
    (linked / "layers.py").symlink_to(GOOD)
    (mark, *_), = [s.problems for s in bpcli.grade(key, [linked]).students]
    assert mark.score == 0 and "is outside the answers file's folder" in mark.error


def test_a_python_file_that_is_not_there_is_that_students_zero(course, tmp_path):
    key, submissions = course
    result = run_cli("grade", str(key), str(tmp_path / "gone.py"), str(submissions[0]), "--json")
    assert result.exit_code == 0, result.stderr
    gone, good = json.loads(result.stdout)["students"]
    assert (gone["score"], gone["error"], good["score"]) == (0, f"cannot read {tmp_path / 'gone.py'}: no such file", 7)


def test_a_python_file_answers_only_the_functions_the_key_picks(course, tmp_path):
    """A .py handed in alone is no backward pass in the notes' style (backward = "@backward.py"), nor answers."""
    key, submissions = course
    key.write_text(KEY + '\n[[problem]]\nname = "staged"\nexpr = "q = x + y; f = q * z"\n'
                   'inputs = { x = -2, y = 5, z = -4 }\nbackward = "@backward.py"\n\n'
                   '[[problem]]\nname = "fork"\nexpr = "f = x*y + x"\ninputs = { x = 3, y = 2 }\nanswers = ["dx"]\n')
    (bias,) = bpcli.grade(key, [submissions[list(CLASS).index("bias")]]).students
    marks = {mark.name: (mark.score, mark.notes, mark.error) for mark in bias.problems}
    assert marks["staged"] == marks["fork"] == (0, ["not answered"], None)
    assert marks["affine"][0] == 2


def _line_of(path: Path, statement: str) -> int:
    (number,) = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if line.strip() == statement]
    return number


def test_the_json_document_names_the_gradients_each_backward_must_give(course):
    """The key's gradients = [...] is in the key part of bpcli.grade/1, and the schema requires it."""
    key, submissions = course
    result = run_cli("grade", str(key), str(submissions[0]), "--json")
    document = validated(result.stdout)
    assert [(p["name"], p["backward"], p["gradients"]) for p in document["problems"]] == [
        ("affine", "layers.py:affine_backward", []), ("relu", "layers.py:relu_backward", []),
        ("batchnorm", "layers.py:batchnorm_backward", ["dx", "dgamma", "dbeta"])]
    del document["problems"][2]["gradients"]
    with pytest.raises(AssertionError, match="'gradients' is a required property"):
        validated(json.dumps(document))


# ---- a student's loss function: loss = "@layers.py:softmax_loss" ------------------------------------------------

LOSS_KEY = """
[[problem]]
name = "softmax"
expr = "@reference.py:softmax_loss"
inputs = { x = "randn:5,3", y = [0, 2, 1, 1, 0] }
loss = "@layers.py:softmax_loss"
points = 2

[[problem]]
name = "svm"
expr = "@reference.py:svm_loss"
inputs = { x = "randn:5,3", y = [0, 2, 1, 1, 0] }
loss = "@layers.py:svm_loss"
points = 2
"""

# A softmax loss summed, not averaged, with its gradient not divided by N either: right for its own loss
# (check --forward passes it), wrong against the true loss and its gradient.
SUMMED = (STUDENTS / "wrong_set.py").read_text().replace("dx[np.arange(N), y] = -1", "dx[np.arange(N), y] -= 1") \
    .replace(") / N\n", ")\n").replace("    dx /= N\n", "")
LOSS_CLASS: dict[str, tuple[dict[str, str] | str, dict[str, tuple[float, int]]]] = {
    "good": ({"layers.py": GOOD.read_text()}, {"softmax": (2, 2), "svm": (2, 2)}),
    "set": ((STUDENTS / "wrong_set.py").read_text(), {"softmax": (1, 1), "svm": (0, 0)}),  # dx wrong, loss right
    "svm_n": ((STUDENTS / "wrong_svm_n.py").read_text(), {"softmax": (0, 0), "svm": (1, 1)}),  # dx not / N
    "summed": (SUMMED, {"softmax": (0, 0), "svm": (0, 0)}),
    "loss_only": ("def softmax_loss(x, y):\n    loss = np.sum(x)\n    return loss\n", {"softmax": (0, 0),
                                                                                     "svm": (0, 0)}),
}


def _loss_course(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    shutil.copy(GOOD, tmp_path / "reference.py")
    key = tmp_path / "key.toml"
    key.write_text(LOSS_KEY)
    submissions = {}
    for student, (work, _) in LOSS_CLASS.items():
        path = tmp_path / "class" / (f"{student}.py" if isinstance(work, str) else student)
        path.parent.mkdir(exist_ok=True)
        if isinstance(work, str):
            path.write_text(work)
        else:
            path.mkdir()
            for name, content in work.items():
                (path / name).write_text(content)
        submissions[student] = path
    return key, submissions


def test_a_students_loss_function_is_graded_on_its_loss_and_gradient(tmp_path):
    key, submissions = _loss_course(tmp_path)
    result = run_cli("grade", str(key), *map(str, submissions.values()), "--json")
    assert result.exit_code == 0, result.stderr
    document = validated(result.stdout)
    assert [(p["name"], p["loss"], p["backward"], p["gradients"]) for p in document["problems"]] == [
        ("softmax", "layers.py:softmax_loss", None, []), ("svm", "layers.py:svm_loss", None, [])]
    students = {s["student"]: s for s in document["students"]}
    for name, (_, marks) in LOSS_CLASS.items():
        assert {p["name"]: (p["score"], p["met"]) for p in students[name]["problems"]} == marks, name
        assert all(p["expectations"] == 2 for p in students[name]["problems"])  # the loss and dx (y is an index)
    softmax = students["set"]["problems"][0]
    assert [(a["key"], a["pass"], a["line"]) for a in softmax["answers"]] == [
        ("loss", True, _line_of(STUDENTS / "wrong_set.py", "loss = -np.sum(log_probs[np.arange(N), y]) / N")),
        ("dx", False, _line_of(STUDENTS / "wrong_set.py", "dx /= N"))]
    assert softmax["backward"]["first_wrong_line"] == _line_of(STUDENTS / "wrong_set.py", "dx[np.arange(N), y] = -1")
    assert "returns only loss: a loss function returns its loss and its gradients" in \
        students["loss_only"]["problems"][0]["error"]


def test_a_loss_function_with_other_parameters_is_a_zero_that_says_so(tmp_path):
    key, _ = _loss_course(tmp_path)
    lone = tmp_path / "class" / "lone.py"
    lone.write_text("def softmax_loss(x):\n    loss = np.sum(x)\n    dx = np.ones_like(x)\n    return loss, dx\n")
    result = run_cli("grade", str(key), str(lone), "--json")
    assert result.exit_code == 0, result.stderr
    softmax = validated(result.stdout)["students"][0]["problems"][0]
    assert softmax["score"] == 0
    assert "softmax_loss takes 1 parameter (x), but the key's loss takes 2 parameters (x, y), in that order" in \
        softmax["error"]


def test_the_truth_of_a_loss_is_numpys_and_the_students_own_loss_is_not_it(tmp_path):
    """The summed softmax is consistent with its own loss (check passes it) but graded against the true mean."""
    key, submissions = _loss_course(tmp_path)
    checked = run_cli("check", "--forward", f"{submissions['summed']}:softmax_loss", "-x", "randn:5,3",
                      "-y", "[0, 2, 1, 1, 0]")
    assert checked.exit_code == 0, checked.stdout
    (summed,) = bpcli.grade(key, [submissions["summed"]]).students
    answers = {outcome.key: outcome for outcome in summed.problems[0].result.outcomes}
    x = np.random.default_rng(0).standard_normal((5, 3))  # the key's seed, 0
    y = np.array([0, 2, 1, 1, 0])
    probs = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    onehot = np.eye(3)[y]
    np.testing.assert_allclose(answers["loss"].actual, -np.log(probs[np.arange(5), y]).mean())
    np.testing.assert_allclose(answers["dx"].actual, (probs - onehot) / 5)
    np.testing.assert_allclose(answers["loss"].expected, -np.log(probs[np.arange(5), y]).sum())
    np.testing.assert_allclose(answers["dx"].expected, probs - onehot)
    assert not answers["loss"].passed and not answers["dx"].passed
    assert answers["dx"].diagnosis is not None and "5" in answers["dx"].diagnosis.message


def test_a_loss_key_may_be_an_expression_and_the_students_names_their_own(tmp_path):
    """The gradients the student returns are compared by position: grad, of scores, is the truth's dx."""
    key, _ = _loss_course(tmp_path)
    key.write_text('[[problem]]\nname = "l2"\nexpr = "loss = sum(x * x) / 2 + sum(w * x)"\n'
                   'inputs = { x = [1.0, -2.0, 3.0], w = [0.5, 0.5, -1.0] }\nloss = "@layers.py:l2_loss"\n')
    right = tmp_path / "right.py"
    right.write_text("def l2_loss(s, v):\n    loss = np.sum(s * s) / 2 + np.sum(v * s)\n    grad = s + v\n"
                     "    gv = s\n    return loss, grad, gv\n")
    swapped = tmp_path / "swapped.py"  # the gradients in the wrong order: each is the other parameter's
    swapped.write_text("def l2_loss(s, v):\n    loss = np.sum(s * s) / 2 + np.sum(v * s)\n    gv = s\n"
                       "    grad = s + v\n    return loss, gv, grad\n")
    result = run_cli("grade", str(key), str(right), str(swapped), "--json")
    assert result.exit_code == 0, result.stderr
    right_mark, swapped_mark = (s["problems"][0] for s in validated(result.stdout)["students"])
    assert (right_mark["score"], right_mark["met"], right_mark["expectations"]) == (1, 3, 3)
    assert [a["key"] for a in right_mark["answers"]] == ["loss", "dx", "dw"]
    assert (swapped_mark["met"], swapped_mark["expectations"]) == (1, 3)


def test_a_loss_function_may_be_where_the_students_answers_file_says(tmp_path):
    key, _ = _loss_course(tmp_path)
    folder = tmp_path / "class" / "elsewhere"
    folder.mkdir(parents=True)
    (folder / "mine.py").write_text(GOOD.read_text())
    (folder / "answers.toml").write_text('[[problem]]\nname = "softmax"\nloss = "@mine.py:softmax_loss"\n'
                                         'expect = { dx = 0 }\n')
    (student,) = bpcli.grade(key, [folder]).students
    softmax, svm = student.problems
    assert (softmax.score, softmax.notes) == (2, ["ignored: expect (the key sets it)"])
    assert (svm.score, svm.notes) == (0, ["no loss function (layers.py:svm_loss)"])


@pytest.mark.parametrize("problem, message", [
    ('expr = "@reference.py:softmax_loss"\ninputs = { x = [[1.0, 2.0]], y = [0] }\nloss = "@layers.py"',
     "loss must pick the student's loss function"),
    ('expr = "@reference.py:softmax_loss"\ninputs = { x = [[1.0, 2.0]], y = [0] }\nloss = "@layers.py:softmax_loss"'
     '\nbackward = "@layers.py:softmax_backward"', "give no backward or answers with it"),
    ('expr = "@reference.py:relu_forward"\ninputs = { x = [1.0, 2.0] }\nloss = "@layers.py:relu_loss"',
     "whose loss is a number, but expr's output out has shape (2,)"),
    ('expr = "loss = sum(x * x)"\ninputs = { x = [1.0, 2.0] }\nupstream = 2\nloss = "@layers.py:l2_loss"',
     "give no upstream with loss"),
    ('expr = "@reference.py:softmax_loss"\ninputs = { x = [[1.0, 2.0]], y = [0] }\nloss = "@layers.py:softmax_loss"'
     '\ngradients = ["dq"]', "dq"),
])
def test_a_bad_loss_key_is_bad_input(tmp_path, problem, message):
    key, submissions = _loss_course(tmp_path)
    key.write_text(f'[[problem]]\nname = "p"\n{problem}\n')
    result = run_cli("grade", str(key), str(submissions["good"]))
    assert result.exit_code == 2 and message in result.stderr, result.stderr

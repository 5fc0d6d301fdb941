"""bpcli grade: a class of submissions against one key, in one process, to a known scoreboard."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

import bpcli
from bpcli import views
from bpcli.analyses import grade as grading
from helpers import run_cli, run_process, validated

KEY = """
[[problem]]
name = "fork"
expr = "f = x*y + x"
inputs = { x = 3, y = 2 }
answers = ["dx", "dy"]
points = 2

[[problem]]
name = "neuron"
expr = "sigmoid(w0*x0 + w1*x1 + w2)"
inputs = { w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3 }
answers = ["dx0", "dw0"]
points = 2
hidden = true

[[problem]]
name = "staged"
expr = "q = x + y; f = q * z"
inputs = { x = -2, y = 5, z = -4 }
backward = "@backward.py"
points = 3
"""

FORK, NEURON = "dx = 3, dy = 3", "dx0 = 0.3932, dw0 = -0.1966"
BACKWARD = "dq = z\ndz = q\ndx = dq\ndy = dq\n"
STAGED_ELSEWHERE = '[[problem]]\nname = "staged"\nbackward = "@../good/backward.py"\n'


def answers(fork: str = FORK, neuron: str = NEURON, extra: str = "") -> str:
    return (f'[[problem]]\nname = "fork"\nexpect = {{ {fork} }}\n{extra}\n'
            f'[[problem]]\nname = "neuron"\nexpect = {{ {neuron} }}\n')


# Each student: what they hand in (a folder of files, or one file's bytes), and the score it earns of 7.
CLASS: dict[str, tuple[dict[str, str | bytes] | bytes | None, float]] = {
    "good": ({"answers.toml": answers(), "backward.py": BACKWARD}, 7),
    "alone": (answers().encode(), 4),  # a lone answers file has no backward pass
    "fork_not_summed": ({"answers.toml": answers(fork="dx = 2, dy = 3"), "backward.py": BACKWARD}, 6),
    "sign_flip": ({"answers.toml": answers(fork="dx = 3, dy = -3"), "backward.py": BACKWARD}, 6),
    "two_decimals": ({"answers.toml": answers(neuron="dx0 = 0.39, dw0 = -0.2"), "backward.py": BACKWARD}, 6),
    "not_swapped": ({"answers.toml": answers(), "backward.py": "dq = z\ndz = z\ndx = dq\ndy = dq\n"}, 6),
    "no_dy": ({"answers.toml": answers(), "backward.py": "dq = z\ndz = q\ndx = dq\n"}, 6),
    "backward_unparsable": ({"answers.toml": answers(), "backward.py": "dx = = 3\n"}, 4),
    "backward_missing": ({"answers.toml": answers()}, 4),
    "backward_outside": ({"answers.toml": answers() + STAGED_ELSEWHERE, "backward.py": BACKWARD}, 4),
    "backward_symlink": ({"answers.toml": answers(), "backward.py": "->/etc/passwd"}, 4),
    "expect_outside": ({"answers.toml": answers(fork='dx = "@/etc/passwd", dy = 3'), "backward.py": BACKWARD}, 5),
    "unparsable": (b"[[problem]\nname = ", 0),
    "empty": (b"", 0),
    "binary": (bytes(range(256)) * 4, 0),
    "huge": (b"# " + b"x" * (grading.MAX_SUBMISSION_BYTES + 10), 0),
    "missing": (None, 0),
    "empty_folder": ({}, 0),
    "code_only": ({"backward.py": BACKWARD}, 3),
    "own_tolerance": ({"answers.toml": answers(fork="dx = 100, dy = 100", extra="rtol = 1e9\natol = 1e9"),
                       "backward.py": BACKWARD}, 5),
    "own_problem": ({"answers.toml": answers(extra='expr = "x"\ninputs = { x = 1 }\npoints = 100'),
                     "backward.py": BACKWARD}, 7),
    "misnamed": ({"answers.toml": answers().replace('"fork"', '"Fork"'), "backward.py": BACKWARD}, 5),
    "half_answered": ({"answers.toml": answers(fork="dx = 3"), "backward.py": BACKWARD}, 6),
    "not_a_number": ({"answers.toml": answers(fork='dx = "oops", dy = 3'), "backward.py": BACKWARD}, 5),
    "wrong_shape": ({"answers.toml": answers(fork="dx = [3, 3], dy = 3"), "backward.py": BACKWARD}, 6),
    "explicit_spelling": ({"answers.toml": answers(fork='"d(x)" = 3, "d(y)" = 3'), "backward.py": BACKWARD}, 7),
    "all_wrong": ({"answers.toml": answers(fork="dx = 0, dy = 0", neuron="dx0 = 0, dw0 = 0"),
                   "backward.py": "dx = 0\ndy = 0\ndz = 0\n"}, 0),
    "twice": ({"answers.toml": answers() + answers(fork="dx = 0, dy = 0"), "backward.py": BACKWARD}, 7),
    "alone_with_path": (answers(fork='dx = "@dx.json", dy = 3').encode(), 2),
    "from_a_file": ({"answers.toml": answers(fork='dx = "@dx.json", dy = 3'), "dx.json": "3",
                     "backward.py": BACKWARD}, 7),
}
UNREADABLE = {"unparsable", "empty", "binary", "huge", "missing"}


def hand_in(folder: Path, student: str, work: dict[str, str | bytes] | bytes | None) -> Path:
    """The student's submission under ``folder``: a folder of their files, or one answers file."""
    if work is None:
        return folder / f"{student}.toml"
    if isinstance(work, bytes):
        path = folder / f"{student}.toml"
        path.write_bytes(work)
        return path
    path = folder / student
    path.mkdir()
    for name, content in work.items():
        if isinstance(content, str) and content.startswith("->"):
            (path / name).symlink_to(content[2:])
        elif isinstance(content, bytes):
            (path / name).write_bytes(content)
        else:
            (path / name).write_text(content)
    return path


@pytest.fixture
def course(tmp_path):
    """The key and the class's 30 submissions, in the order of CLASS."""
    key = tmp_path / "key.toml"
    key.write_text(textwrap.dedent(KEY))
    submitted = tmp_path / "submissions"
    submitted.mkdir()
    return key, [hand_in(submitted, student, work) for student, (work, _) in CLASS.items()]


class TestScoreboard:
    def test_thirty_submissions_graded_to_the_known_scores(self, course):
        key, submissions = course
        assert len(submissions) == 30
        result = bpcli.grade(key, submissions)
        assert {s.student: s.score for s in result.students} == {name: score for name, (_, score) in CLASS.items()}
        assert result.max_score == 7 and all(s.max_score == 7 for s in result.students)
        assert {s.student for s in result.students if s.error} == UNREADABLE
        assert result.exit_code == 0

    def test_a_zero_says_why(self, course):
        key, submissions = course
        students = {s.student: s for s in bpcli.grade(key, submissions).students}
        assert "is not valid TOML" in students["unparsable"].error
        assert "has no answers" in students["empty"].error
        assert "is not UTF-8 text" in students["binary"].error
        assert "bytes" in students["huge"].error
        assert "No such file" in students["missing"].error

        def mark(student: str, problem: str) -> grading.ProblemMark:
            return next(m for m in students[student].problems if m.name == problem)

        assert "outside" in mark("backward_outside", "staged").error
        assert "outside" in mark("backward_symlink", "staged").error
        assert "outside" in mark("expect_outside", "fork").error
        assert "backward.py" in mark("backward_unparsable", "staged").error
        assert "handed in alone" in mark("alone_with_path", "fork").error
        assert mark("backward_missing", "staged").notes == ["no backward pass (backward.py)"]
        assert mark("half_answered", "fork").notes == ["dy not answered"]
        assert mark("own_tolerance", "fork").notes == ["ignored: atol (the key sets it)",
                                                       "ignored: rtol (the key sets it)"]
        assert "ignored: no problem of the key is named 'Fork'" in students["misnamed"].notes
        assert students["twice"].notes == ["ignored: a second problem named 'fork'",
                                           "ignored: a second problem named 'neuron'"]

    def test_partial_credit_per_expectation(self, course):
        key, submissions = course
        students = {s.student: s for s in bpcli.grade(key, submissions).students}
        fork = students["fork_not_summed"].problems[0]
        assert (fork.score, fork.max_score, fork.met, fork.expectations) == (1.0, 2.0, 1, 2)
        assert fork.result.outcomes[0].diagnosis.mistake == "fork"
        staged = students["not_swapped"].problems[2]
        assert (staged.score, staged.met, staged.expectations) == (2.0, 2, 3)

    def test_the_key_is_differentiated_once_for_the_whole_class(self, course, monkeypatch):
        key, submissions = course
        calls = []
        real = grading.differentiated
        monkeypatch.setattr(grading, "differentiated",
                            lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
        bpcli.grade(key, submissions)
        assert len(calls) == 3  # one per key problem, not one per student

    def test_each_student_may_get_their_own_problems(self, course):
        key, submissions = course
        asked = []

        def problems_for(loaded: grading.Key, student: str) -> list[grading.Prepared]:
            asked.append(student)
            return grading.key_problems(loaded, student)

        bpcli.grade(key, submissions[:3], problems_for=problems_for)
        assert asked == ["good", "alone", "fork_not_summed"]


class TestTheKey:
    @pytest.mark.parametrize("problem, message", [
        ('expr = "x"\ninputs = { x = 1 }\nanswers = ["dx"]', "name is missing"),
        ('name = "p"\nexpr = "x * y"\ninputs = { x = 1, y = 2 }\nanswers = ["dz"]', "the key's problem 'p'"),
        ('name = "p"\nexpr = "x"\ninputs = { x = 1 }', "nothing to grade"),
        ('name = "p"\nexpr = "x"\ninputs = { x = 1 }\nanswers = ["dx"]\npoints = -1', "points must be"),
        ('name = "p"\nexpr = "x"\ninputs = { x = 1 }\nanswers = ["dx"]\nrtol = inf', "rtol"),
        ('name = "p"\nexpr = "x"\ninputs = { x = 1 }\nbackward = "mine.py"', "backward must name"),
        ('name = "p"\nexpr = "x"\ninputs = { x = 1 }\nanswers = ["dx"]\nexpect = { dx = 1 }', "unknown key 'expect'"),
    ])
    def test_a_bad_key_is_bad_input(self, tmp_path, problem, message):
        key = tmp_path / "key.toml"
        key.write_text(f"[[problem]]\n{problem}\n")
        (tmp_path / "ada.toml").write_text(answers())
        result = run_cli("grade", str(key), str(tmp_path / "ada.toml"))
        assert result.exit_code == 2
        assert message in result.stderr and "Traceback" not in result.stderr

    def test_two_submissions_of_one_student_are_refused(self, course):
        key, submissions = course
        result = run_cli("grade", str(key), str(submissions[0]), str(submissions[0]))
        assert result.exit_code == 2 and "two submissions belong to the student 'good'" in result.stderr


    def test_the_key_among_the_submissions_is_no_student(self, course):
        key, submissions = course  # bpcli grade key.toml * in the key's folder
        result = run_cli("grade", str(key), str(key), *map(str, submissions[:2]), "--json")
        assert result.exit_code == 0, result.stderr
        assert [s["student"] for s in json.loads(result.stdout)["students"]] == list(CLASS)[:2]


class TestCommandLine:
    def test_the_scoreboard(self, course):
        key, submissions = course
        result = run_cli("grade", str(key), *map(str, submissions))
        assert result.exit_code == 0, result.stderr
        out = result.stdout
        assert "Grades against" in out and "30 students" in out
        assert "neuron (hidden)" in out
        assert "5 submissions could not be read" in out

    def test_the_json_document(self, course):
        key, submissions = course
        result = run_cli("grade", str(key), *map(str, submissions), "--json")  # validated against its schema
        document = json.loads(result.stdout)
        assert document["schema"] == "bpcli.grade/1"
        assert [s["score"] for s in document["students"]] == [score for _, score in CLASS.values()]
        assert document["problems"][2] == {"name": "staged", "points": 3.0, "hidden": False, "answers": [],
                                           "backward": "backward.py", "loss": None, "gradients": []}

    def test_the_gradebook_reads_back(self, course, tmp_path):
        key, submissions = course
        book = tmp_path / "gradebook.csv"
        assert run_cli("grade", str(key), *map(str, submissions), "--csv", str(book)).exit_code == 0
        with book.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert list(rows[0]) == ["student", "fork", "neuron", "staged", "total", "max_score", "error"]
        assert {row["student"]: float(row["total"]) for row in rows} == {n: s for n, (_, s) in CLASS.items()}
        good = rows[0]
        assert (good["fork"], good["neuron"], good["staged"], good["max_score"], good["error"]) == ("2", "2", "3",
                                                                                                     "7", "")
        assert "is not valid TOML" in rows[list(CLASS).index("unparsable")]["error"]

    def test_the_gradebook_writes_scores_to_their_four_decimals(self, tmp_path):
        # 1 of 3 expectations of 1,000 points is 333.3333 (not 333.333), and 2,000,000 points is 2000000
        # (not 2e+06): a spreadsheet reads the cell as the number the scoreboard shows.
        key = tmp_path / "key.toml"
        key.write_text('[[problem]]\nname = "fork"\nexpr = "f = x*y + x"\ninputs = { x = 3, y = 2 }\n'
                       'answers = ["dx", "dy", "f"]\npoints = 1000\n\n'
                       '[[problem]]\nname = "neuron"\nexpr = "sigmoid(w0*x0 + w1*x1 + w2)"\n'
                       'inputs = { w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3 }\nanswers = ["dx0"]\n'
                       'points = 2000000\n')
        student = tmp_path / "ada.toml"
        student.write_text(answers(fork="dx = 3, dy = 0, f = 0", neuron="dx0 = 0.3932"))
        result = run_cli("grade", str(key), str(student), "--csv", "-")
        assert result.exit_code == 0, result.stderr
        row = list(csv.DictReader(io.StringIO(result.stdout)))[0]
        assert (row["fork"], row["neuron"], row["total"], row["max_score"]) == (
            "333.3333", "2000000", "2000333.3333", "2001000")

    def test_a_cell_a_spreadsheet_would_run_stays_text(self, tmp_path):
        key = tmp_path / "key.toml"
        key.write_text(textwrap.dedent(KEY))
        student = tmp_path / "=HYPERLINK(1).toml"
        student.write_text(answers())
        book = io.StringIO()
        views.write(bpcli.grade(key, [student]), book, "csv")
        assert list(csv.reader(io.StringIO(book.getvalue())))[1][0] == "'=HYPERLINK(1)"

    def test_control_characters_in_a_student_id_are_escaped_in_the_gradebook(self, tmp_path):
        key = tmp_path / "key.toml"
        key.write_text(textwrap.dedent(KEY))
        student = tmp_path / "a\x1b[2Jb\nc.toml"
        student.write_text(answers())
        result = run_cli("grade", str(key), str(student), "--csv", "-")  # to a terminal, as likely as not
        assert result.exit_code == 0, result.stderr
        assert "\x1b" not in result.stdout
        assert list(csv.reader(io.StringIO(result.stdout)))[1][0] == "a\\x1b[2Jb\\nc"

    def test_gradescope_results(self, course, tmp_path):
        key, submissions = course
        results = tmp_path / "results.json"
        one = submissions[list(CLASS).index("fork_not_summed")]
        assert run_cli("grade", str(key), str(one), "--gradescope", str(results)).exit_code == 0
        document = json.loads(results.read_text())
        assert document["score"] == 6
        assert isinstance(document["output"], str)
        for test in document["tests"]:
            assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
            assert isinstance(test["score"], float) and 0 <= test["score"] <= test["max_score"]
            assert test["visibility"] in {"visible", "hidden", "after_due_date", "after_published"}
        assert [t["visibility"] for t in document["tests"]] == ["visible", "after_published", "visible"]
        assert sum(t["score"] for t in document["tests"]) == document["score"]
        fork = document["tests"][0]["output"]
        assert "✗ dx is wrong" in fork and "fork x" in fork
        assert "3" not in fork.replace("1 of 2", "")  # the true gradient is not given away

    def test_gradescope_grades_one_submission(self, course, tmp_path):
        key, submissions = course
        result = run_cli("grade", str(key), *map(str, submissions[:2]), "--gradescope", str(tmp_path / "r.json"))
        assert result.exit_code == 2 and "one submission" in result.stderr
        assert not (tmp_path / "r.json").exists()

    def test_an_unreadable_submission_still_gets_a_results_file(self, course, tmp_path):
        key, submissions = course
        results = tmp_path / "results.json"
        binary = submissions[list(CLASS).index("binary")]
        assert run_cli("grade", str(key), str(binary), "--gradescope", str(results)).exit_code == 0
        document = json.loads(results.read_text())
        assert document["score"] == 0 and "could not be read" in document["output"]

    def test_as_a_user_runs_it(self, course, tmp_path):
        key, submissions = course
        process = run_process("grade", str(key), *map(str, submissions), "--json")
        assert process.returncode == 0, process.stderr
        assert len(validated(process.stdout)["students"]) == 30
        process = run_process("grade", str(tmp_path / "no-key.toml"), str(submissions[0]))
        assert process.returncode == 2
        assert process.stderr.count("\n") == 1 and "cannot read" in process.stderr

    def test_the_key_is_read_from_its_own_folder(self, course, tmp_path, monkeypatch):
        key, submissions = course
        (tmp_path / "forward.py").write_text("f = x * y + x\n")
        key.write_text(KEY.replace('"f = x*y + x"', '"@forward.py"'))
        monkeypatch.chdir(submissions[0])  # anywhere: the key's @ paths start from the key's folder
        assert bpcli.grade(key, [submissions[0]]).students[0].score == 7

    def test_the_keys_expr_may_pick_a_function_in_its_folder(self, tmp_path):
        (tmp_path / "layers.py").write_text(
            "def affine_forward(x, w, b):\n    out = x.dot(w) + b\n    cache = (x, w, b)\n    return out, cache\n")
        key = tmp_path / "key.toml"
        key.write_text('[[problem]]\nname = "affine"\nexpr = "@layers.py:affine_forward"\n'
                       'inputs = { x = [[1, 2], [3, -1]], w = [[0.5, -1], [2, 0.25]], b = [0.1, -0.2] }\n'
                       'upstream = [[1, 2], [-1, 0.5]]\nanswers = ["dx", "dw", "db"]\n')
        x, w, dout = np.array([[1, 2], [3, -1]]), np.array([[0.5, -1], [2, 0.25]]), np.array([[1, 2], [-1, 0.5]])
        student = tmp_path / "ada.toml"  # numpy's gradients, dw with one element wrong
        student.write_text(f'[[problem]]\nname = "affine"\nexpect = {{ dx = {(dout @ w.T).tolist()}, '
                           f'dw = {(x.T @ dout + [[0, 0], [0, 1]]).tolist()}, db = {dout.sum(axis=0).tolist()} }}\n')
        (graded,) = bpcli.grade(key, [student]).students
        assert (graded.score, graded.problems[0].met, graded.problems[0].error) == (0.6667, 2, None)

    def test_a_problem_name_is_text_not_markup(self, tmp_path):
        key = tmp_path / "key.toml"
        key.write_text(KEY.replace('name = "fork"', 'name = "[b]f[/x]"'))  # a stray closing tag broke rich
        student = tmp_path / "ada.toml"
        student.write_text(answers().replace('name = "fork"', 'name = "[b]f[/x]"'))
        result = run_cli("grade", str(key), str(student))
        assert result.exit_code == 0, result.stderr
        assert "[b]f[/x]" in result.stdout

    def test_init_escapes_the_folder_it_names(self, tmp_path):
        folder = tmp_path / "a\x1b[31mb"
        result = run_cli("grade", "--init", str(folder))
        assert result.exit_code == 0, result.stderr
        assert (folder / "key.toml").is_file()
        assert "\x1b" not in result.stdout and "a\\x1b[31mb/key.toml" in result.stdout

    def test_a_line_break_in_a_student_id_stays_in_its_row(self, tmp_path):
        key = tmp_path / "key.toml"
        key.write_text(textwrap.dedent(KEY))
        student = tmp_path / "ada\nbob.toml"  # would read as two students, one row each
        student.write_text(answers())
        result = run_cli("grade", str(key), str(student))
        assert result.exit_code == 0, result.stderr
        assert "ada\\nbob" in result.stdout


class TestConfinement:
    def test_an_answers_file_linked_from_outside_the_folder_is_refused(self, course, tmp_path):
        key, submissions = course
        elsewhere = tmp_path / "elsewhere.toml"
        elsewhere.write_text(answers())  # right answers, but not in the student's folder
        student = tmp_path / "linked"
        student.mkdir()
        (student / "answers.toml").symlink_to(elsewhere)
        (graded,) = bpcli.grade(key, [student]).students
        assert graded.score == 0 and "outside" in graded.error and "elsewhere" not in graded.error

    def test_the_cap_names_no_option_that_does_not_raise_it(self, course):
        key, submissions = course
        (graded,) = bpcli.grade(key, [submissions[list(CLASS).index("huge")]]).students
        assert graded.error.endswith("holds more than 1,000,000 bytes, the most bpcli reads from it")

    def test_a_file_on_standard_output_is_all_it_holds(self, course):
        key, submissions = course
        result = run_cli("grade", str(key), *map(str, submissions[:3]), "--csv", "-")
        assert result.exit_code == 0
        rows = list(csv.reader(io.StringIO(result.stdout)))
        assert [row[0] for row in rows] == ["student", "good", "alone", "fork_not_summed"]


def test_a_note_escapes_a_control_character_once(tmp_path):
    key = tmp_path / "key.toml"
    key.write_text('[[problem]]\nname = "p"\nexpr = "x * y"\ninputs = { x = 3, y = 2 }\nanswers = ["dx"]\n')
    (tmp_path / "ada.toml").write_text('[[problem]]\nname = "p\\u001b[2J"\nexpect = { dx = 2 }\n')
    (student,) = bpcli.grade(key, [tmp_path / "ada.toml"]).students
    assert "ignored: no problem of the key is named 'p\\x1b[2J'" in student.notes  # not 'p\\\\x1b[2J'


def test_a_one_sided_derivative_at_a_kink_earns_its_points(tmp_path):
    """grade checks as check does: relu's right derivative at 0 (3, where bpcli takes 0) is accepted, with the note."""
    key = tmp_path / "key.toml"
    key.write_text('[[problem]]\nname = "relu"\nexpr = "relu(x) * y"\ninputs = { x = 0, y = 3 }\n'
                   'answers = ["dx", "dy"]\npoints = 2\n')
    handed = {"left": "dx = 0.0, dy = 0.0", "right": "dx = 3.0, dy = 0.0", "between": "dx = 1.5, dy = 0.0"}
    for student, expect in handed.items():
        (tmp_path / f"{student}.toml").write_text(f'[[problem]]\nname = "relu"\nexpect = {{ {expect} }}\n')
    result = run_cli("grade", str(key), *(str(tmp_path / f"{s}.toml") for s in handed), "--json")
    scores = {s["student"]: s["score"] for s in json.loads(result.stdout)["students"]}
    assert result.exit_code == 0 and scores == {"left": 2.0, "right": 2.0, "between": 1.0}


def test_a_key_file_outside_its_folder_is_refused_with_advice_grade_can_follow(tmp_path):
    """check --answers may allow another folder (--allow-paths DIR); grade has no such option, so its refusal
    of a key's @path says what a grader can do instead."""
    (tmp_path / "outside.txt").write_text("f = x*y\n")
    course = tmp_path / "course"
    course.mkdir()
    (course / "key.toml").write_text('[[problem]]\nname = "p"\nexpr = "@../outside.txt"\ninputs = { x = 3, y = 2 }\n'
                                     'answers = ["dx"]\n')
    (course / "bob.toml").write_text('[[problem]]\nname = "p"\nexpect = { dx = 2 }\n')
    result = run_cli("grade", str(course / "key.toml"), str(course / "bob.toml"))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.endswith("is outside the answers file's folder "
                                  f"{course}: bpcli reads only files inside it (grade has no --allow-paths: copy the "
                                  "file into the key's folder)\n")
    assert "--allow-paths DIR" not in result.stderr

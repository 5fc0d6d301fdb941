"""bpcli exercise: every sheet solvable by hand from its shown cells, variants regenerated from the seed,
answers files that bpcli check grades, and the command as a teacher runs it."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import bpcli
from bpcli.analyses.exercise import KINDS, Spec, read_roster, variant
from bpcli.engine.errors import BpcliError
from helpers import run_cli, run_process

# ---- a solver that knows only the lecture's rules ----------------------------------------------
#
# It reads the sheet as a student does: the circuit (each stage's gate and inputs), the inputs'
# values and every cell not blanked. It then fills cells with four rules until none applies:
#   forward:    a stage's value is its gate applied to its inputs' values;
#   local:      a stage's local gradient follows from its inputs' values and its own value;
#   downstream: local gradient × the stage's upstream gradient;
#   upstream:   the sum of the downstream gradients at every use of the value (1 for the output).

FORWARD = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "neg": lambda a: -a,
    "recip": lambda a: 1 / a, "exp": math.exp, "sigmoid": lambda a: 1 / (1 + math.exp(-a)), "tanh": math.tanh,
    "relu": lambda a: max(a, 0.0), "max": max, "min": min, "pow": lambda a, n: a ** n,
}
LOCAL = {  # (inputs, output) -> one local gradient per input
    "add": lambda i, out: (1.0, 1.0), "sub": lambda i, out: (1.0, -1.0), "mul": lambda i, out: (i[1], i[0]),
    "neg": lambda i, out: (-1.0,), "recip": lambda i, out: (-1 / i[0] ** 2,), "exp": lambda i, out: (out,),
    "sigmoid": lambda i, out: (out * (1 - out),), "tanh": lambda i, out: (1 - out ** 2,),
    "relu": lambda i, out: (1.0 if i[0] > 0 else 0.0,),
    "max": lambda i, out: (float(i[0] > i[1]), float(i[1] > i[0])),
    "min": lambda i, out: (float(i[0] < i[1]), float(i[1] < i[0])),
    "pow": lambda i, out: (i[1] * i[0] ** (i[1] - 1), None),
}


def solve(problem) -> dict[tuple[str, int | None, int | None], float]:
    """Every cell the rules give from the shown cells, keyed as blanks are: (kind, stage, position)."""
    stages, blanked = problem.result.stages, {(b.kind, b.stage, b.position) for b in problem.blanks}
    cells: dict[tuple[str, int | None, int | None], float] = {}
    for stage in stages:  # the cells shown
        carried = [p for p, formula in enumerate(stage.formulas) if formula is not None]
        shown = [("forward", None, stage.value), ("upstream", None, stage.upstream)]
        shown += [(kind, p, value) for p in carried for kind, value in
                  (("local", stage.local[p]), ("downstream", stage.downstream[p]))]
        for kind, position, value in shown:
            if value is not None and (kind, stage.index, position) not in blanked:
                cells[kind, stage.index, position] = value
    values = {name: value for name, value in problem.inputs.items()}
    gradients = {} if ("upstream", None, None) in blanked else dict(problem.result.gradients)

    def value(name: str) -> float | None:
        if re.fullmatch(r"-?[0-9.]+", name):
            return float(name)  # a constant of the circuit, written in it
        index = next((s.index for s in stages if s.name == name), None)
        return values.get(name) if index is None else cells.get(("forward", index, None))

    def uses(name: str) -> list[tuple[int, int]]:
        return [(s.index, p) for s in stages for p, used in enumerate(s.inputs)
                if used == name and s.formulas[p] is not None and s.downstream[p] is not None]

    progress = True
    while progress:
        progress = False

        def learn(key, number):
            nonlocal progress
            if key not in cells and number is not None:
                cells[key], progress = number, True

        for stage in stages:
            inputs = [value(name) for name in stage.inputs]
            if None not in inputs:
                learn(("forward", stage.index, None), FORWARD[stage.op](*inputs))
            out = cells.get(("forward", stage.index, None))
            for p, formula in enumerate(stage.formulas):
                if formula is None or stage.local[p] is None:
                    continue
                if None not in inputs and out is not None:
                    learn(("local", stage.index, p), LOCAL[stage.op](inputs, out)[p])
                local, upstream = cells.get(("local", stage.index, p)), cells.get(("upstream", stage.index, None))
                if local is not None and upstream is not None:
                    learn(("downstream", stage.index, p), local * upstream)
            if stage.name == problem.result.output:
                learn(("upstream", stage.index, None), 1.0)
            elif stage.upstream is not None:
                parts = [cells.get(("downstream", *use)) for use in uses(stage.name)]
                if parts and None not in parts:
                    learn(("upstream", stage.index, None), sum(parts))
        for name in problem.inputs:
            parts = [cells.get(("downstream", *use)) for use in uses(name)]
            if name not in gradients and parts and None not in parts:
                gradients[name], progress = sum(parts), True
    for name, gradient in gradients.items():
        cells[f"d{name}", None, None] = gradient  # an input's gradient, by its name
    return cells


def assert_solvable(problem) -> None:
    cells = solve(problem)
    for blank in problem.blanks:
        where = (blank.kind, blank.stage, blank.position) if blank.stage is not None else (blank.key, None, None)
        assert where in cells, f"{blank.key} cannot be worked out from the cells shown ({problem.spec.expression})"
        assert cells[where] == pytest.approx(blank.answer, rel=1e-9, abs=1e-12), blank.key


# Expressions of the lecture's gates, the ones the solver knows.
LEAVES = st.sampled_from(["x", "y", "z", "2", "3"])
UNARY = ("-({})", "exp({})", "sigmoid({})", "tanh({})", "relu({})", "({})**2")
BINARY = ("({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / ({})", "max({}, {})", "min({}, {})")
EXPRESSIONS = st.recursive(
    LEAVES,
    lambda children: st.tuples(st.sampled_from(UNARY), children).map(lambda t: t[0].format(t[1]))
    | st.tuples(st.sampled_from(BINARY), children, children).map(lambda t: t[0].format(t[1], t[2])),
    max_leaves=7,
)
BLANKS = st.lists(st.sampled_from(KINDS), min_size=1, unique=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS, st.integers(0, 10**6), BLANKS, st.sampled_from([None, "ann", "s1234567", "bo.b@uni.edu"]))
def test_every_variant_can_be_solved_by_hand_from_its_shown_cells(expression, seed, kinds, student):
    graph = bpcli.build(expression)
    assume(graph.variables and graph.stages)
    try:
        made = variant([Spec(expression, tuple(kinds))], seed, student)
    except BpcliError as error:  # no draw keeps every cell away from kinks and sensible: refused, by name
        assert "not for computing by hand" in error.message
        assume(False)
    (problem,) = made.problems
    assert problem.blanks or set(kinds) <= {"local", "downstream"}
    assert_solvable(problem)
    assert all(value in range(-5, 6) and value != 0 for value in problem.inputs.values())
    if problem.blanks:  # every key of the answers file is one check reads, at the number the sheet hides
        assert bpcli.check(expression, problem.inputs, expect=problem.answers, rtol=1e-12, atol=1e-12).passed


@pytest.mark.parametrize("expression", [
    "q = x + y; f = q * z", "sigmoid(w0*x0 + w1*x1 + w2)", "x*y + x", "(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)",
    "max(x, y) * relu(z) - x / y",
])
@pytest.mark.parametrize("kinds", [KINDS, ("upstream", "downstream"), ("forward",), ("local", "downstream")])
def test_the_lectures_examples_are_solvable_for_many_students(expression, kinds):
    for student in ("ann", "bob", "cy", "dee", "eve"):
        (problem,) = variant([Spec(expression, kinds)], 2026, student).problems
        assert problem.blanks
        assert_solvable(problem)


def test_every_cell_of_the_chosen_kinds_is_blank_and_no_other():
    (problem,) = variant([Spec("q = x + y; f = q * z", ("local", "downstream"))], 7).problems
    assert [(b.kind, b.key) for b in problem.blanks] == [
        ("local", "dq/dx"), ("local", "dq/dy"), ("downstream", "dx via q"), ("downstream", "dy via q"),
        ("local", "df/dq"), ("local", "df/dz"), ("downstream", "dq via f"), ("downstream", "dz via f"),
    ]
    (problem,) = variant([Spec("q = x + y; f = q * z", ("upstream",))], 7).problems
    assert [b.key for b in problem.blanks] == ["dq", "dx", "dy", "dz"]  # f's upstream is the 1 shown


def test_a_stage_reading_an_input_twice_keeps_those_cells_shown():
    """check names a cell by stage and input, and x * x has two cells for x: they stay on the sheet."""
    (problem,) = variant([Spec("x * x + y", KINDS)], 3).problems
    assert [b.key for b in problem.blanks] == ["t1", "dt1", "f", "df/dt1", "df/dy", "dt1 via f", "dy via f",
                                               "dx", "dy"]
    assert_solvable(problem)


class TestRegeneration:
    def test_the_same_seed_and_student_give_the_same_numbers(self):
        specs = [Spec("sigmoid(w0*x0 + w1*x1 + w2)", KINDS), Spec("x*y + x", ("upstream",), "fork")]
        first, again = variant(specs, 42, "ann"), variant(specs, 42, "ann")
        assert [p.inputs for p in first.problems] == [p.inputs for p in again.problems]
        assert [p.answers for p in first.problems] == [p.answers for p in again.problems]

    def test_the_numbers_are_pinned_across_machines_and_pythons(self):
        """sha256 of the seed and id, never hash(): these exact inputs, whatever PYTHONHASHSEED is."""
        expected = {"x": -5.0, "y": -5.0, "z": -3.0}
        assert variant([Spec("q = x + y; f = q * z")], 7).problems[0].inputs == expected
        for hash_seed in ("0", "12345"):
            run = run_process("exercise", "q = x + y; f = q * z", "--seed", "7", "--json",
                              env={**os.environ, "PYTHONHASHSEED": hash_seed})
            assert run.returncode == 0, run.stderr
            assert json.loads(run.stdout)["variants"][0]["problems"][0]["inputs"] == expected

    def test_two_students_get_different_inputs(self):
        specs = [Spec("sigmoid(w0*x0 + w1*x1 + w2)")]
        ann, bob = variant(specs, 42, "ann"), variant(specs, 42, "bob")
        assert ann.problems[0].inputs != bob.problems[0].inputs
        assert ann.problems[0].answers != bob.problems[0].answers
        thirty = {tuple(variant(specs, 42, f"s{n}").problems[0].inputs.values()) for n in range(30)}
        assert len(thirty) == 30  # 10**5 combinations: thirty students, thirty sheets

    def test_another_seed_gives_other_inputs(self):
        specs = [Spec("sigmoid(w0*x0 + w1*x1 + w2)")]
        assert variant(specs, 1, "ann").problems[0].inputs != variant(specs, 2, "ann").problems[0].inputs


# ---- the answers file, graded by bpcli check ------------------------------------------------------


def _filled(template: str, answers: dict[str, float]) -> str:
    """The template with each "?" replaced by the true number of its key."""
    def number(match: re.Match[str]) -> str:
        key = json.loads(match.group(1)) if match.group(1).startswith('"') else match.group(1)
        return f"{match.group(1)} = {answers[key]!r}"

    return re.sub(r'^("[^"]*"|[A-Za-z0-9_]+) = "\?"$', number, template, flags=re.M)


@pytest.fixture
def roster(tmp_path) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text("name,id\nAnn Lee,ann\nBob Kay,bob\n")
    return path


class TestTheAnswersFile:
    def test_filled_with_the_true_numbers_it_passes_and_one_wrong_number_fails(self, tmp_path, roster):
        out = tmp_path / "sheets"
        made = run_cli("exercise", "q = x + y; f = q * z", "--seed", "7", "--students", str(roster), "--out", str(out))
        assert made.exit_code == 0, made.stderr
        assert sorted(p.name for p in out.iterdir()) == ["ann.md", "ann.toml", "bob.md", "bob.toml"]
        key = run_cli("exercise", "q = x + y; f = q * z", "--seed", "7", "--students", str(roster), "--json")
        assert key.exit_code == 2 and "--out DIR" in key.stderr  # a roster's sheets go to a folder
        document = json.loads(run_cli("exercise", "q = x + y; f = q * z", "--seed", "7", "--students", str(roster),
                                      "--out", str(tmp_path / "again"), "--json").stdout)
        answers = {v["student"]: {b["key"]: b["answer"] for b in v["problems"][0]["blanks"]}
                   for v in document["variants"]}
        template = (out / "ann.toml").read_text()
        assert template.count('= "?"') == len(answers["ann"]) == 14
        unfilled = run_cli("check", "--answers", str(out / "ann.toml"))
        assert unfilled.exit_code == 2 and "is not a number: '?'" in unfilled.stdout
        (out / "ann.toml").write_text(_filled(template, answers["ann"]))
        right = run_cli("check", "--answers", str(out / "ann.toml"))
        assert right.exit_code == 0, right.stdout
        assert "14 of 14 expectations met" in right.stdout
        wrong = _filled(template, {**answers["ann"], "dx via q": answers["ann"]["dx via q"] + 1})
        (out / "ann.toml").write_text(wrong)
        result = run_cli("check", "--answers", str(out / "ann.toml"))
        assert result.exit_code == 1 and "13 of 14 expectations met" in result.stdout
        # Bob's numbers do not pass on Ann's sheet.
        (out / "ann.toml").write_text(_filled(template, answers["bob"]))
        assert run_cli("check", "--answers", str(out / "ann.toml")).exit_code == 1

    def test_every_kind_of_key_is_one_check_reads(self, tmp_path):
        """The template of a problem set with every kind blanked, filled, passes check (a fork, a constant)."""
        problems = tmp_path / "set.toml"
        problems.write_text('seed = 11\n\n[[problem]]\nname = "neuron"\nexpr = "sigmoid(w0*x0 + w1*x1 + w2)"\n\n'
                            '[[problem]]\nexpr = "f = x*y + x + 2*y"\nblank = "upstream, downstream"\n')
        made = run_cli("exercise", "--set", str(problems), "--out", str(tmp_path / "sheet.md"))
        assert made.exit_code == 0, made.stderr
        template = (tmp_path / "sheet.toml").read_text()
        specs = [Spec("sigmoid(w0*x0 + w1*x1 + w2)", KINDS, "neuron"),
                 Spec("f = x*y + x + 2*y", ("upstream", "downstream"))]
        head, *sections = template.split("[[problem]]")
        filled = [_filled(section, problem.answers) for section, problem in zip(sections, variant(specs, 11).problems)]
        (tmp_path / "sheet.toml").write_text("[[problem]]".join([head, *filled]))
        result = run_cli("check", "--answers", str(tmp_path / "sheet.toml"), "--json")
        assert result.exit_code == 0, result.stdout
        kinds = {e["kind"] for p in json.loads(result.stdout)["problems"] for e in p["expectations"]}
        assert kinds == {"value", "gradient", "local", "downstream"}


# ---- the command, as a teacher runs it -----------------------------------------------------------


class TestTheCommand:
    def test_the_sheet_and_its_answers_file_on_standard_output(self):
        result = run_cli("exercise", "q = x + y; f = q * z", "--seed", "7", "--blank", "upstream")
        assert result.exit_code == 0, result.stderr
        text = result.stdout
        assert "The circuit, one gate per stage, at x = -5, y = -5, z = -3; the output is f:" in text
        assert "```\nq = x + y\nf = q * z\n```" in text
        assert "| 1 | q | add | x + y | -10 | ∂q/∂x = 1<br>∂q/∂y = 1 | ? | x ← -3<br>y ← -3 |" in text
        assert "| 2 | f | mul | q \\* z | 30 | ∂f/∂q = z = -3<br>∂f/∂z = q = -10 | 1 | q ← -3<br>z ← -10 |" in text
        assert "| x | -5 | ? |\n| y | -5 | ? |\n| z | -3 | ? |" in text
        assert '[problem.expect]\ndq = "?"\ndx = "?"\ndy = "?"\ndz = "?"\n' in text

    def test_the_stage_table_is_grads_own(self):
        """A shown cell reads exactly as bpcli grad shows it (the same lines of the same result)."""
        (problem,) = variant([Spec("q = x + y; f = q * z", ("upstream",))], 7).problems
        grad = run_cli("grad", "q = x + y; f = q * z", *(f"{k}={v:g}" for k, v in problem.inputs.items()))
        sheet = run_cli("exercise", "q = x + y; f = q * z", "--seed", "7", "--blank", "upstream").stdout
        for line in ("∂f/∂q = z = -3", "∂f/∂z = q = -10", "x ← -3", "z ← -10"):
            assert line in grad.stdout and line in sheet

    def test_a_file_and_a_folder(self, tmp_path):
        assert run_cli("exercise", "(x+y)*z", "-o", str(tmp_path / "hw.md")).exit_code == 0
        assert sorted(p.name for p in tmp_path.iterdir()) == ["hw.md", "hw.toml"]
        folder = tmp_path / "out"
        folder.mkdir()
        assert run_cli("exercise", "(x+y)*z", "--out", str(folder)).exit_code == 0
        assert sorted(p.name for p in folder.iterdir()) == ["exercise.md", "exercise.toml"]
        assert (folder / "exercise.md").read_text().startswith("# Backpropagation by hand\n")

    def test_a_roster_of_one_still_writes_a_folder(self, tmp_path):
        (tmp_path / "one.csv").write_text("id\nann\n")
        result = run_cli("exercise", "x*y", "--students", str(tmp_path / "one.csv"), "--out", str(tmp_path / "s"))
        assert result.exit_code == 0, result.stderr
        assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["ann.md", "ann.toml"]

    def test_a_real_process_writes_a_roster_of_sheets(self, tmp_path, roster):
        run = run_process("exercise", "sigmoid(w0*x0 + w1*x1 + w2)", "--seed", "3", "--blank", "forward,local",
                          "--students", str(roster), "--id-column", "ID", "--out", str(tmp_path / "s"))
        assert run.returncode == 0, run.stderr
        ann, bob = ((tmp_path / "s" / f"{who}.md").read_text() for who in ("ann", "bob"))
        assert ann.startswith("# Backpropagation by hand for ann\n") and ann != bob
        assert "bo" not in (tmp_path / "s" / "ann.toml").read_text()

    @pytest.mark.parametrize("roster_text, message", [
        ("name,email\nAnn,a@x\n", "has no column 'id'"),
        ("id\nann\nann\n", "student id 'ann' appears twice"),
        ("id\n../etc/passwd\n", "is not one bpcli can name a file after"),
        ("id\n.hidden\n", "is not one bpcli can name a file after"),
        ("id\n\n", "lists no students"),
        ("", "is empty"),
        ("id\nann\xff\n", "is not one bpcli can name a file after"),
    ])
    def test_a_bad_roster_is_bad_input(self, tmp_path, roster_text, message):
        path = tmp_path / "roster.csv"
        path.write_text(roster_text)
        result = run_cli("exercise", "(x+y)*z", "--students", str(path), "--out", str(tmp_path / "out"))
        assert result.exit_code == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()

    @pytest.mark.parametrize("args, message", [
        (["(x+y)*z", "--blank", "values"], "--blank values: blank one or more of forward, local, upstream"),
        (["(x+y)*z", "--students", "roster.csv"], "--out DIR"),
        (["(x+y)*z", "--students", "missing.csv", "--out", "d"], "missing.csv"),
        (["3 * 4"], "has no variables"),
        (["x"], "an exercise needs a gate"),
        (["sum(x)"], "exercise sheets are for numbers"),
        (["log(x - 10) * exp(exp(x))"], "not for computing by hand"),
        (["(x+"], "expected"),
        (["x", "--set", "p.toml"], "give no expression"),
    ])
    def test_bad_arguments_are_bad_input(self, tmp_path, monkeypatch, args, message):
        monkeypatch.chdir(tmp_path)
        result = run_cli("exercise", *args)
        assert result.exit_code == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr

    @pytest.mark.parametrize("text, message", [
        ("[[problem]]\nexpr = 'x*y'\nblank = 'everything'\n", "problem 1: --blank everything"),
        ("[[problem]]\nexpression = 'x*y'\n", "unknown key 'expression'"),
        ("seed = -1\n[[problem]]\nexpr = 'x*y'\n", "seed must be a whole number"),
        ("title = 'hw'\n[[problem]]\nexpr = 'x*y'\n", "unknown key 'title'"),
        ("seed = 1\n", "has no problems"),
        ("[[problem]\n", "is not valid TOML"),
    ])
    def test_a_bad_problem_set_is_bad_input(self, tmp_path, text, message):
        path = tmp_path / "set.toml"
        path.write_text(text)
        result = run_cli("exercise", "--set", str(path))
        assert result.exit_code == 2 and message in result.stderr, result.stderr

    def test_the_seed_on_the_command_line_wins_over_the_sets(self, tmp_path):
        path = tmp_path / "set.toml"
        path.write_text("seed = 5\n[[problem]]\nexpr = 'x*y + z'\n")
        from_set = run_cli("exercise", "--set", str(path), "--json")
        given = run_cli("exercise", "--set", str(path), "--seed", "6", "--json")
        assert json.loads(from_set.stdout)["seed"] == 5 and json.loads(given.stdout)["seed"] == 6


def test_the_roster_reader_takes_the_named_column_and_skips_blank_lines(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("Name,SID\nAnn,1001\n\nBob,1002\n")
    assert read_roster(path, "sid") == ["1001", "1002"]


def test_the_library_call():
    sheet = bpcli.exercise("q = x + y; f = q * z", seed=7, students=["ann", "bob"], blank=["upstream"])
    assert [v.student for v in sheet.variants] == ["ann", "bob"]
    assert json.loads(sheet.to_json())["schema"] == "bpcli.exercise/1"


def test_the_schemas_kinds_are_the_codes():
    problem = bpcli.json_schema("exercise")["properties"]["variants"]["items"]["properties"]["problems"]["items"]
    assert problem["properties"]["blank"]["items"]["enum"] == list(KINDS)
    assert problem["properties"]["blanks"]["items"]["properties"]["kind"]["enum"] == list(KINDS)


def test_a_notebook_shows_the_sheets_as_markdown_and_rich_draws_them():
    result = bpcli.exercise("x*y", seed=3, blank=["upstream"])
    assert result._repr_markdown_() == bpcli.views.text_of(result)
    assert result._repr_markdown_().startswith("# Backpropagation by hand\n")
    from rich.console import Console

    console = Console(width=120, record=True, color_system=None)
    console.print(result)
    assert "∂f/∂x = y = 5; ∂f/∂y = x = -1" in console.export_text()


def test_the_answers_files_placeholder_is_the_one_grade_knows():
    from bpcli.analyses.exercise import UNFILLED
    from bpcli.views.exercise_sheet import BLANK

    assert UNFILLED == BLANK


# ---- bpcli grade makes each student's key again from the seed -------------------------------------

NEURON = "sigmoid(w0*x0 + w1*x1 + w2)"


def _hand_in(tmp_path, roster, expression=NEURON, blank="upstream,downstream", seed="2026"):
    """Sheets for the roster, and each student's answers file filled with their own true numbers."""
    out = tmp_path / "submissions"
    args = ["exercise", expression, "--seed", seed, "--blank", blank, "--students", str(roster)]
    assert run_cli(*args, "--out", str(out)).exit_code == 0
    answers = {v.student: v.problems[0].answers
               for v in bpcli.exercise(expression, seed=int(seed), students=["ann", "bob"], blank=[blank]).variants}
    for student, mine in answers.items():
        (out / f"{student}.toml").write_text(_filled((out / f"{student}.toml").read_text(), mine))
    return out, answers


class TestGradeRegeneratesTheKeys:
    def test_each_student_is_graded_on_their_own_numbers(self, tmp_path, roster):
        out, answers = _hand_in(tmp_path, roster)
        key = tmp_path / "key.toml"
        key.write_text(f'[exercise]\nexpr = "{NEURON}"\nseed = 2026\nblank = "upstream, downstream"\npoints = 10\n')
        # Bob's numbers on Ann's sheet are wrong: the answers do not transfer.
        (tmp_path / "cy.toml").write_text((out / "bob.toml").read_text().replace('"bob"', '"cy"'))
        result = bpcli.grade(key, [out / "ann.toml", out / "bob.toml", tmp_path / "cy.toml"])
        scores = {student.student: student.score for student in result.students}
        assert scores["ann"] == scores["bob"] == 10.0
        assert scores["cy"] < 10.0  # cy has no sheet of Bob's numbers: cy's own are drawn for cy
        assert [student.notes for student in result.students][:2] == [[], []]
        marks = result.students[0].problems[0]
        assert (marks.met, marks.expectations) == (len(answers["ann"]), len(answers["ann"]))

    def test_one_wrong_number_loses_its_share(self, tmp_path, roster):
        out, answers = _hand_in(tmp_path, roster)
        text = (out / "ann.toml").read_text().replace(f"dw0 = {answers['ann']['dw0']!r}", "dw0 = 7")
        (out / "ann.toml").write_text(text)
        key = tmp_path / "key.toml"
        key.write_text(f'[exercise]\nexpr = "{NEURON}"\nseed = 2026\nblank = ["upstream", "downstream"]\n')
        (ann,) = bpcli.grade(key, [out / "ann.toml"]).students
        total = len(answers["ann"])
        assert (ann.problems[0].met, ann.score) == (total - 1, round((total - 1) / total, 4))

    def test_a_blank_left_unfilled_is_not_answered_and_the_others_count(self, tmp_path, roster):
        out, answers = _hand_in(tmp_path, roster)
        text = (out / "ann.toml").read_text().replace(f"dw0 = {answers['ann']['dw0']!r}", 'dw0 = "?"')
        (out / "ann.toml").write_text(text)
        key = tmp_path / "key.toml"
        key.write_text(f'[exercise]\nexpr = "{NEURON}"\nseed = 2026\nblank = "upstream, downstream"\n')
        (ann,) = bpcli.grade(key, [out / "ann.toml"]).students
        mark = ann.problems[0]
        assert (mark.met, mark.expectations, mark.error, mark.notes) == (
            len(answers["ann"]) - 1, len(answers["ann"]), None, ["dw0 not answered"])

    def test_a_key_can_name_the_problem_set(self, tmp_path, roster):
        problems = tmp_path / "problems.toml"
        problems.write_text('seed = 5\nblank = "forward"\n\n[[problem]]\nname = "fork"\nexpr = "f = x*y + x"\n\n'
                            '[[problem]]\nname = "neuron"\nexpr = "sigmoid(w*x + b)"\nblank = "local"\n')
        out = tmp_path / "sheets"
        assert run_cli("exercise", "--set", str(problems), "--students", str(roster), "--out", str(out)).exit_code == 0
        specs, seed = bpcli.analyses.exercise.read_problem_set(problems)
        mine = variant(specs, seed, "ann")
        head, *sections = (out / "ann.toml").read_text().split("[[problem]]")
        filled = [_filled(section, problem.answers) for section, problem in zip(sections, mine.problems)]
        (out / "ann.toml").write_text("[[problem]]".join([head, *filled]))
        key = tmp_path / "key.toml"
        key.write_text('[exercise]\nset = "@problems.toml"\npoints = 5\n')
        result = run_cli("grade", str(key), str(out / "ann.toml"), str(out / "bob.toml"), "--json")
        assert result.exit_code == 0, result.stderr
        document = json.loads(result.stdout)
        assert [p["name"] for p in document["problems"]] == ["fork", "neuron"]
        assert [(s["student"], s["score"]) for s in document["students"]] == [("ann", 10.0), ("bob", 0.0)]

    @pytest.mark.parametrize("text, message", [
        ('[exercise]\nseed = 1\n', "give the problems once"),
        ('[exercise]\nexpr = "x*y"\nset = "@p.toml"\n', "give the problems once"),
        ('[exercise]\nexpr = "x*y"\ncolour = 1\n', "unknown key 'colour'"),
        ('[exercise]\nexpr = "x*y"\nblank = "values"\n', "--blank values"),
        ('[exercise]\nexpr = "sum(x)"\n', "exercise sheets are for numbers"),
        ('[exercise]\nset = "@../elsewhere.toml"\n', "is outside the answers file's folder"),
        ('[[problem]]\nname = "problem 1"\nexpr = "x"\ninputs = { x = 1 }\nanswers = ["dx"]\n\n'
         '[exercise]\nexpr = "x*y"\n', "two problems are named 'problem 1'"),
    ])
    def test_a_bad_exercise_key_is_bad_input(self, tmp_path, text, message):
        key = tmp_path / "key.toml"
        key.write_text(text)
        (tmp_path / "ann.toml").write_text('[[problem]]\nname = "problem 1"\nexpect = { dx = 1 }\n')
        result = run_cli("grade", str(key), str(tmp_path / "ann.toml"))
        assert result.exit_code == 2 and message in result.stderr, result.stderr

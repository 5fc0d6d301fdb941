"""A student's backward pass checked line by line: the notes' staged example, right and with mistakes."""

from __future__ import annotations

import json
import re

import pytest

import bpcli
from helpers import REPO, run_cli, run_process

DATA = REPO / "tests" / "data"
FORWARD = (DATA / "notes_forward.py").read_text()
BACKWARD = (DATA / "notes_backward.py").read_text()
NOTES_POINT = {"x": 3, "y": -4}


def line_of(source: str, start: str) -> int:
    """The 1-based number of the first line starting with ``start``."""
    return next(i for i, line in enumerate(source.splitlines(), start=1) if line.startswith(start))


def edited(old: str, new: str) -> str:
    assert old in BACKWARD
    return BACKWARD.replace(old, new, 1)


def run(backward: str, forward: str = FORWARD, **point):
    return bpcli.check(forward, point or NOTES_POINT, backward=backward, backward_label="mine.py")


def verdicts(result) -> dict[int, str]:
    return {line.number: line.status for line in result.problems[0].backward.lines}


class TestTheNotesExample:
    def test_the_correct_backward_pass_passes_every_line(self):
        result = run(BACKWARD)
        assert result.passed and result.exit_code == 0
        lines = result.problems[0].backward.lines
        assert [line.target for line in lines][:3] == ["dnum", "dinvden", "dden"]
        assert {line.status for line in lines} == {"right", "partial"}
        partial = [line for line in lines if line.status == "partial"]
        assert [line.target for line in partial] == ["dx", "dy", "dx"]  # forks before their last +=
        assert "1 of 3 contributions to dx" in partial[0].note
        gradients = {o.key: o.expected for o in result.problems[0].outcomes}
        truth = bpcli.grad(FORWARD, NOTES_POINT).gradients
        assert gradients["dx"] == pytest.approx(truth["x"], rel=1e-12)
        assert gradients["dy"] == pytest.approx(truth["y"], rel=1e-12)
        assert set(gradients) == {"dnum", "dinvden", "dden", "dsigx", "dxpysqr", "dxpy", "dx", "dy", "dsigy"}

    def test_from_the_command_line_in_a_real_process(self):
        process = run_process("check", "--file", str(DATA / "notes_forward.py"),
                              "--backward", str(DATA / "notes_backward.py"), "-x", "3", "-y", "-4")
        assert process.returncode == 0, process.stdout + process.stderr
        assert "9 of 9 expectations met." in process.stdout
        assert "First wrong line" not in process.stdout

    def test_the_sigmoid_gate_forward_gives_the_same_verdicts(self):
        forward = re.sub(r"1\.0 / \(1 \+ math\.exp\(-(\w)\)\)", r"sigmoid(\1)", FORWARD)
        assert "sigmoid(y)" in forward
        assert run(BACKWARD, forward).passed

    def test_assignment_instead_of_accumulation_at_a_fork_fails_at_that_line(self):
        wrong = edited("dx += ((1 - sigx) * sigx) * dsigx", "dx = ((1 - sigx) * sigx) * dsigx")
        result = run(wrong)
        assert result.exit_code == 1
        backward = result.problems[0].backward
        number = line_of(wrong, "dx = ((1 - sigx)")
        assert backward.first_wrong.number == number
        diagnosis = backward.first_wrong.diagnosis
        assert diagnosis.mistake == "fork" and diagnosis.line == number
        assert "Gradients add up at forks" in diagnosis.hint
        assert f"that line {line_of(wrong, 'dx = (1) * dxpy')} put in dx (write dx += ... instead)" in diagnosis.hint
        # The next line's formula is right: its number only follows from the wrong line.
        assert verdicts(result)[line_of(wrong, "dx += (1) * dnum")] == "follows"
        dx = next(o for o in result.problems[0].outcomes if o.key == "dx")
        assert not dx.passed and dx.diagnosis.line == number
        assert all(o.passed for o in result.problems[0].outcomes if o.key != "dx")

    def test_the_command_line_names_the_first_wrong_line(self, tmp_path):
        wrong = edited("dx += ((1 - sigx) * sigx) * dsigx", "dx = ((1 - sigx) * sigx) * dsigx")
        (tmp_path / "mine.py").write_text(wrong)
        result = run_cli("check", "--file", str(DATA / "notes_forward.py"), "--backward", str(tmp_path / "mine.py"),
                         "-x", "3", "-y", "-4")
        assert result.exit_code == 1
        number = line_of(wrong, "dx = ((1 - sigx)")
        assert f"First wrong line: {number}: dx = ((1 - sigx) * sigx) * dsigx" in result.stdout
        assert "Gradients add up at forks" in result.stdout
        doc = json.loads(run_cli("check", "--file", str(DATA / "notes_forward.py"), "--backward",
                                 str(tmp_path / "mine.py"), "-x", "3", "-y", "-4", "--json").stdout)
        backward = doc["problems"][0]["backward"]
        assert backward["first_wrong_line"] == number
        statuses = {line["line"]: line["status"] for line in backward["lines"]}
        assert statuses[number] == "wrong"

    def test_a_forgotten_contribution_leaves_the_gradient_incomplete(self):
        result = run(edited("dx += (1) * dnum", "dother = (1) * dnum"))
        assert result.exit_code == 1
        backward = result.problems[0].backward
        assert backward.first_wrong is None  # every line is right; one is missing
        dx = next(o for o in result.problems[0].outcomes if o.key == "dx")
        assert dx.diagnosis.mistake == "fork"
        assert "lacks the gradient via num = x + sigy" in dx.diagnosis.message
        assert any("dother is not the gradient of a value" in w for w in backward.warnings)


class TestMistakesInALine:
    @pytest.mark.parametrize("old, new, mistake", [
        ("dnum = invden", "dnum = num", "multiply-not-swapped"),
        ("dden = (-1.0 / (den**2)) * dinvden", "dden = (1.0 / (den**2)) * dinvden", "flipped-sign"),
        ("dxpysqr = (1) * dden", "dxpysqr = sigx * dden", "add-scaled"),  # xpysqr = 1: scale by sigx
        ("dden = (-1.0 / (den**2)) * dinvden", "dden = 2 * dinvden", None),
    ])
    def test_the_first_wrong_line_and_its_hint(self, old, new, mistake):
        wrong = edited(old, new)
        result = run(wrong)
        assert result.exit_code == 1
        first = result.problems[0].backward.first_wrong
        assert first.number == line_of(wrong, new)
        assert first.diagnosis.mistake == mistake
        assert (first.diagnosis.hint is None) == (mistake is None)
        later = [n for n, status in verdicts(result).items() if n > first.number and status == "wrong"]
        assert later == []  # everything after it is right in itself or follows from it

    def test_a_max_gate_routed_to_the_smaller_input(self):
        result = bpcli.check("m = max(x, y); f = m * z", x=4, y=2, z=3,
                             backward="dm = z\ndz = m\ndx = 0 * dm\ndy = dm")
        first = result.problems[0].backward.first_wrong
        assert (first.target, first.diagnosis.mistake) == ("dx", "max-misrouted")


    def test_reading_a_forks_gradient_before_it_is_complete(self):
        # a feeds f and b: da is complete only after da += 3 * db.
        result = bpcli.check("a = x * 2; b = a * 3; f = a + b", x=3,
                             backward="da = 1\ndx = 2 * da\ndb = 1\nda += 3 * db")
        assert verdicts(result) == {1: "partial", 2: "wrong", 3: "right", 4: "right"}
        first = result.problems[0].backward.first_wrong
        assert first.diagnosis.mistake == "fork" and first.diagnosis.message == "line 2 reads da too early"

    def test_helpers_carry_a_wrong_number_to_the_lines_that_read_them(self):
        result = bpcli.check("q = x + y; f = q * z", x=-2, y=5, z=-4,
                             backward="dq = q\nup = dq\ndx = up\ndy = up\ndz = q")
        assert verdicts(result) == {1: "wrong", 2: "helper", 3: "follows", 4: "follows", 5: "right"}
        lines = result.problems[0].backward.lines
        assert lines[2].note == "right formula, but it reads wrong numbers (from line 1)"


class TestArraysAndPastedNumpy:
    def test_matrix_multiply_with_dot_methods(self):
        point = {"W": [[1.0, 2.0, 0.5], [3.0, 4.0, -1.0]], "X": [[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]]}
        upstream = [[1.0, -1.0], [0.5, 2.0]]
        right = bpcli.check("D = W @ X", point, upstream=upstream, backward="dW = dD.dot(X.T)\ndX = W.T.dot(dD)")
        assert right.passed, [(o.key, o.note) for o in right.problems[0].outcomes]
        swapped = bpcli.check("D = W @ X", point, upstream=upstream,
                              backward="dW = dD.dot(X.T)\ndX = np.dot(W.T, dD.T).T")
        assert swapped.exit_code == 1


class TestBadBackwardFiles:
    @pytest.mark.parametrize("backward, fragment", [
        ("dnum = invden +", "parse error at line 1"),
        ("dnum = dinvden * 2", "dinvden has no value here"),
        ("num = invden", "num is a value of the forward pass"),
        ("dnum += invden", "dnum += ... but dnum has no value yet"),
        ("dnum = foo(invden)", "unknown function 'foo'"),
        ("invden * 2", "not a bare expression"),
    ])
    def test_exit_2_with_the_line_and_a_caret(self, tmp_path, backward, fragment):
        (tmp_path / "mine.py").write_text(backward + "\n")
        result = run_cli("check", "--file", str(DATA / "notes_forward.py"), "--backward", str(tmp_path / "mine.py"),
                         "-x", "3", "-y", "-4")
        assert result.exit_code == 2, result.stdout
        assert fragment in result.stderr
        assert "^" in result.stderr and "Traceback" not in result.stderr

    def test_an_input_gradient_that_is_never_assigned_fails(self):
        without_dy = "\n".join(line for line in BACKWARD.splitlines() if not line.startswith("dy"))
        result = run(without_dy)
        assert result.exit_code == 1
        dy = next(o for o in result.problems[0].outcomes if o.key == "dy")
        assert dy.expected is None and dy.note == "the backward pass never assigns dy"


class TestTheNotesWholeForwardBlock:
    """The notes' forward code begins with example values (x = 3, y = -4): pasted whole, they are the inputs."""

    WHOLE = "x = 3 # example values\ny = -4\n\n# forward pass\n" + FORWARD

    def test_example_values_are_inputs_with_gradients(self):
        truth = bpcli.grad(FORWARD, NOTES_POINT)
        pasted = bpcli.grad(self.WHOLE)
        assert pasted.gradients == truth.gradients
        assert pasted.value == truth.value

    def test_the_correct_backward_pass_passes_without_bindings(self):
        result = bpcli.check(self.WHOLE, {}, backward=BACKWARD, backward_label="mine.py")
        assert result.passed and result.exit_code == 0

    def test_in_a_real_process_with_the_same_values_bound(self, tmp_path):
        forward = tmp_path / "forward.py"
        forward.write_text(self.WHOLE)
        process = run_process("check", "--file", str(forward), "--backward", str(DATA / "notes_backward.py"),
                              "-x", "3", "-y", "-4")
        assert process.returncode == 0, process.stdout + process.stderr
        assert "9 of 9 expectations met." in process.stdout
        assert "warning" not in process.stdout + process.stderr  # the bound values are the example values


def test_a_bound_value_replaces_an_example_value_and_says_so():
    r = bpcli.grad("x = 3; q = x * 2; f = q * q", x=5)
    assert r.value == 100.0 and r.gradients == {"x": 40.0}  # f = 4x**2, df/dx = 8x
    assert [(w.kind, w.message) for w in r.warnings] == [
        ("replaced-example", "x = 3 in the program is replaced by the value bound to it, 5")
    ]
    assert bpcli.grad("x = 3; f = x * x").gradients == {"x": 6.0}
    assert bpcli.grad("w = [1, -2]; f = sum(w * w)").gradients["w"].tolist() == [2.0, -4.0]

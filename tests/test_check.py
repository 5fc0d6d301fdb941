"""bpcli check: expectations held to the digits written, exit codes, names, JSON and diagnoses."""

from __future__ import annotations

import json
import shlex
import subprocess

import numpy as np
import pytest

import bpcli
from bpcli.engine.errors import BpcliError
from bpcli.analyses.expected import half_unit, read_expected, within
from helpers import bpcli_executable, run_cli, validated

ADD_MUL = "q = x + y; f = q * z"
POINT = {"x": -2, "y": 5, "z": -4}
POINT_ARGS = ["-x", "-2", "-y", "5", "-z", "-4"]
NEURON = "sigmoid(w0*x0 + w1*x1 + w2)"
NEURON_POINT = {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}  # dx0 = 0.3932...


def outcome(result, key):
    (problem,) = result.problems
    return next(o for o in problem.outcomes if o.key == key)


def one(expression, key, written, **point):
    """Check one expectation written as text, as on the command line."""
    return outcome(bpcli.check(expression, point, expect={key: written}), key)


class TestDigitsTolerance:
    @pytest.mark.parametrize("text, half", [
        ("0.39", 0.005), ("0.4", 0.05), ("0.393", 0.0005), ("0.20", 0.005), ("0.2", 0.05), ("-4", 0.5),
        ("1e-3", 0.0005), ("1.0e-3", 0.00005), ("3.0", 0.05), ("3", 0.5), (".5", 0.05), ("2E+2", 50.0), ("inf", 0.0),
    ])
    def test_half_a_unit_in_the_last_written_place(self, text, half):
        assert half_unit(text) == pytest.approx(half, rel=1e-12)

    @pytest.mark.parametrize("written, passes", [
        ("0.39", True), ("0.4", True), ("0.393", True), ("0.3932", True), ("0.40", False), ("0.394", False),
        ("0.38", False),
    ])
    def test_the_issues_example_for_a_true_0_3932(self, written, passes):
        checked = one(NEURON, "dx0", written, **NEURON_POINT)
        assert round(checked.actual, 4) == 0.3932
        assert checked.passed is passes

    @pytest.mark.parametrize("truth, written, passes", [
        (0.24, "0.2", True), (0.24, "0.20", False), (0.205, "0.20", True),
        (-4.4, "-4", True), (-4.6, "-4", False), (-4.0, "-4", True),
        (0.0014, "1e-3", True), (0.0016, "1e-3", False),
        (3.04, "3.0", True), (3.06, "3.0", False), (3.4, "3", True), (3.4, "3.0", False),
        (0.25, "0.2", True), (0.25, "0.3", True),  # exactly half a unit away: float64 slack keeps the tie
    ])
    def test_edge_cases(self, truth, written, passes):
        # d(x*y)/dy = x, so the truth is exactly the bound value.
        assert one("x*y", "dy", written, x=truth, y=1.0).passed is passes

    def test_python_floats_are_held_to_their_shortest_digits(self):
        assert outcome(bpcli.check("x*y", x=0.24, y=1, expect={"dy": 0.2}), "dy").passed
        assert not outcome(bpcli.check("x*y", x=0.26, y=1, expect={"dy": 0.2}), "dy").passed

    def test_rtol_and_atol_replace_the_digits_rule(self):
        assert not outcome(bpcli.check("x*y", x=0.3932, y=1, expect={"dy": "0.39"}, rtol=1e-6), "dy").passed
        assert outcome(bpcli.check("x*y", x=-4.05, y=1, expect={"dy": "-4"}, atol=0.1), "dy").passed
        assert not outcome(bpcli.check("x*y", x=-4.2, y=1, expect={"dy": "-4"}, atol=0.1), "dy").passed

    def test_json_arrays_keep_each_numbers_digits(self):
        expected = read_expected("dW", "[[0.39, 1], [2.50, -4e-1]]")
        assert expected.half.tolist() == [[0.005, 0.5], [0.005, 0.05]]
        assert within(np.array([[0.394, 1.4], [2.504, -0.44]]), expected.value, expected.allowed(expected.value))
        assert not within(np.array([[0.396, 1.0], [2.5, -0.4]]), expected.value, expected.allowed(expected.value))

    def test_csv_and_npy_files(self, tmp_path):
        csv = tmp_path / "dx.csv"
        csv.write_text("dx0,dx1\n0.39,-0.59\n")
        npy = tmp_path / "dw.npy"
        np.save(npy, np.array([-0.19661193324148185, -0.3932238664829637, 0.19661193324148185]))
        result = run_cli("check", "sigmoid(dot(w, x) + b)", "-w", "[2, -3]", "-x", "[-1, -2]", "-b", "-3",
                         "--expect", f"dx=@{csv}", "--expect", f"dw=@{npy}")
        assert result.exit_code == 1, result.stdout  # dw has 2 elements, the file 3: a shape mismatch
        assert "the expected value has shape (3,), but bpcli's has (2,)" in result.stdout
        np.save(npy, np.array([-0.19661193324148185, -0.3932238664829637]))
        result = run_cli("check", "sigmoid(dot(w, x) + b)", "-w", "[2, -3]", "-x", "[-1, -2]", "-b", "-3",
                         "--expect", f"dx=@{csv}", "--expect", f"dw=@{npy}")
        assert result.exit_code == 0, result.stdout
        assert "header" in result.stderr  # the CSV's header row is skipped with a note

    def test_npy_values_nobody_typed_need_relative_agreement(self, tmp_path):
        npy = tmp_path / "dw.npy"
        np.save(npy, np.array([-0.1966, -0.3932]))  # four decimals are not float64 agreement
        result = run_cli("check", "sigmoid(dot(w, x) + b)", "-w", "[2, -3]", "-x", "[-1, -2]", "-b", "-3",
                         "--expect", f"dw=@{npy}")
        assert result.exit_code == 1

    def test_infinities_and_the_tolerance_rule_in_help(self):
        assert one("log(x)", "dx", "inf", x=0.0).passed
        assert not one("log(x)", "dx", "-inf", x=0.0).passed
        help_text = run_cli("check", "--help").stdout
        assert "half a unit in its last written place" in help_text
        assert "0.40 and 0.394 fail" in help_text
        assert "--rtol/--atol replace both" in help_text


class TestExpectations:
    def test_the_worked_example_passes_row_by_row(self):
        result = run_cli("check", ADD_MUL, *POINT_ARGS, "--expect", "dx=-4", "--expect", "dy=-4",
                         "--expect", "dz=3", "--expect", "q=3", "--expect", "f=-12")
        assert result.exit_code == 0, result.stdout + result.stderr
        rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("│")}
        assert set(rows) == {"dx", "dy", "dz", "q", "f"}
        assert "∂f/∂x" in rows["dx"] and "✓" in rows["dx"] and "±0.5" in rows["dx"]
        assert "value of q" in rows["q"]
        assert "5 of 5 expectations met." in result.stdout

    def test_a_wrong_gradient_exits_1_with_a_cross(self):
        result = run_cli("check", ADD_MUL, *POINT_ARGS, "--expect", "dx=-4", "--expect", "dz=-4")
        assert result.exit_code == 1
        assert "✗ dz = -4, but ∂f/∂z = 3" in result.stdout
        assert "1 of 2 expectations met." in result.stdout

    def test_explicit_gradient_form_and_the_ambiguity_error(self):
        program = "dx = x * 2; f = dx * y"
        result = run_cli("check", program, "-x", "3", "-y", "5", "--expect", "dx=1")
        assert result.exit_code == 2
        assert "dx is ambiguous" in result.stderr and "write d(x)=V" in result.stderr
        result = run_cli("check", program, "-x", "3", "-y", "5", "--expect", "d(x)=10", "--expect", "d(dx)=5")
        assert result.exit_code == 0, result.stdout + result.stderr

    @pytest.mark.parametrize("args, fragment", [
        (["(x+y)*z", *POINT_ARGS, "--expect", "q=3"], "to name a stage, write the expression as a staged program"),
        ([ADD_MUL, *POINT_ARGS, "--expect", "dw=3"], "dw is not a value of the program"),
        ([ADD_MUL, *POINT_ARGS, "--expect", "dx=1", "--expect", "d(x)=1"], "expect the same thing"),
        ([ADD_MUL, *POINT_ARGS, "--expect", "dx"], "write NAME=VALUE"),
        ([ADD_MUL, *POINT_ARGS, "--expect", "dx=abc"], "the expected value of dx is not a number"),
        ([ADD_MUL, *POINT_ARGS], "nothing to check"),
        ([ADD_MUL, "-x", "1", "--expect", "dx=1"], "unbound variables: y, z"),
        (["--answers", "hw.toml", "x"], "give no expression"),
    ])
    def test_bad_input_exits_2_with_one_message(self, args, fragment):
        result = run_cli("check", *args)
        assert result.exit_code == 2, result.stdout
        assert result.stderr.startswith("bpcli: error: ")
        assert fragment in result.stderr
        assert "Traceback" not in result.stderr

    def test_array_expectations(self):
        args = ["W @ x", "-W", "[[1, 2], [3, 4]]", "-x", "[0.5, -1]", "--upstream", "[1, 1]"]
        good = run_cli("check", *args, "--expect", "dW=[[0.5, -1], [0.5, -1]]", "--expect", "dx=[4, 6]")
        assert good.exit_code == 0, good.stdout + good.stderr
        bad = run_cli("check", *args, "--expect", "dx=[4, 6.5]")
        assert bad.exit_code == 1
        shape = run_cli("check", *args, "--expect", "dx=4")
        assert shape.exit_code == 1 and "the expected value has shape scalar, but bpcli's has (2,)" in shape.stdout

    def test_json_document(self):
        result = run_cli("check", ADD_MUL, *POINT_ARGS, "--expect", "dx=-4", "--expect", "dz=-4", "--json")
        assert result.exit_code == 1
        doc = json.loads(result.stdout)
        assert doc["schema"] == "bpcli.check/1"
        assert (doc["passed"], doc["exit_code"], doc["tolerance"]) == (False, 1, "digits")
        assert doc["score"] == {"problems": 1, "passed": 0, "expectations": 2, "met": 1}
        (problem,) = doc["problems"]
        dx, dz = problem["expectations"]
        assert dx == {"key": "dx", "name": "x", "kind": "gradient", "expected": -4.0, "written": "-4",
                      "actual": -4.0, "allowed": pytest.approx(0.5), "pass": True, "source": "expect",
                      "line": None, "note": None, "diagnosis": None}
        assert dz["pass"] is False and dz["actual"] == 3.0
        assert dz["diagnosis"]["mistake"] == "multiply-not-swapped"
        assert dz["diagnosis"]["stage"] == "f"
        assert doc["warnings"] == []

    def test_json_writes_infinities_as_strings(self):
        doc = json.loads(run_cli("check", "log(x)", "-x", "0", "--expect", "dx=inf", "--json").stdout)
        assert doc["problems"][0]["expectations"][0]["actual"] == "inf"
        assert doc["passed"] is True


class TestExitCodesInAShellScript:
    """As a grading script runs bpcli: the exit code is the verdict."""

    SCRIPT = 'if {bpcli} check "x*y" -x 3 -y 2 --expect {expect} > /dev/null 2>&1; then echo pass; ' \
             'else echo "fail $?"; fi'

    @pytest.mark.parametrize("expect, verdict", [("dx=2", "pass"), ("dx=3", "fail 1"), ("dw=2", "fail 2")])
    def test_if_bpcli_check_then(self, expect, verdict):
        command = self.SCRIPT.format(bpcli=shlex.join(bpcli_executable()), expect=expect)
        process = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
        assert process.stdout.strip() == verdict


class TestDiagnosis:
    """Each mistake from a constructed wrong answer that shows exactly it; no hint when none matches."""

    def diagnosis(self, expression, point, **expect):
        result = bpcli.check(expression, point, expect=expect)
        return {o.key: o.diagnosis for o in result.problems[0].outcomes}

    def test_missing_fork_accumulation(self):
        # x*y + x at x=3, y=2: dx = 1 (via f) + 2 (via t1) = 3
        (found,) = self.diagnosis("x*y + x", {"x": 3, "y": 2}, dx=2).values()
        assert found.mistake == "fork" and found.message == "dx goes wrong at the fork x"
        assert "Gradients add up at forks" in found.hint
        # The student's text, not bpcli's names for the stages the student did not name (issue 18).
        assert "x is used by 2 gates, so dx = 1 (via f = x * y + x) + 2 (via x * y) = 3" in found.hint
        assert "with the gradient via x * y alone, it is 2" in found.hint
        (found,) = self.diagnosis("x*y + x", {"x": 3, "y": 2}, dx=1).values()
        assert found.mistake == "fork" and "via f = x * y + x alone, it is 1" in found.hint

    def test_a_fork_of_many_uses_tries_one_contribution_alone_or_all_but_one(self):
        # x + x + ... (12 uses, each sending 1 back): every subset of 12 is 4,094 candidates,
        # and the number doubles with each use; beyond MAX_FORK_SUBSETS only these two kinds are tried.
        many = " + ".join(["x"] * 12)
        (found,) = self.diagnosis(many, {"x": 1.5}, dx=11).values()
        assert found.mistake == "fork" and "x is used by 12 gates" in found.hint and found.hint.endswith("only, it is 11.")
        (found,) = self.diagnosis(many, {"x": 1.5}, dx=1).values()
        assert found.mistake == "fork" and found.hint.endswith("via f = t10 + x alone, it is 1.")

    def test_flipped_sign(self):
        (found,) = self.diagnosis(ADD_MUL, POINT, dz=-3).values()
        assert found.mistake == "flipped-sign"
        assert "in stage f = q * z, z gets 3; with the sign flipped, -3" in found.hint

    def test_multiply_inputs_not_swapped(self):
        (found,) = self.diagnosis(ADD_MUL, POINT, dz=-4).values()
        assert found.mistake == "multiply-not-swapped"
        assert found.stage == "f" and "at stage f = q * z" in found.message
        assert "dz = q · df = 3 · 1 = 3; not swapped, it is z · df = -4 · 1 = -4" in found.hint

    @pytest.mark.parametrize("wrong, reading", [(-20, "multiplied by y = 5, as a multiply gate would, it is -20"),
                                                (8, "multiplied by x = -2, it is 8"), (-2, "halved")])
    def test_add_gate_scaled_instead_of_distributing(self, wrong, reading):
        (found,) = self.diagnosis(ADD_MUL, POINT, dx=wrong).values()
        assert found.mistake == "add-scaled"
        assert found.stage == "q" and found.message == "dx goes wrong at stage q = x + y"
        assert reading in found.hint and "distributes the upstream gradient unchanged" in found.hint

    def test_max_routed_to_the_smaller_input(self):
        found = self.diagnosis("max(x, y)", {"x": 4, "y": 2}, dx=0, dy=1)
        assert {d.mistake for d in found.values()} == {"max-misrouted"}
        assert "goes to the larger input (x = 4, y = 2); sent to the smaller one, dx is 0" in found["dx"].hint
        (found,) = self.diagnosis("min(x, y)", {"x": 4, "y": 2}, dy=0).values()
        assert found.mistake == "max-misrouted" and "goes to the smaller input" in found.hint

    def test_a_mistake_further_up_is_traced(self):
        # Not swapping at f gives dq = 3, so dx = dy = 3.
        found = self.diagnosis(ADD_MUL, POINT, dx=3, dy=3)
        for diagnosis in found.values():
            assert diagnosis.mistake == "multiply-not-swapped"
            assert diagnosis.stage == "f"
            assert "after a mistake at stage f = q * z, on the way back" in diagnosis.message

    def test_the_first_wrong_number_in_backward_order(self):
        found = self.diagnosis(ADD_MUL, POINT, dq=3, dx=3)
        assert found["dq"].mistake == "multiply-not-swapped"
        assert found["dx"].message == "dx follows from dq, which is already wrong"

    @pytest.mark.parametrize("expect", [{"dx": 7}, {"dz": -4.4}, {"dx": -4.5}])
    def test_no_hint_is_invented(self, expect):
        (found,) = self.diagnosis(ADD_MUL, POINT, **expect).values()
        assert found.mistake is None and found.hint is None
        assert "no common mistake explains" in found.message

    def test_arrays_with_broadcasting(self):
        # f = sum(W * x) with x broadcast along W's rows: dW[i, j] = x[j], dx[j] = sum_i W[i, j].
        W, x = [[1.0, 2.0], [3.0, 5.0]], [0.5, -1.0]
        found = self.diagnosis("sum(W * x)", {"W": W, "x": x}, dW=[[1, 2], [3, 5]], dx=[1, -2])
        assert found["dW"].mistake == "multiply-not-swapped"
        assert found["dx"].mistake == "multiply-not-swapped"  # x's own value, summed over the broadcast rows
        right = bpcli.check("sum(W * x)", {"W": W, "x": x}, expect={"dW": [[0.5, -1], [0.5, -1]], "dx": [4, 7]})
        assert right.passed


def test_library_results_match_the_command_line():
    result = bpcli.check(ADD_MUL, POINT, expect={"dx": -4, "q": 3})
    assert (result.passed, result.exit_code, result.score["met"]) == (True, 0, 2)
    assert validated(result.to_json())["schema"] == "bpcli.check/1"
    with pytest.raises(BpcliError, match="nothing to check"):
        bpcli.check(ADD_MUL, POINT)


class TestStageCells:
    """dq/dx and 'dx via q' read one cell of a stage's row: its local gradient, what an input receives from it."""

    def test_local_gradients_and_downstream_shares_at_the_notes_point(self):
        expect = {"dq/dx": 1, "d(q)/d(y)": 1, "df/dq": -4, "df/dz": 3, "dx via q": -4, "d(z) via f": 3,
                  "dq via f": -4}
        result = bpcli.check(ADD_MUL, x=-2, y=5, z=-4, expect=expect)
        assert result.passed
        assert [(o.kind, o.stage, o.name, o.actual) for o in result.problems[0].outcomes] == [
            ("local", "q", "x", 1.0), ("local", "q", "y", 1.0), ("local", "f", "q", -4.0), ("local", "f", "z", 3.0),
            ("downstream", "q", "x", -4.0), ("downstream", "f", "z", 3.0), ("downstream", "f", "q", -4.0),
        ]

    def test_a_share_at_a_fork_is_one_term_of_the_sum(self):
        """x*y + x: x receives y from the product and 1 from the sum; dx is their sum."""
        result = bpcli.check("p = x * y; f = p + x", x=3, y=2, expect={"dx via p": 2, "dx via f": 1, "dx": 3})
        assert result.passed
        wrong = bpcli.check("p = x * y; f = p + x", x=3, y=2, expect={"dx via p": 3})
        assert not wrong.passed and wrong.problems[0].outcomes[0].diagnosis is None  # no gradient diagnosis

    def test_the_table_and_the_document_name_the_cell(self):
        result = run_cli("check", ADD_MUL, *POINT_ARGS, "--expect", "dq/dx=1", "--expect", "dz via f=2", "--json")
        assert result.exit_code == 1
        local, share = json.loads(result.stdout)["problems"][0]["expectations"]
        assert (local["kind"], local["stage"], local["name"], local["pass"]) == ("local", "q", "x", True)
        assert (share["kind"], share["stage"], share["actual"], share["pass"]) == ("downstream", "f", 3.0, False)
        table = run_cli("check", ADD_MUL, *POINT_ARGS, "--expect", "dq/dx=1", "--expect", "dz via f=2")
        assert "│ dq/dx    │ ∂q/∂x (local) │        1 │      1 │" in table.stdout
        assert "✗ dz via f = 2, but ∂f/∂z via f = 3" in table.stdout

    @pytest.mark.parametrize("key, message", [
        ("dt9/dx", "dt9/dx: the program has no stage t9"),
        ("dx/dq", "dx/dq: the program has no stage x"),
        ("dq/dz", "dq/dz: stage q = x + y does not read it"),
        ("dz via q", "dz via q: stage q = x + y does not read it"),
    ])
    def test_a_cell_the_table_does_not_have_is_bad_input(self, key, message):
        result = run_cli("check", ADD_MUL, *POINT_ARGS, "--expect", f"{key}=1")
        assert result.exit_code == 2 and message in result.stderr, result.stderr

    def test_an_input_read_twice_or_taking_no_gradient_has_no_single_cell(self):
        with pytest.raises(BpcliError, match="uses it more than once"):
            bpcli.check("f = x * x", x=3, expect={"df/dx": 3})
        with pytest.raises(BpcliError, match="stage f = t \\* x has no local gradient for t"):
            bpcli.check("t = 2 + 3; f = t * x", x=3, expect={"df/dt": 3})  # t is a constant: nothing flows to it
        with pytest.raises(BpcliError, match="has no downstream gradient for t"):
            bpcli.check("t = 2 + 3; f = t * x", x=3, expect={"dt via f": 3})


class TestOneSidedDerivativesAtAKink:
    """At a kink bpcli takes one convention (relu and abs at 0: 0; a max or min tie: split evenly); a student's
    one-sided derivative there is right too, and is accepted with a note. Anything else is still wrong."""

    @staticmethod
    def outcomes(expression: str, *args: str) -> tuple[int, list[tuple[str, bool, str | None]]]:
        result = run_cli("check", expression, *args, "--json")
        expectations = json.loads(result.stdout)["problems"][0]["expectations"]
        return result.exit_code, [(e["key"], e["pass"], e["note"]) for e in expectations]

    @pytest.mark.parametrize("expression, args, gate, accepted, convention, wrong", [
        # relu at 0: the left derivative 0 (bpcli's, PyTorch's) and the right one, 3 * 1
        ("3 * relu(x)", ["-x", "0"], "relu(x)", ["3.0"], "0.0", ["1.5", "-3.0"]),
        # abs at 0: -3 from the left, 3 from the right; bpcli takes 0
        ("3 * abs(x)", ["-x", "0"], "abs(x)", ["-3.0", "3.0"], "0.0", ["1.5", "6.0"]),
        # np.maximum(0, x) at 0: all to x (1) or all to the 0 (0); bpcli splits it, 0.5
        ("max(0, x)", ["-x", "0"], "f = max(0, x)", ["1.0", "0.0"], "0.5", ["0.25", "2.0"]),
    ])
    def test_a_one_sided_derivative_is_accepted_with_a_note(self, expression, args, gate, accepted, convention,
                                                            wrong):
        note = f"at the kink; accepted as a one-sided derivative of {gate}"
        for value in accepted:
            assert self.outcomes(expression, *args, "--expect", f"dx={value}") == (0, [("dx", True, note)])
        assert self.outcomes(expression, *args, "--expect", f"dx={convention}") == (0, [("dx", True, None)])
        for value in wrong:
            assert self.outcomes(expression, *args, "--expect", f"dx={value}") == (1, [("dx", False, None)])

    def test_a_max_tie_routed_to_either_input(self):
        note = "at the kink; accepted as a one-sided derivative of f = max(x, y)"
        point = ["-x", "2", "-y", "2"]
        for dx, dy in (("1.0", "0.0"), ("0.0", "1.0")):
            assert self.outcomes("max(x, y)", *point, "--expect", f"dx={dx}", "--expect", f"dy={dy}") == (
                0, [("dx", True, note), ("dy", True, note)])
        assert self.outcomes("max(x, y)", *point, "--expect", "dx=2.0") == (1, [("dx", False, None)])
        # Routed wholly to both inputs, or one side with bpcli's split for the other: no one choice of a side
        # gives both, so neither is accepted (each alone is a side; together they are the classic mistake).
        for dx, dy, right in (("1.0", "1.0", []), ("0.5", "1.0", ["dx"])):
            assert self.outcomes("max(x, y)", *point, "--expect", f"dx={dx}", "--expect", f"dy={dy}") == (
                1, [("dx", "dx" in right, None), ("dy", False, None)])
        assert self.outcomes("min(x, y)", *point, "--expect", "dy=1.0") == (
            0, [("dy", True, "at the kink; accepted as a one-sided derivative of f = min(x, y)")])

    def test_each_tied_gate_takes_a_side_of_its_own(self):
        # |x| written as relu(x) + relu(-x) at 0: the sides give -1, 0 and 1 (its one-sided derivatives, and
        # the left or right derivative of both relus), never 2.
        for value, passed in (("-1.0", True), ("1.0", True), ("2.0", False)):
            code, [(_, ok, note)] = self.outcomes("relu(x) + relu(-x)", "-x", "0", "--expect", f"dx={value}")
            assert (code, ok) == ((0, True) if passed else (1, False))
            assert (note is not None) == passed

    def test_a_backward_file_routing_a_tie_to_both_inputs_stays_wrong(self, tmp_path):
        both = tmp_path / "both.py"
        both.write_text("dx = 1.0 * df\ndy = 1.0 * df\n")
        result = run_cli("check", "f = max(x, y)", "-x", "2", "-y", "2", "--backward", str(both), "--json")
        assert result.exit_code == 1, result.stdout
        assert [(e["key"], e["pass"]) for e in json.loads(result.stdout)["problems"][0]["expectations"]] == [
            ("dx", False), ("dy", False)]
        one = tmp_path / "one.py"
        one.write_text("dx = 1.0 * df\ndy = 0.0 * df\n")
        result = run_cli("check", "f = max(x, y)", "-x", "2", "-y", "2", "--backward", str(one), "--json")
        assert result.exit_code == 0, result.stdout

    def test_the_report_shows_the_note(self):
        result = run_cli("check", "relu(x)", "-x", "0", "--expect", "dx=1.0")
        assert result.exit_code == 0
        assert "✓ dx = 1.0: at the kink; accepted as a one-sided derivative of f = relu(x)\n" in result.stdout

    def test_away_from_the_kink_there_is_one_derivative(self):
        assert self.outcomes("relu(x)", "-x", "1e-300", "--expect", "dx=0.0") == (1, [("dx", False, None)])
        assert self.outcomes("max(x, y)", "-x", "2", "-y", "2.0000001", "--expect", "dx=1.0") == (
            1, [("dx", False, None)])

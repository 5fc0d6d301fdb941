"""bpcli gradcheck: analytic gradients against centred differences, kinks, rounding, a wrong gate."""

from __future__ import annotations

import json
import math

import pytest

import bpcli
from bpcli.engine import gates
from bpcli.analyses.gradcheck import reading, relative_error
from helpers import run_cli, run_process

NEURON_ARGS = ["--w0", "2", "--x0", "-1", "--w1", "-3", "--x1", "-2", "--w2", "-3"]


@pytest.fixture
def wrong_cube(monkeypatch):
    """A test-only gate whose local gradient is wrong: d(a**3)/da written as 2·a**2."""
    gate = gates.Gate(
        "badcube", "badcube(a)", function="badcube",
        forward=lambda xp, a: a * a * a,
        partials=(lambda g, a, out: g.mul(g.const(2.0), g.pow(a, g.const(2.0))),),
        role="scales", local="∂/∂a = 2 * a**2 (wrong on purpose)",
    )
    monkeypatch.setitem(gates.REGISTRY, "badcube", gate)
    monkeypatch.setitem(gates.FUNCTIONS, "badcube", {1: gate})


def test_the_lectures_reading_of_a_relative_error():
    assert relative_error(1.0, 1.0) == 0.0
    assert relative_error(0.0, 0.0) == 0.0  # the 1e-12 floor keeps 0/0 away
    assert relative_error(1.0, 0.98) == pytest.approx(0.02 / 1.98)
    assert [reading(e) for e in (1e-9, 1e-5, 1e-3, 0.5)] == ["good", "acceptable near kinks", "suspicious", "wrong"]


class TestSmoothExpressions:
    @pytest.mark.parametrize("expression, point", [
        ("sigmoid(w0*x0 + w1*x1 + w2)", {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}),
        ("(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)", {"x": 3, "y": -4}),
        ("log(x) * exp(-y) + sqrt(x) * tanh(y) - x**y", {"x": 1.7, "y": 0.3}),
        ("sum(tanh(W @ X) * G)", {"W": [[0.3, -1.2, 0.5], [1.1, 0.4, -0.7]], "X": [[1.0, 0.5], [-0.3, 2.0],
                                                                                 [0.9, -1.1]],
                                  "G": [[1.0, -2.0], [0.5, 0.25]]}),
    ])
    def test_pass_with_good_readings(self, expression, point):
        result = bpcli.gradcheck(expression, point)
        assert result.passed and result.exit_code == 0
        assert {c.reading for c in result.checks} == {"good"}
        assert result.worst < 1e-7
        elements = sum(len(v) * len(v[0]) if isinstance(v, list) else 1 for v in point.values())
        assert len(result.checks) == elements

    def test_the_table_and_exit_0_in_a_real_process(self):
        process = run_process("gradcheck", "sigmoid(w0*x0 + w1*x1 + w2)", *NEURON_ARGS)
        assert process.returncode == 0, process.stderr
        assert "All 5 input elements pass" in process.stdout
        row = next(line for line in process.stdout.splitlines() if line.startswith("│ x0"))
        assert "0.39322387" in row and "good" in row

    def test_json_document(self):
        result = run_cli("gradcheck", "W @ x", "-W", "[[1, 2, 3], [4, 5, 6]]", "-x", "[1, -1, 2]",
                         "--upstream", "[1, -1]", "--json")
        assert result.exit_code == 0, result.stderr
        doc = json.loads(result.stdout)
        assert doc["schema"] == "bpcli.gradcheck/1"
        assert (doc["h"], doc["max_error"], doc["passed"]) == (1e-5, 1e-4, True)
        assert [c["element"] for c in doc["checks"]][:3] == ["W[0,0]", "W[0,1]", "W[0,2]"]
        assert len(doc["checks"]) == 9
        first = doc["checks"][0]
        assert first["analytic"] == 1.0 and first["numeric"] == pytest.approx(1.0, rel=1e-9)
        assert first["reading"] == "good" and first["kink"] is False and first["left"] is None

    def test_the_step_scales_with_the_input(self):
        # With a fixed h = 1e-5, 1e20 + h == 1e20 and the difference would be 0.
        (check,) = bpcli.gradcheck("x**2 / 1e20", x=1e20).checks
        assert check.step == pytest.approx(1e15, rel=1e-9)
        assert check.reading == "good" and check.numeric == pytest.approx(2.0, rel=1e-9)

    def test_a_difference_below_rounding_is_inconclusive(self):
        # f ~ 1e22: the rounding error of the difference swamps a gradient of 1 with respect to y.
        result = bpcli.gradcheck("x*1e12 + y", x=1e10, y=1e-20)
        x, y = result.checks
        assert x.reading == "good"
        assert y.analytic == 1.0 and y.reading == "inconclusive" and y.passed
        assert result.passed


class TestAWrongGate:
    def test_a_deliberately_wrong_gate_is_flagged(self, wrong_cube):
        result = bpcli.gradcheck("badcube(x) + y", x=2, y=1)
        x, y = result.checks
        assert x.analytic == 8.0 and x.numeric == pytest.approx(12.0, rel=1e-8)
        assert x.reading == "wrong" and not x.passed
        assert y.reading == "good"
        assert result.exit_code == 1

    def test_exit_1_and_the_verdict_on_the_command_line(self, wrong_cube):
        result = run_cli("gradcheck", "badcube(x) * y", "-x", "2", "-y", "3")
        assert result.exit_code == 1
        assert "1 of 2 input elements exceed --max-error 0.0001: x (wrong, 0.2)" in result.stdout

    def test_max_error_sets_the_bar(self):
        # A coarse step leaves an error of about h²/6 for exp: suspicious, not wrong.
        result = run_cli("gradcheck", "exp(x)", "-x", "0", "--h", "0.1")
        assert result.exit_code == 1 and "suspicious" in result.stdout
        assert run_cli("gradcheck", "exp(x)", "-x", "0", "--h", "0.1", "--max-error", "1e-2").exit_code == 0


class TestKinks:
    def test_relu_at_its_kink_warns_and_shows_both_sides(self):
        result = bpcli.gradcheck("relu(x) * y", x=0.0, y=3.0)
        x, y = result.checks
        assert x.kink and (x.left, x.right) == (0.0, pytest.approx(3.0))
        assert x.numeric == pytest.approx(1.5)  # the centred difference averages the two sides
        assert x.analytic == 0.0 and x.passed  # the convention (0) lies between the sides
        assert not y.kink
        messages = [w.message for w in result.warnings if w.kind == "kink-within-step"]
        assert len(messages) == 1 and "x ± 1e-05 crosses a kink (t1 = relu(x))" in messages[0]

    def test_a_kink_within_h_but_not_at_the_input(self):
        (check,) = bpcli.gradcheck("abs(x)", x=3e-6).checks
        assert check.kink and check.analytic == 1.0
        assert check.left == pytest.approx(-1 + 2 * 0.3, rel=1e-6) and check.right == pytest.approx(1.0)

    def test_a_max_tie_and_untouched_ties_elsewhere(self):
        result = bpcli.gradcheck("max(x) + sum(relu(z))", x=[1.0, 1.0, 0.5], z=[0.0, 2.0])
        kinks = {c.label for c in result.checks if c.kink}
        assert kinks == {"x[0]", "x[1]", "z[0]"}  # moving x[2] or z[1] crosses nothing
        assert result.passed

    def test_the_table_shows_left_and_right(self):
        result = run_cli("gradcheck", "relu(x) * y", "-x", "0", "-y", "3")
        assert result.exit_code == 0
        assert "left" in result.stdout and "right" in result.stdout
        assert "crosses a kink" in result.stderr and "crosses a kink" not in result.stdout


def test_sampling_large_inputs():
    result = bpcli.gradcheck("sum(W * W)", W=[[float(i + j) for j in range(10)] for i in range(10)], max_checks=7)
    assert len(result.checks) == 7
    assert any(w.kind == "sampled" and "checked 7 of 100" in w.message for w in result.warnings)
    assert all(c.analytic == pytest.approx(2 * c.value) for c in result.checks)


def test_h_is_the_step_and_a_variable_h_is_bound_with_a_single_dash():
    result = run_cli("gradcheck", "h * x", "-h", "2", "-x", "3", "--h", "1e-3", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["h"] == 1e-3 and doc["inputs"] == {"h": 2.0, "x": 3.0}
    assert run_cli("gradcheck", "x", "-x", "1", "--h", "0").exit_code == 2
    assert "has no input variables" in run_cli("gradcheck", "2*3").stderr
    assert math.isclose(doc["checks"][1]["step"], 3e-3, rel_tol=1e-9)


class TestOneBatch:
    """An array input's moved copies are evaluated as one batch: the checks of moving one element at a time."""

    @staticmethod
    def one_at_a_time(monkeypatch):
        """The oracle: each element moved by itself, through the evaluator, as gradcheck did before."""
        from bpcli.analyses.gradcheck import _Probe

        monkeypatch.setattr(_Probe, "_measure_batch", lambda self, name, indices, steps: [
            self._measure(name, index, plus, minus) for index, (_, plus, minus) in zip(indices, steps)])

    @staticmethod
    def fields(result):
        """Every field of every check, nan made comparable."""
        return [tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in check) for check in result.checks]

    @pytest.mark.parametrize("expression, point", [
        ("sum(tanh(W @ x) * sigmoid(x[0]))", {"W": [[0.3, -1.2, 0.5], [1.1, 0.4, -0.7]], "x": [1.0, 0.0, -2.0]}),
        # kinks within the step (relu at 0, a max tie, abs at 0), a log of a negative number (nan)
        ("sum(relu(x) * abs(x - 1) + max(x, y)) + sum(log(x))", {"x": [0.0, 1.0, -1.0, 2.5], "y": [0.0, 1.0, 3.0, 2.5]}),
        ("sum(softmax(x * y) ** 2) * mean(x)", {"x": [[0.5, -1.0], [2.0, 0.25]], "y": 3.0}),
        # x[2] ± h crosses the mask's edge: that chunk is checked one element at a time
        ("f = np.sum(x[x > 0] ** 3)", {"x": [0.5, 1.0, 0.0, -2.0, 3.0]}),
        # an array output (through an upstream gradient); an overflow
        ("exp(x) * y", {"x": [1.0, 2.0, 710.0], "y": [2.0, 0.0, 1.0], "upstream": [1.0, -2.0, 0.5]}),
    ])
    @pytest.mark.parametrize("chunk", [1 << 18, 5])  # one batch per input, and batches of one or two elements
    def test_the_same_checks_as_one_element_at_a_time(self, expression, point, chunk, monkeypatch):
        from bpcli.analyses import gradcheck as module

        monkeypatch.setattr(module, "BATCH_ELEMENTS", chunk)
        values = {name: value for name, value in point.items() if name != "upstream"}
        batched = bpcli.gradcheck(expression, values, upstream=point.get("upstream"))
        with monkeypatch.context() as patch:
            self.one_at_a_time(patch)
            alone = bpcli.gradcheck(expression, values, upstream=point.get("upstream"))
        assert self.fields(batched) == self.fields(alone)
        assert batched.warnings == alone.warnings and len(batched.checks) > 3

"""grad --symbolic: gradients as simplified expressions that parse back and evaluate to the same numbers."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import bpcli
from bpcli.analyses.symbolic import simplify
from expressions import coordinates, expressions, moderate, point_for
from helpers import run_cli, run_json, run_process

RNG = np.random.default_rng(7)


def simplified(expression: str) -> str:
    """The expression itself, read through the simplifier."""
    graph = bpcli.build(expression)
    return simplify(graph, {"f": graph.output}).programs["f"]


class TestIdentities:
    @pytest.mark.parametrize("expression, expected", [
        ("x * 1", "x"),
        ("1 * x + 0", "x"),
        ("0 * x + y", "y"),
        ("--x", "x"),
        ("-(-(-x))", "-x"),
        ("x + x", "2 * x"),
        ("x + x + x - x", "2 * x"),
        ("2 * (3 * x)", "6 * x"),
        ("2 * x * 3 * y", "6 * x * y"),
        ("x * x", "x**2"),
        ("x * x**2 / x", "x**2"),
        ("x / x", "1"),
        ("x - (x + y)", "-y"),
        ("x + 2 * (x + y)", "3 * x + 2 * y"),
        ("2 * (x + y)", "2 * (x + y)"),  # a product of a sum is not multiplied out
        ("exp(0) * x + log(1)", "x"),
        ("(2 * x)**2", "4 * x**2"),
        ("(x**2)**0.5", "(x**2)**0.5"),  # not x: it is abs(x)
        ("sum(x) + x.T", "2 * x"),  # on numbers, structural gates give their input back
        ("1 - sigmoid(x)", "1 - sigmoid(x)"),
        ("y - 2 * x / y**2", "y - 2 * x / y**2"),
    ])
    def test_rules(self, expression, expected):
        assert simplified(expression) == expected

    def test_nonfinite_constants_are_written_as_divisions(self):
        assert simplified("x + log(0)") == "x - 1 / 0"
        assert bpcli.grad(simplified("x + log(0)"), x=1).value == -math.inf


class TestWorkedExamples:
    def test_the_issue_example(self):
        result = run_cli("grad", "(x+y)*z", "--symbolic")
        assert result.exit_code == 0, result.stderr
        assert result.stdout == "df/dx = z\ndf/dy = z\ndf/dz = x + y\n"

    def test_the_neuron_reads_like_the_notes(self):
        r = bpcli.symbolic("sigmoid(w0*x0 + w1*x1 + w2)")
        assert r.stages == [("f", "sigmoid(w0 * x0 + w1 * x1 + w2)")]
        assert r.gradients == {"w0": "x0 * f * (1 - f)", "x0": "w0 * f * (1 - f)", "w1": "x1 * f * (1 - f)",
                               "x1": "w1 * f * (1 - f)", "w2": "f * (1 - f)"}

    def test_staged_programs_name_shared_stages_after_the_users_stages(self):
        r = bpcli.symbolic(NOTES_PROGRAM)
        names = [name for name, _ in r.stages]
        assert {"sigy", "sigx", "den"} <= set(names)
        assert dict(r.stages)["sigy"] == "sigmoid(y)"

    def test_max_and_relu_give_their_indicators(self):
        assert bpcli.symbolic("max(x, y)").gradients == {"x": "greater(x, y)", "y": "greater(y, x)"}
        assert bpcli.symbolic("relu(x)").gradients == {"x": "step(x)"}

    @pytest.mark.parametrize("expression", [
        "(x+y)*z",
        "q = x + y; f = q * z",
        "sigmoid(w0*x0 + w1*x1 + w2)",
        "dot = w0*x0 + w1*x1 + w2; f = sigmoid(dot)",
        "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))",
        "(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)",
        "NOTES",
        "max(x, y)",
        "relu(x)",
        "2 * (x * y)",
        "x_hat * g + b",
    ])
    def test_reparsed_and_evaluated_at_random_points(self, expression):
        expression = NOTES_PROGRAM if expression == "NOTES" else expression
        r = bpcli.symbolic(expression)
        names = point_names(expression)
        for _ in range(20):
            point = {name: float(RNG.uniform(-3, 3)) for name in names}
            expected = bpcli.grad(expression, point).gradients
            for d in r.derivatives:
                assert bpcli.grad(d.program, point).value == pytest.approx(expected[d.wrt], rel=1e-10, abs=1e-12)
            # The stages and the expressions printed together form one program too.
            program = "\n".join([*(f"{n} = {t}" for n, t in r.stages), ""])
            for d in r.derivatives:
                assert bpcli.grad(program + d.expression, point).value == pytest.approx(
                    expected[d.wrt], rel=1e-10, abs=1e-12)


NOTES_PROGRAM = """
sigy = sigmoid(y)
num = x + sigy
sigx = sigmoid(x)
xpy = x + y
xpysqr = xpy**2
den = sigx + xpysqr
invden = 1.0 / den
f = num * invden
"""


def point_names(expression: str) -> list[str]:
    graph = bpcli.build(expression)
    return [graph.nodes[v].name for v in graph.variables]


@given(expressions, coordinates, coordinates, coordinates)
def test_symbolic_gradients_parse_back_and_agree(expression, x, y, z):
    r = bpcli.symbolic(expression)
    point = point_for(expression, x, y, z)
    numeric = bpcli.grad(expression, point)
    assume(moderate(numeric))
    scale = max([1.0, *(abs(v) for v in numeric.evaluation.values if v is not None)])
    for d in r.derivatives:
        again = bpcli.grad(d.program, point)
        expected = numeric.gradients[d.wrt]
        # Sums are reassociated, so agreement is to rounding on the scale of the numbers involved.
        assert abs(again.value - expected) <= 1e-9 * scale, (expression, point, d.program, again.value, expected)


@pytest.mark.slow
@given(expressions, coordinates)
def test_symbolic_second_derivatives_parse_back_and_agree(expression, x):
    names = point_names(expression)
    assume(names)
    r = bpcli.symbolic(expression, wrt=names[0], order=2)
    point = point_for(expression, x, 0.75, -1.25)
    numeric = bpcli.derivative(expression, point, wrt=names[0], order=2)
    assume(all(math.isfinite(d.value) and abs(d.value) < 1e4 for d in numeric.derivatives))
    again = bpcli.grad(r.derivatives[-1].program, point).value
    assert again == pytest.approx(numeric.value, rel=1e-8, abs=1e-8)


@given(st.integers(min_value=5, max_value=40))
def test_sizes_stay_linear_in_the_depth(depth):
    # sigmoid(sigmoid(...(x))) : written out, its gradient would repeat every inner sigmoid;
    # with shared stages each appears once.
    expression = "x"
    for _ in range(depth):
        expression = f"sigmoid({expression})"
    r = bpcli.symbolic(expression)
    size = len(r.derivatives[0].program)
    assert size < 60 * depth
    assert bpcli.grad(r.derivatives[0].program, x=0.3).value == pytest.approx(
        bpcli.grad(expression, x=0.3).gradients["x"], rel=1e-12)


class TestCommandLine:
    def test_json_carries_the_strings(self):
        doc = run_json("grad", "sigmoid(x) * y", "--symbolic")
        assert doc["schema"] == "bpcli.symbolic/1"
        assert doc["stages"] == [{"name": "t1", "expr": "sigmoid(x)"}]
        assert doc["gradients"] == {"x": "y * t1 * (1 - t1)", "y": "t1"}
        dx = doc["derivatives"][0]
        assert (dx["label"], dx["wrt"], dx["order"], dx["value"]) == ("df/dx", "x", 1, None)
        assert dx["program"] == "t1 = sigmoid(x); y * t1 * (1 - t1)"
        assert doc["warnings"] == [] and doc["inputs"] == {}

    def test_with_values_each_derivative_is_evaluated_too(self):
        doc = run_json("grad", "(x+y)*z", "--symbolic", "-x", "-2", "-y", "5", "-z", "-4")
        assert [(d["expr"], d["value"]) for d in doc["derivatives"]] == [("z", -4.0), ("z", -4.0), ("x + y", 3.0)]
        text = run_cli("grad", "(x+y)*z", "--symbolic", "-x", "-2", "-y", "5", "-z", "-4").stdout
        assert text == "df/dx = z = -4\ndf/dy = z = -4\ndf/dz = x + y = 3\n"

    def test_with_an_order(self):
        result = run_cli("grad", "sigmoid(x)", "--symbolic", "--order", "2")
        assert result.stdout == "f = sigmoid(x)\ndf/dx = f * (1 - f)\nd²f/dx² = f * (1 - f) * (1 - 2 * f)\n"
        assert run_cli("grad", "x**4 * y", "--symbolic", "--order", "3", "--wrt", "x").stdout.splitlines()[-1] == (
            "d³f/dx³ = 24 * x * y")

    @pytest.mark.parametrize("args, message", [
        (("W @ X", "--symbolic"), "treat every variable as a number"),
        (("sum(x * [1, 2])", "--symbolic"), "symbolic derivatives are of numbers"),
        (("x * y", "--symbolic", "-x", "[1, 2]", "-y", "1"), "symbolic derivatives are of numbers"),
        (("x * y", "--symbolic", "-x", "1"), "unbound variable: y"),
        (("x * y", "--symbolic", "--order", "2"), "--wrt x"),
    ])
    def test_bad_input(self, args, message):
        result = run_cli("grad", *args)
        assert result.exit_code == 2
        assert message in result.stderr and "Traceback" not in result.stderr

    def test_the_real_executable(self):
        done = run_process("grad", "(x+y)*z", "--symbolic", "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["gradients"] == {"x": "z", "y": "z", "z": "x + y"}

    @pytest.mark.parametrize("options", [["--symbolic"], ["--symbolic", "--json"], ["--order", "2", "-x", "1", "-y", "2", "--wrt", "x", "--json"]])
    def test_numbers_need_neither_numpy_nor_rich(self, options):
        code = (
            "import sys\n"
            "from bpcli.cli import main\n"
            f"sys.argv = ['bpcli', 'grad', 'x * sigmoid(x*y)', *{options!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numpy', 'rich') if m in sys.modules), file=sys.stderr)\n"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr


def test_symbolic_size_has_a_limit_that_can_be_raised():
    # The gradient of a product of n sums is n products of n - 1 sums: it grows with n².
    product = "*".join(f"(x + y{i})" for i in range(40))
    small = run_cli("grad", product, "--symbolic", "--max-nodes", "500")
    assert small.exit_code == 2
    assert small.stderr == (
        "bpcli: error: the symbolic derivatives grow past 500 terms and factors (raise the limit with "
        "--max-nodes); bpcli grad without --symbolic gives their values\n"
    )
    raised = run_cli("grad", product, "--symbolic", "--max-nodes", "100000")
    assert raised.exit_code == 0, raised.stderr
    assert "df/dy0 = " in raised.stdout


@pytest.mark.parametrize("expression, order, fresh", [
    ("tanh(x) * exp(x)", 3, False),  # the start-up benchmark's
    ("sigmoid(x * y) + x**3 / y", 4, True),
    ("relu(x) * sigmoid(x) + max(x, 0.5)", 3, True),
])
def test_the_programs_alone_are_the_renderings_programs(expression, order, fresh):
    """--order prints the programs only (engine.simplify.programs), without the readable expressions: the same
    texts as simplify's, for every order's derivative, shared stages and fresh names (s1, s2) included."""
    from bpcli.analyses.derivative import repeated
    from bpcli.engine.simplify import programs

    graph = bpcli.build(expression)
    passes = repeated(graph, "x", order)
    roots = {f"d{t.order}": t.node for t in passes.targets}
    roots["f"] = graph.output
    whole = simplify(graph, roots)
    alone = programs(graph, roots)
    assert alone == whole.programs
    assert any("s1 = " in program for program in whole.programs.values()) is fresh  # fresh names compared too
    # Both call the same code, so the oracle is the numbers: each program parses back to its derivative's value.
    point = {"x": 0.7, "y": 1.3} if "y" in expression else {"x": 0.7}
    values = bpcli.derivative(expression, point, wrt="x", order=order).derivatives
    for k in range(1, order + 1):
        assert bpcli.grad(alone[f"d{k}"], point).value == pytest.approx(values[k].value, rel=1e-10, abs=1e-12)
    assert bpcli.grad(alone["f"], point).value == pytest.approx(values[0].value, rel=1e-10, abs=1e-12)

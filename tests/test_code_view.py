"""bpcli code: the staged program runs as plain Python and gives bpcli's own numbers, exactly."""

from __future__ import annotations

import inspect
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, example, given

import bpcli
from bpcli.views.code import python_code
from helpers import run_cli, run_process
from test_properties import _variables, coordinates, expressions, moderate
from test_worked_examples import NOTES_PROGRAM

RNG = np.random.default_rng(5)

WORKED_EXAMPLES = {
    "add then multiply": ("(x+y)*z", {"x": -2, "y": 5, "z": -4}, {}),
    "staged add then multiply": ("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}, {}),
    "neuron": ("sigmoid(w0*x0 + w1*x1 + w2)", {"w0": 2, "w1": -3, "w2": -3, "x0": -1, "x1": -2}, {}),
    "neuron, expanded": (
        "sigmoid(w0*x0 + w1*x1 + w2)", {"w0": 2, "w1": -3, "w2": -3, "x0": -1, "x1": -2}, {"expand": True},
    ),
    "notes' staged example": (NOTES_PROGRAM, {"x": 3, "y": -4}, {}),
    "notes' example as one expression": ("(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)", {"x": 3, "y": -4}, {}),
    "max": ("max(x, y)", {"x": 4, "y": 2}, {}),
    "relu on a vector": ("relu(x)", {"x": [1, -2, 3, -1]}, {"upstream": [4, -1, 5, 9]}),
    "matrix multiply": (
        "D = W @ X", {"W": RNG.normal(size=(5, 10)), "X": RNG.normal(size=(10, 3))},
        {"upstream": RNG.normal(size=(5, 3))},
    ),
    "broadcasting": (
        "x_hat * g + b", {"x_hat": RNG.normal(size=(4, 3)), "g": RNG.normal(size=3), "b": RNG.normal(size=(1, 3))},
        {"upstream": RNG.normal(size=(4, 3))},
    ),
    "reductions and transpose": (
        "mean(max(x, axis=0)) + sum(x.T @ y) + min(x)", {"x": RNG.normal(size=(3, 2)), "y": RNG.normal(size=3)}, {},
    ),
}

# Runs each program as a script and prints what its main block computed, exactly.
RUNNER = """
import json, runpy, sys
import numpy as np

def exact(value):
    return [float(v).hex() for v in np.ravel(value)]

runs = []
for path in sys.argv[1:]:
    run = runpy.run_path(path, run_name="__main__")
    runs.append({"value": exact(run["value"]),
                 "gradients": {name: exact(g) for name, g in run["gradients"].items()}})
print(json.dumps(runs))
"""


def exact(value) -> list[str]:
    return [float(v).hex() for v in np.ravel(value)]


def run_programs(programs: list[str], folder: Path) -> list[dict]:
    """Each program run by a real Python, in one subprocess; numbers as exact hex floats."""
    paths = []
    for number, program in enumerate(programs):
        path = folder / f"program_{number}.py"
        path.write_text(program)
        paths.append(str(path))
    done = subprocess.run([sys.executable, "-c", RUNNER, *paths], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_every_worked_example_reproduces_bpclis_gradients_exactly(tmp_path):
    results = [bpcli.grad(expression, values, **options) for expression, values, options in WORKED_EXAMPLES.values()]
    runs = run_programs([python_code(result) for result in results], tmp_path)
    for name, result, run in zip(WORKED_EXAMPLES, results, runs):
        assert run["value"] == exact(result.value), name
        assert run["gradients"] == {v: exact(g) for v, g in result.gradients.items()}, name


def test_the_notes_example_reads_like_the_notes():
    code = python_code(bpcli.grad(NOTES_PROGRAM, x=3, y=-4))
    lines = [line.strip() for line in code.splitlines() if not line.startswith("#")]
    forward = [line for line in lines if line.endswith(tuple(f"#({k})" for k in range(1, 9)))][:8]
    assert [line.split(" = ")[0] for line in forward] == ["sigy", "num", "sigx", "xpy", "xpysqr", "den", "invden", "f"]
    assert [line.rsplit("#", 1)[1] for line in forward] == [f"({k})" for k in range(1, 9)]
    backward = [" ".join(line.split()) for line in lines[lines.index("df = 1.0") + 1:] if " #(" in line]
    assert backward == [
        "dnum = invden * df #(8)",
        "dinvden = num * df #(8)",
        "dden = (-1 / den**2) * dinvden #(7)",
        "dsigx = (1) * dden #(6)",
        "dxpysqr = (1) * dden #(6)",
        "dxpy = (2 * xpy) * dxpysqr #(5)",
        "dx = (1) * dxpy #(4)",
        "dy = (1) * dxpy #(4)",
        "dx += (sigx * (1 - sigx)) * dsigx #(3)",
        "dx += (1) * dnum #(2)",
        "dsigy = (1) * dnum #(2)",
        "dy += (sigy * (1 - sigy)) * dsigy #(1)",
    ]
    assert "# backprop invden = 1 / den: the reciprocal gate scales" in lines
    assert "# backprop f = num * invden: the multiply gate swaps" in lines
    assert "# A gate that swaps gives each input the other input's value times the upstream gradient." in lines


def test_forks_use_plus_equals_after_the_first_contribution():
    code = python_code(bpcli.grad("x*y + x", x=3, y=2))
    assignments = [line.split()[:2] for line in code.splitlines() if line.strip().startswith("dx ")]
    assert assignments == [["dx", "="], ["dx", "+="]]


def test_matrix_multiply_is_written_as_the_notes_write_it():
    result = bpcli.grad("D = W @ X", W=np.ones((5, 10)), X=np.ones((10, 3)), upstream=np.ones((5, 3)))
    code = python_code(result)
    assert "import numpy as np" in code
    assert "def backprop(W, X, dD):" in code
    assert "dW = dD @ X.T" in code and "dX = W.T @ dD" in code


def test_broadcast_inputs_sum_their_gradient_back_with_numpy():
    result = bpcli.grad("x_hat * g + b", x_hat=np.ones((4, 3)), g=np.ones(3), b=np.ones((1, 3)), upstream="ones")
    code = python_code(result)
    assert "dg = np.sum(x_hat * dt1, axis=0)" in code
    assert "db = np.sum((1) * df, axis=0).reshape((1, 3))" in code


def test_numpy_on_request_for_numbers(tmp_path):
    result = bpcli.grad("tanh(x) * exp(y) + max(x, y)", x=0.5, y=-1.5)
    code = python_code(result, numpy=True)
    assert "import numpy as np" in code and "math." not in code
    assert "np.tanh(x)" in code and "np.maximum(x, y)" in code
    (run,) = run_programs([code], tmp_path)
    assert run["gradients"] == {v: exact(g) for v, g in result.gradients.items()}


def test_names_python_does_not_accept_are_renamed(tmp_path):
    result = bpcli.grad("lambda = x * 2; dx = lambda + sum + sigmoid(x)", x=3, sum=4)
    code = python_code(result)
    assert "lambda_ = x * 2" in code
    assert "def backprop(x, sum_):" in code
    assert "dx_ += (2) * dlambda_" in code  # x's gradient, as the program already has a dx
    (run,) = run_programs([code], tmp_path)
    assert run["gradients"] == {"x": exact(result.gradients["x"]), "sum": exact(result.gradients["sum"])}


def test_an_input_no_gradient_reaches_gets_zero(tmp_path):
    result = bpcli.grad("step(x) + y", x=0.5, y=1)
    code = python_code(result)
    assert "dx = 0.0  # no gradient flows back to x" in code
    (run,) = run_programs([code], tmp_path)
    assert run["gradients"] == {"x": exact(0.0), "y": exact(1.0)}


@given(expressions, coordinates, coordinates, coordinates)
# -0.0 reaches a mul0 gate with the upstream 1: its product keeps the sign, as the folded graph's does
@example("((y) + (y))**(x)", 2.0, -0.0, 0.0)
def test_random_expressions_give_bpclis_gradients_exactly(expression, x, y, z):
    point = {name: {"x": x, "y": y, "z": z}[name] for name in _variables(expression)}
    result = bpcli.grad(expression, point)
    assume(moderate(result))
    namespace: dict = {}
    # The program bpcli wrote, run in this process (the test's, not bpcli's, use of exec).
    exec(compile(python_code(result), "<bpcli code>", "exec"), namespace)  # noqa: S102
    value, gradients = namespace["backprop"](**point)
    assert exact(value) == exact(result.value)
    assert {v: exact(g) for v, g in gradients.items()} == {v: exact(g) for v, g in result.gradients.items()}


@given(expressions, coordinates, coordinates, coordinates)
def test_random_expressions_in_numpy_give_bpclis_gradients(expression, x, y, z):
    """The --numpy target on the same expressions: it runs (no gate it cannot write) and gives bpcli's
    numbers, to the last bits that numpy's and math's exp and log may round apart."""
    point = {name: {"x": x, "y": y, "z": z}[name] for name in _variables(expression)}
    result = bpcli.grad(expression, point)
    assume(moderate(result))
    namespace: dict = {}
    exec(compile(python_code(result, numpy=True), "<bpcli code>", "exec"), namespace)  # noqa: S102
    with np.errstate(all="ignore"):
        value, gradients = namespace["backprop"](**point)
    assert np.isclose(value, result.value, rtol=1e-12, atol=0)
    for name, gradient in result.gradients.items():
        assert np.isclose(gradients[name], gradient, rtol=1e-9, atol=1e-12), (name, gradients[name], gradient)


class TestCommandLine:
    def test_without_values_the_program_reads_them_from_its_command_line(self, tmp_path):
        process = run_process("code", "(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)")
        assert process.returncode == 0, process.stderr
        program = tmp_path / "backprop.py"
        program.write_text(process.stdout)
        ran = subprocess.run([sys.executable, str(program), "3", "-4"], capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, ran.stderr
        result = bpcli.grad("(x + sigmoid(y)) / (sigmoid(x) + (x+y)**2)", x=3, y=-4)
        assert ran.stdout.splitlines() == [
            f"f = {result.value!r}", f"dx = {result.gradients['x']!r}", f"dy = {result.gradients['y']!r}",
        ]

    def test_with_values_the_program_prints_bpclis_numbers(self, tmp_path):
        process = run_cli("code", "q = x + y; f = q * z", "-x", "-2", "-y", "5", "-z", "-4")
        assert process.exit_code == 0, process.stderr
        program = tmp_path / "backprop.py"
        program.write_text(process.stdout)
        ran = subprocess.run([sys.executable, str(program)], capture_output=True, text=True, timeout=60)
        assert ran.stdout.splitlines() == ["f = -12.0", "dx = -4.0", "dy = -4.0", "dz = 3.0"]

    def test_expand_shows_the_long_chain(self):
        process = run_cli("code", "sigmoid(w0*x0 + w1*x1 + w2)", "--expand")
        assert process.exit_code == 0, process.stderr
        assert "t5 = -t4" in process.stdout and "t6 = math.exp(t5)" in process.stdout
        assert "t7 = t6 + 1" in process.stdout and "f = 1 / t7" in process.stdout
        assert "def sigmoid" not in process.stdout

    def test_numpy_flag(self):
        process = run_cli("code", "x * y", "--numpy", "-x", "2", "-y", "3")
        assert "import numpy as np" in process.stdout

    def test_bad_input_is_one_message(self):
        process = run_cli("code", "(x+", "-x", "1")
        assert process.exit_code == 2
        assert process.stderr.startswith("bpcli: error: parse error")
        assert "Traceback" not in process.stderr


def test_non_finite_input_values_are_written_as_python_accepts_them(tmp_path):
    result = bpcli.grad("sum(x + y)", x=math.inf, y=[1.0, math.nan])
    code = python_code(result)
    assert 'x=float("inf")' in code and 'np.array([1.0, float("nan")])' in code
    (run,) = run_programs([code], tmp_path)
    assert run["value"] == exact(result.value)


@pytest.mark.parametrize("op", ["sigmoid", "relu", "step", "sign", "greater"])
def test_helpers_are_bpclis_own_backend_functions(op):
    from bpcli.engine.backends import scalar

    arguments = "x, y" if op == "greater" else "x"
    code = python_code(bpcli.grad(f"{op}({arguments}) * x", x=0.5, y=0.25))
    assert inspect.getsource(getattr(scalar, op)).rstrip() in code


def test_astype_on_numbers_is_written_with_math(tmp_path):
    # The math target had no spelling for astype: an internal error (exit 3) that the input fuzzer found.
    result = bpcli.grad("x.astype(float) * x", x=2.0)
    (run,) = run_programs([python_code(result)], tmp_path)
    assert run["gradients"] == {"x": exact(4.0)}


def test_a_power_of_a_variable_exponent_is_written_with_numpy_too(tmp_path):
    # The numpy target called power(), which it had no source for (np.power): an internal error, exit 3.
    result = bpcli.grad("x**y", x=2.0, y=3.5)
    (run,) = run_programs([python_code(result, numpy=True)], tmp_path)
    assert run["value"] == exact(result.value)
    assert run["gradients"] == {v: exact(g) for v, g in result.gradients.items()}


# Points where the C library's pow and numpy's x * x and 1 / x round apart (x ** 2 at 3.016362090979383 is
# 9.098440263897517 by pow, 9.098440263897515 by x * x): the program writes powers with Python's **, so the
# scalar backend keeps pow for them (computing them as numpy does broke the program's exactness once).
@pytest.mark.parametrize(("expression", "x"), [
    ("x ** 2", 3.016362090979383),
    ("x ** -1", 8.153834473106285),
    ("x ** 3", 3.016362090979383),  # its local gradient 3 * x ** 2
])
def test_a_whole_power_gives_bpclis_numbers_exactly(expression, x, tmp_path):
    result = bpcli.grad(expression, x=x)
    (run,) = run_programs([python_code(result)], tmp_path)
    assert run == {"value": exact(result.value), "gradients": {"x": exact(result.gradients["x"])}}

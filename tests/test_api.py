"""The Python API: complete, typed, documented, and the very results the command line prints."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import io
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import rich

import bpcli
from helpers import REPO, run_cli
from test_worked_examples import NOTES_PROGRAM, notes_reference

RNG = np.random.default_rng(7)
W, X, DD = RNG.normal(size=(5, 10)), RNG.normal(size=(10, 3)), RNG.normal(size=(5, 3))
X_HAT, G, B, DOUT = RNG.normal(size=(4, 3)), RNG.normal(size=3), RNG.normal(size=(1, 3)), RNG.normal(size=(4, 3))


def bindings(values: dict) -> list[str]:
    """NAME=VALUE arguments, arrays as JSON (floats written in full, so they read back exactly)."""
    return [f"{name}={json.dumps(np.asarray(value).tolist())}" for name, value in values.items()]


def cli_json(*args: str) -> str:
    result = run_cli(*args, "--json")
    assert result.stdout, result.stderr  # a failed check (1), or an answers file's unreadable problem (2), prints too
    return result.stdout.rstrip("\n")


def sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


NEURON = {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}
NEURON_SLOPE = sigmoid(1) * (1 - sigmoid(1))

# DESIGN.md's worked examples: expression, values, upstream, the gradients they must give.
WORKED = {
    "add-multiply": ("(x+y)*z", {"x": -2, "y": 5, "z": -4}, None, {"x": -4, "y": -4, "z": 3}),
    "staged": ("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}, None, {"x": -4, "y": -4, "z": 3}),
    "neuron": ("sigmoid(w0*x0 + w1*x1 + w2)", NEURON, None, {
        "w0": -1 * NEURON_SLOPE, "x0": 2 * NEURON_SLOPE, "w1": -2 * NEURON_SLOPE, "x1": -3 * NEURON_SLOPE,
        "w2": NEURON_SLOPE,
    }),
    "notes": (NOTES_PROGRAM, {"x": 3, "y": -4}, None, {"x": notes_reference()["dx"], "y": notes_reference()["dy"]}),
    "max": ("max(x, y)", {"x": 4, "y": 2}, None, {"x": 1, "y": 0}),
    "relu": ("relu(x)", {"x": [1, -2, 3, -1]}, [4, -1, 5, 9], {"x": [4, 0, 5, 0]}),
    "matmul": ("D = W @ X", {"W": W, "X": X}, DD, {"W": DD @ X.T, "X": W.T @ DD}),
    "broadcast": ("x_hat * g + b", {"x_hat": X_HAT, "g": G, "b": B}, DOUT, {
        "x_hat": DOUT * G, "g": (DOUT * X_HAT).sum(axis=0), "b": DOUT.sum(axis=0, keepdims=True),
    }),
}


class TestWorkedExamplesThroughBothDoors:
    """bpcli.grad(...).to_json() is, character for character, what bpcli grad --json prints."""

    @pytest.mark.parametrize("name", WORKED)
    def test_api_equals_cli(self, name):
        expression, values, upstream, expected = WORKED[name]
        result = bpcli.grad(expression, values, upstream=upstream)
        for variable, gradient in expected.items():
            np.testing.assert_allclose(result.gradients[variable], gradient, rtol=1e-12, atol=1e-12)
        seed = [] if upstream is None else ["--upstream", json.dumps(np.asarray(upstream).tolist())]
        assert result.to_json() == cli_json("grad", expression, *bindings(values), *seed)

    @pytest.mark.parametrize("call, args", [
        (lambda: bpcli.jacobian("relu(x)", x=[1, -2, 3, -1]), ["jacobian", "relu(x)", "x=[1,-2,3,-1]"]),
        (lambda: bpcli.jacobian("D = W @ X", W=W, X=X, layout="inputs-first"),
         ["jacobian", "D = W @ X", *bindings({"W": W, "X": X}), "--layout", "inputs-first"]),
        (lambda: bpcli.hessian("x**2 * y + exp(x*y)", x=1, y=2), ["hessian", "x**2 * y + exp(x*y)", "x=1", "y=2"]),
        (lambda: bpcli.hessian(NOTES_PROGRAM, x=3, y=-4, wrt=["y", "x"], vector=[1, 0]),
         ["hessian", NOTES_PROGRAM, "x=3", "y=-4", "--wrt", "y,x", "--vector", "[1, 0]"]),
        (lambda: bpcli.derivative("x**4", x=2, order=3), ["grad", "x**4", "x=2", "--order", "3"]),
        (lambda: bpcli.symbolic("(x+y)*z"), ["grad", "(x+y)*z", "--symbolic"]),
        (lambda: bpcli.symbolic(NOTES_PROGRAM, x=3, y=-4, wrt="x", order=2),
         ["grad", NOTES_PROGRAM, "x=3", "y=-4", "--symbolic", "--wrt", "x", "--order", "2"]),
        (lambda: bpcli.check("q = x + y; f = q * z", x=-2, y=5, z=-4, expect={"dx": "-4", "dz": "-4", "q": "3"}),
         ["check", "q = x + y; f = q * z", "x=-2", "y=5", "z=-4", "--expect", "dx=-4", "--expect", "dz=-4",
          "--expect", "q=3"]),
        (lambda: bpcli.gradcheck("sigmoid(w0*x0 + w1*x1 + w2)", NEURON),
         ["gradcheck", "sigmoid(w0*x0 + w1*x1 + w2)", *bindings(NEURON)]),
        (lambda: bpcli.gradcheck("max(x, y)", x=4, y=4), ["gradcheck", "max(x, y)", "x=4", "y=4"]),
        (lambda: bpcli.gate_reference(), ["gates"]),
        (lambda: bpcli.gate_reference(["max", "relu"]), ["gates", "max", "relu"]),
    ], ids=["jacobian", "jacobian-inputs-first", "hessian", "hvp", "derivative", "symbolic", "symbolic-order",
            "check", "gradcheck", "gradcheck-tie", "gates", "some-gates"])
    def test_every_command(self, call, args):
        assert call().to_json() == cli_json(*args)

    def test_an_answers_file(self, tmp_path):
        path = tmp_path / "hw.toml"
        path.write_text('[[problem]]\nexpr = "(x+y)*z"\ninputs = { x = -2, y = 5, z = -4 }\n'
                        'expect = { dx = -4, dz = -4 }\n\n[[problem]]\nexpr = "x *"\nexpect = { dx = 1 }\n')
        assert bpcli.check_answers(path).to_json() == cli_json("check", "--answers", str(path))

    def test_a_result_is_what_the_stage_table_reads(self):
        r = bpcli.grad("q = x + y; f = q * z", x=-2, y=5, z=-4)
        q = r.stages[0]
        assert (q.name, q.op, q.expression, q.value, q.local, q.upstream, q.downstream) == (
            "q", "add", "x + y", 3.0, (1.0, 1.0), -4.0, (-4.0, -4.0))
        assert (r.output, r.value, r.inputs, r.shapes["f"]) == ("f", -12.0, {"x": -2.0, "y": 5.0, "z": -4.0}, ())
        assert r.warnings == []


class TestRichRenderables:
    """rich.print(r) shows exactly the table the command prints, then the warnings it prints on stderr."""

    @pytest.mark.parametrize("call, args", [
        (lambda: bpcli.grad("(x+y)*z", x=-2, y=5, z=-4), ["grad", "(x+y)*z", "x=-2", "y=5", "z=-4"]),
        (lambda: bpcli.grad("relu(x)", x=[1, -2, 3, -1], upstream=[4, -1, 5, 9]),
         ["grad", "relu(x)", "x=[1,-2,3,-1]", "--upstream", "[4,-1,5,9]"]),
        (lambda: bpcli.jacobian("relu(x)", x=[1, -2, 3, -1]), ["jacobian", "relu(x)", "x=[1,-2,3,-1]"]),
        (lambda: bpcli.hessian("x**2 * y", x=1, y=2), ["hessian", "x**2 * y", "x=1", "y=2"]),
        (lambda: bpcli.derivative("x**4", x=2, order=3), ["grad", "x**4", "x=2", "--order", "3"]),
        (lambda: bpcli.symbolic("x * sigmoid(y)", x=1, y=2), ["grad", "x * sigmoid(y)", "x=1", "y=2", "--symbolic"]),
        (lambda: bpcli.check("(x+y)*z", x=-2, y=5, z=-4, expect={"dz": "-4"}),
         ["check", "(x+y)*z", "x=-2", "y=5", "z=-4", "--expect", "dz=-4"]),
        (lambda: bpcli.gradcheck("relu(x) * y", x=0, y=3), ["gradcheck", "relu(x) * y", "x=0", "y=3"]),
        (lambda: bpcli.gate_reference(["sigmoid"]), ["gates", "sigmoid"]),
    ], ids=["grad", "grad-array", "jacobian", "hessian", "derivative", "symbolic", "check", "gradcheck", "gates"])
    def test_rich_print_shows_the_commands_table(self, call, args, monkeypatch):
        monkeypatch.setenv("COLUMNS", "120")  # the width the command uses when its output is not a terminal
        shown = io.StringIO()
        rich.print(call(), file=shown)
        printed = run_cli(*args)
        assert printed.exit_code in (0, 1), printed.stderr
        assert shown.getvalue().startswith(printed.stdout)
        assert shown.getvalue().strip()
        # The warnings come under the table, as "warning: ..." (and wrapped to its width).
        warnings = shown.getvalue()[len(printed.stdout):]
        assert warnings.split() == printed.stderr.replace("bpcli: warning: ", "warning: ").split()


class TestPublicNames:
    def test_all_lists_every_public_name_and_each_resolves(self):
        assert set(bpcli.__all__) == {"__version__", *bpcli._PUBLIC}
        for name in bpcli.__all__:
            assert getattr(bpcli, name) is not None
        assert set(bpcli.__all__) <= set(dir(bpcli))
        namespace: dict = {}
        exec("from bpcli import *", namespace)
        assert set(bpcli.__all__) <= set(namespace)

    def test_jacobian_is_the_function_even_after_its_module_is_imported(self):
        importlib.import_module("bpcli.analyses.jacobian")
        importlib.import_module("bpcli.analyses.hessian")
        assert callable(bpcli.jacobian) and bpcli.jacobian.__module__ == "bpcli.analyses.jacobian"
        for name in bpcli._PUBLIC:
            assert not inspect.ismodule(getattr(bpcli, name)), name

    def test_type_checkers_see_the_same_names(self):
        """The TYPE_CHECKING imports of bpcli/__init__.py name every public object where _PUBLIC finds it."""
        tree = ast.parse((REPO / "bpcli" / "__init__.py").read_text())
        block = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
        seen = {alias.name: statement.module for statement in block.body for alias in statement.names}
        assert seen == bpcli._PUBLIC

    @pytest.mark.parametrize("name", sorted(bpcli._PUBLIC))
    def test_typed_and_documented_with_an_example(self, name):
        obj = getattr(bpcli, name)
        assert ">>> " in (obj.__doc__ or ""), f"{name} has no example in its docstring"
        functions = [obj] if inspect.isfunction(obj) else [
            member for member in vars(obj).values() if inspect.isfunction(member) and not member.__name__.startswith("_")
        ]
        for function in functions:
            signature = inspect.signature(function)
            assert signature.return_annotation is not inspect.Signature.empty, function.__qualname__
            for parameter in signature.parameters.values():
                if parameter.name != "self":
                    assert parameter.annotation is not inspect.Parameter.empty, (function.__qualname__, parameter.name)

    @pytest.mark.parametrize("module", sorted({"bpcli", *bpcli._PUBLIC.values()}))
    def test_the_examples_run(self, module):
        results = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
        assert results.attempted > 0 and results.failed == 0

    @pytest.mark.parametrize("name", [name for name in bpcli._PUBLIC if name.endswith(("Result", "Reference"))])
    def test_every_result_prints_its_document_and_its_table(self, name):
        cls = getattr(bpcli, name)
        assert callable(cls.to_json) and callable(cls.__rich__)
        assert "document" in cls.to_json.__doc__

    def test_the_package_is_marked_typed(self):
        assert (REPO / "bpcli" / "py.typed").is_file()


def test_import_bpcli_stays_cheap():
    """The public names are imported on first use: importing the package imports nothing else."""
    code = ("import sys, bpcli\n"
            "print(sorted(m for m in sys.modules if m.startswith('bpcli') or m.split('.')[0] in "
            "('numpy', 'rich', 'lark', 'typer', 'jsonschema')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['bpcli']"


def test_an_expected_numpy_float_reads_as_its_number():
    # np.float64 is a float whose repr under numpy 2 is "np.float64(3.0)": it was read as text (exit 3's error)
    import numpy as np

    right = bpcli.check("x*y", x=2.0, y=3.0, expect={"dx": np.float64(3.0), "dy": np.float64(2.0)})
    wrong = bpcli.check("x*y", x=2.0, y=3.0, expect={"dx": np.float64(2.5)})
    assert right.passed and [o.written for o in right.problems[0].outcomes] == ["3.0", "2.0"]
    assert not wrong.passed and wrong.problems[0].outcomes[0].actual == 3.0

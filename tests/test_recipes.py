"""docs/architecture.md's recipe for a new gate, followed: one entry in the registry, and every command knows it.

The gate, cube(a) = a³ with local gradient 3a², is registered for these tests
only, exactly as the recipe says, and removed after each.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import REPO
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.engine import gates
from bpcli.engine.gates import Gate

CUBE = Gate(
    "cube", "cube(a)", function="cube", formula_="a * a * a",
    forward=lambda xp, a: a * a * a,
    partials=(lambda g, a, out: g.mul(g.const(3.0), g.mul(a, a)),),
    role="scales", local="∂/∂a = 3 * a**2",
)


@pytest.fixture
def cube():
    gates._register(CUBE)  # the recipe's one step: an entry in bpcli/engine/gates.py
    yield CUBE
    del gates.REGISTRY["cube"]
    del gates.FUNCTIONS["cube"]


def run(*arguments: str):
    result = CliRunner().invoke(app, list(arguments))
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def test_the_recipe_is_what_docs_architecture_says():
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    recipe = text[text.index("## A new gate"):text.index("## A new command")]
    # The recipe's code is this test's gate, word for word.
    for line in ('"cube", "cube(a)", function="cube", formula_="a * a * a",', "forward=lambda xp, a: a * a * a,",
                 "partials=(lambda g, a, out: g.mul(g.const(3.0), g.mul(a, a)),),"):
        assert line in recipe


def test_the_gate_is_on_the_reference_card(cube):
    assert "cube(a)" in run("gates") and "3 * a**2" in run("gates")
    card = {c["op"]: c for c in json.loads(run("gates", "--json"))["gates"]}["cube"]
    assert card["syntax"] == "cube(a)" and card["kind"] == "elementwise"


def test_grad_shows_the_gate_in_its_table_and_its_json(cube):
    table = run("grad", "cube(x) * y", "-x", "2", "-y", "5")
    assert "cube" in table and "x ← 60" in table
    document = json.loads(run("grad", "cube(x) * y", "-x", "2", "-y", "5", "--json"))
    stage = document["stages"][0]
    assert (stage["op"], stage["value"], stage["local"], stage["downstream"]) == ("cube", 8.0, [12.0], [60.0])
    assert document["gradients"] == {"x": 60.0, "y": 8.0}


def test_the_staged_code_runs_and_gives_the_same_gradients(cube, tmp_path):
    code = run("code", "cube(x) * y", "-x", "2", "-y", "5")
    assert "def cube(a):" in code
    (tmp_path / "backprop.py").write_text(code)
    printed = subprocess.run([sys.executable, str(tmp_path / "backprop.py")], capture_output=True, text=True,
                             check=True).stdout
    assert "dx = 60.0" in printed and "dy = 8.0" in printed


def test_gradcheck_agrees_with_the_gates_local_gradient(cube):
    document = json.loads(run("gradcheck", "cube(x)", "-x", "-1.5", "--json"))
    assert document["passed"] is True

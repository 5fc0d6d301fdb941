"""Start-up stays small: a scalar --json run needs neither numpy, rich nor lark."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from bpcli.syntax import grammar, standalone
from bpcli.syntax.parser import _parser
from helpers import REPO


def imported_modules(*args: str) -> set[str]:
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bpcli", *args],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert process.returncode == 0, process.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in process.stderr.splitlines() if line.startswith("import time:")}


def test_scalar_json_run_imports_neither_numpy_nor_rich_nor_lark_nor_typer():
    modules = imported_modules("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--json")
    assert "bpcli.api" in modules  # the measurement saw bpcli's own imports
    assert not {m for m in modules if m.split(".")[0] in ("numpy", "jsonschema")}
    assert "rich.console" not in modules
    assert "lark" not in modules
    assert "typer" not in modules  # the quick path (bpcli/cli/quick.py)
    assert "bpcli.json_schemas" not in modules  # the schemas are for `bpcli schema`, not read on every run


def test_an_option_takes_the_typer_path():
    modules = imported_modules("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--json", "--precision", "3")
    assert "typer" in modules


def test_the_table_run_imports_rich_but_not_numpy():
    modules = imported_modules("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4")
    assert "rich.console" in modules
    assert not {m for m in modules if m.split(".")[0] == "numpy"}


def test_the_parser_comes_from_the_generated_module():
    parser, errors = _parser()
    assert errors.__name__ == "bpcli.syntax._lalr_parser"
    assert errors.GRAMMAR == grammar.text()


def test_a_changed_grammar_never_uses_stale_tables(tmp_path):
    changed = grammar.text().replace('POW: "**"', 'POW: "^"')
    assert standalone.load(changed) is None
    target = tmp_path / "generated.py"
    standalone.generate(changed, target=target)
    spec = importlib.util.spec_from_file_location("generated", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.GRAMMAR == changed
    tree = module.Lark_StandAlone().parse("x ^ 2")
    assert tree.data == "program"
    assert "import pickle" not in target.read_text()

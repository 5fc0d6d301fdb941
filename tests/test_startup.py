"""Start-up stays small: a scalar --json run needs neither numpy, rich nor lark."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

from bpcli.engine.syntax import grammar, standalone
from bpcli.engine.syntax.parser import _parser
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
    assert "bpcli.analyses.grad" in modules  # the measurement saw bpcli's own imports
    assert not {m for m in modules if m.split(".")[0] in ("numpy", "jsonschema")}
    assert "rich.console" not in modules
    assert "lark" not in modules
    assert "typer" not in modules  # the quick path (bpcli/cli/quick.py)
    assert "bpcli.views.json_schemas" not in modules  # the schemas are for `bpcli schema`, not read on every run


def test_an_option_takes_the_typer_path():
    modules = imported_modules("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--json", "--precision", "3")
    assert "typer" in modules


def test_the_table_run_imports_rich_but_not_numpy():
    modules = imported_modules("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4")
    assert "rich.console" in modules
    assert not {m for m in modules if m.split(".")[0] == "numpy"}


def test_the_parser_comes_from_the_generated_module():
    tables = _parser()
    assert tables.__name__ == "bpcli.engine.syntax._lalr_parser"
    assert tables.GRAMMAR == grammar.text()


def test_a_run_imports_none_of_larks_runtime():
    """The generated module is literals: no logging, dataclasses or inspect on every start."""
    modules = imported_modules("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--json")
    assert "bpcli.engine.syntax.parser" in modules
    assert not {"logging", "dataclasses", "inspect", "copy", "difflib"} & modules


def test_the_generated_tables_are_plain_literals_readable_by_everyone():
    source = open(standalone.GENERATED, encoding="utf-8").read()
    assert "import" not in source and "Token(" not in source
    assert os.stat(standalone.GENERATED).st_mode & 0o444 == 0o444


def test_a_changed_grammar_never_uses_stale_tables(tmp_path):
    changed = grammar.text().replace('POW: "**"', 'POW: "^"')
    assert standalone.load(changed) is None
    target = tmp_path / "generated.py"
    standalone.generate(changed, target=target)
    spec = importlib.util.spec_from_file_location("generated", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.GRAMMAR == changed
    assert ("POW", "\\^") in module.TERMINALS


def test_tables_built_in_memory_parse_as_the_generated_ones(monkeypatch):
    """A read-only installation builds the tables in memory; they must parse the same."""
    from bpcli.engine.syntax import parser

    source = "q = -x**2 + np.maximum(a, b) @ W.T; f = sum(q, axis=(0, 1)) / [1, 2,]"
    expected = parser.parse(source)
    monkeypatch.setattr(standalone, "load", lambda text: None)
    monkeypatch.setattr(standalone, "generate", _read_only)
    for cached in (parser._parser, parser._table, parser._lexer):
        cached.cache_clear()
    try:
        assert parser._parser().__name__ == "_lalr_parser, built in memory"
        assert parser.parse(source) == expected
    finally:
        for cached in (parser._parser, parser._table, parser._lexer):
            cached.cache_clear()


def _read_only(text, target=None):
    raise PermissionError("read-only file system")


def test_tables_of_an_older_layout_are_regenerated():
    """A checkout keeps its generated file across updates: one of another layout is stale."""
    from bpcli.engine.syntax import parser

    original = open(standalone.GENERATED, encoding="utf-8").read()
    older = f"GRAMMAR = {grammar.text()!r}\nclass Lark_StandAlone: pass\n"  # the grammar matches, the layout not
    try:
        with open(standalone.GENERATED, "w", encoding="utf-8") as file:
            file.write(older)
        assert standalone.load(grammar.text()) is None
        for cached in (parser._parser, parser._table, parser._lexer):
            cached.cache_clear()
        assert parser.parse("x * 2").statements[0].op == "*"
        assert standalone.load(grammar.text()).FORMAT == standalone.FORMAT
    finally:
        with open(standalone.GENERATED, "w", encoding="utf-8") as file:
            file.write(original)
        for cached in (parser._parser, parser._table, parser._lexer):
            cached.cache_clear()

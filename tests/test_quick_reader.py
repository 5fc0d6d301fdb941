"""The quick reader (bpcli/cli/quick.py) reads a command line as typer reads it, from the same declaration,
and leaves to typer every command line it is not sure of."""

from __future__ import annotations

import functools
import os

import pytest
import typer
from typer.testing import CliRunner

from bpcli.cli import COMMANDS, app, quick
from bpcli.cli.application import register
from bpcli.cli.declare import DECLARED, Context, Declared

assert app  # every command declared

READ_ALIKE = [
    ["grad", "(x+y)*z", "-x", "-2", "--json", "--precision=3", "--max-stages", "5", "-y", "5", "-zw", "-4"],
    ["grad", "--file", "f.txt", "-x", "2", "--out", "o.csv", "--points", "p.csv", "--format", "jsonl"],
    ["grad", "x", "--order", "2", "--wrt", "x", "--symbolic", "--max-nodes", "100", "--max-order=7"],
    ["grad", "-", "-x", "1", "--explain", "--gradients-only", "--full", "--upstream", "[1, 2]"],
    ["grad"],
    ["check", "x*y", "--expect", "dx=2", "--expect", "y=2", "-x", "3", "--w0=2", "--rtol", "1e-3", "--atol=0"],
    ["check", "--answers", "a.toml", "--answers", "b.toml", "--allow-paths", "d", "--html", "r.html", "--json"],
    ["check", "f", "--w0", "2", "--x0", "-1", "--backward", "b.py", "x=3"],
    ["gradcheck", "x*h", "--h", "1e-4", "-h", "2", "--step", "1e-5", "--max-checks", "3", "--max-error", "0.1"],
    ["hessian", "x*y", "--wrt", "x,y", "--wrt", "z", "--vector", "x=1", "--vector", "y=0", "--max-entries", "10"],
    ["jacobian", "x", "--layout", "inputs-first", "--full", "--seed", "3", "--max-elements", "10"],
    ["graph", "x", "-o", "f.svg", "--format", "svg", "--upstream", "ones", "--precision", "17"],
    ["code", "x", "--numpy", "--expand", "--max-length", "10", "--max-total-elements", "5"],
    ["check", "--forward", "layers.py:affine_forward", "-x", "2", "--backward", "layers.py:affine_backward"],
    ["grade", "key.toml", "ada", "bob.toml", "--csv", "-", "--max-length", "100"],
    ["grade", "--init", "course"],
    ["exercise", "x * y + x", "--seed", "7", "--blank", "upstream,downstream", "--json"],
    ["gates", "relu", "max", "--json"],
    ["gates"],
    ["schema", "grad"],
    ["schema"],
]


def typer_reads(words: list[str]) -> dict:
    """The arguments typer calls the command's function with (the function recorded, not run)."""
    declared = DECLARED[words[0]]
    calls = []

    @functools.wraps(declared.function)
    def record(**kwargs):
        calls.append(kwargs)

    application = typer.Typer()

    @application.callback()
    def root() -> None:
        """A group, as bpcli's application is."""

    register(application, Declared(record, declared.settings))
    result = CliRunner().invoke(application, words)
    assert result.exit_code == 0, result.output
    (kwargs,) = calls
    return kwargs


def plain(arguments: dict) -> dict:
    """The context compared by the words it leaves for bindings, and a path by its text: typer hands a command
    a pathlib.Path, the quick reader the text pathlib spells (declare.Path), which the commands read alike."""

    def text(value):
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    return {name: value.args if hasattr(value, "args") else [*map(text, value)] if isinstance(value, list)
            else text(value) for name, value in arguments.items()}


@pytest.mark.parametrize("words", READ_ALIKE, ids=" ".join)
def test_the_quick_reader_reads_as_typer_does(words):
    read = quick.read(DECLARED[words[0]], words[1:])
    assert all(not isinstance(value, Context) or name == "ctx" for name, value in read.items())
    assert plain(read) == plain(typer_reads(words))


@pytest.mark.parametrize("words", [
    ["grad", "x", "-x", "1", "--precision", "0"],  # out of bounds: typer says so
    ["grad", "x", "-x", "1", "--precision"],  # no value
    ["grad", "x", "-x", "1", "--max-stages", "many"],  # not a number
    ["grad", "x", "-x", "1", "--json=1"],  # a flag takes no value
    ["gates", "--bogus"],  # no bindings: an unknown option is an error
    ["gates", "-1"],
    ["grade", "key.toml", "--bogus"],
    ["grad", "x", "-x", "1", "--help"],
    ["check", "--version"],
    ["grad", "--", "-x", "-x", "1"],
    ["nonsense", "x"],
    [],
])
def test_what_the_quick_reader_is_not_sure_of_goes_to_typer(words):
    assert quick.run(words, COMMANDS) is None


def test_completion_goes_to_typer(monkeypatch):
    monkeypatch.setenv("_BPCLI_COMPLETE", "complete_bash")
    assert quick.run(["gates", "--json"], COMMANDS) is None


def documented_command_lines() -> list[list[str]]:
    """Every `$ bpcli ...` of README and docs/ that is one plain command (no pipe, redirection or variable)."""
    import importlib.util
    import shlex
    import sys

    from helpers import REPO

    if "docs_examples" not in sys.modules:
        spec = importlib.util.spec_from_file_location("docs_examples", REPO / "docs" / "examples.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclass looks itself up there
        spec.loader.exec_module(module)
    pages = sys.modules["docs_examples"]
    lines = []
    for path in pages.pages():
        for example in pages.examples(path.read_text()):
            words = list(shlex.shlex(example.command, posix=True, punctuation_chars=True))
            operators = [word for word in words if set(word) <= set("();<>|&")]  # a pipe, a redirection, ...
            if words[0] == "bpcli" and not operators and "$" not in example.command:
                lines.append(shlex.split(example.command)[1:])
    for declared in DECLARED.values():  # and the examples of every command's --help
        epilog = declared.settings.get("epilog", "")
        lines += [shlex.split(line)[1:] for line in epilog.splitlines() if line.strip().startswith("bpcli ")]
    return lines


def test_every_documented_command_line_is_read_as_typer_reads_it():
    """Where the quick reader decides, it decides as typer would; the rest it leaves (and typer still runs it)."""
    lines = documented_command_lines()
    read_quickly = 0
    for words in lines:
        if not words or words[0] not in COMMANDS or any(word in ("--help", "--version", "--") for word in words):
            continue
        try:
            read = quick.read(DECLARED[words[0]], words[1:])
        except quick.Undecided:
            continue
        read_quickly += 1
        assert plain(read) == plain(typer_reads(words)), words
    assert read_quickly > 0.8 * len(lines) > 50

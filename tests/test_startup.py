"""Start-up stays small: a scalar --json run of any command needs neither typer, numpy, rich nor lark."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from bpcli.engine.syntax import grammar, standalone
from bpcli.engine.syntax.parser import _parser
from helpers import REPO

DATA = REPO / "tests" / "data"


def imported_modules(*args: str) -> set[str]:
    process = run_bpcli("-X", "importtime", *args)
    assert process.returncode == 0, process.stderr[-2000:]
    return modules_of(process)


def run_bpcli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python [-X importtime] -m bpcli ARGS``: the options before the first word that is not one go to Python."""
    python = [arg for arg in args[:2] if args[:2] == ("-X", "importtime")]
    return subprocess.run([sys.executable, *python, "-m", "bpcli", *args[len(python):]],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


def modules_of(process: subprocess.CompletedProcess[str]) -> set[str]:
    return {line.split("|")[-1].strip() for line in process.stderr.splitlines() if line.startswith("import time:")}


@functools.cache
def interpreter_modules() -> frozenset[str]:
    """What this interpreter imports before any code runs: a .pth file in site-packages may import more than
    Python itself (the system Python here imports certifi, and with it pathlib); bpcli is not held to those."""
    process = subprocess.run([sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True, text=True,
                             timeout=60)
    return frozenset(modules_of(process))


def test_scalar_json_run_imports_neither_numpy_nor_rich_nor_lark_nor_typer():
    modules = imported_modules("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--json")
    assert "bpcli.analyses.grad" in modules  # the measurement saw bpcli's own imports
    assert not {m for m in modules if m.split(".")[0] in ("numpy", "jsonschema")}
    assert "rich.console" not in modules
    assert "lark" not in modules
    assert "typer" not in modules  # the quick path (bpcli/cli/quick.py)
    assert "bpcli.views.json_schemas" not in modules  # the schemas are for `bpcli schema`, not read on every run


def test_an_option_is_read_without_typer_and_a_bad_value_goes_to_typer():
    """The quick reader (bpcli/cli/quick.py) reads the options too; a value typer would refuse is typer's to refuse."""
    assert "typer" not in imported_modules("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--json",
                                           "--precision", "3")
    process = run_bpcli("-X", "importtime", "grad", "(x+y)*z", "-x", "-2", "--precision", "0")
    assert process.returncode == 2
    assert "Invalid value for '--precision': 0 is not in the range 1<=x<=17." in process.stderr
    assert "typer" in modules_of(process)


@pytest.mark.parametrize("words", [["--help"], ["--version"], ["--", "x*y", "-x", "2", "-y", "3"]])
def test_help_version_and_double_dash_are_typers(words):
    process = run_bpcli("-X", "importtime", "grad", *words)
    assert process.returncode == 0, process.stderr[-2000:]
    assert "typer" in modules_of(process)


HEAVY = ("typer", "click", "rich", "numpy", "lark")


def scalar_command_lines(folder):
    """Every command's JSON (or plain text) path on numbers, as a user types it."""
    subprocess.run([sys.executable, "-m", "bpcli", "grade", "--init", str(folder / "course")], check=True,
                   capture_output=True)
    (folder / "hw.toml").write_text(
        '[[problem]]\nexpr = "f = x*y + x"\ninputs = { x = 3, y = 2 }\nexpect = { dx = 3, dy = 3 }\n'
    )
    forward, backward = (str(DATA / f"notes_{stage}.py") for stage in ("forward", "backward"))
    example = ["(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4"]
    return {
        "grad": ["grad", *example, "--json"],
        "grad, options": ["grad", *example, "--json", "--precision=3", "--max-stages", "5", "--expand"],
        "check --expect": ["check", *example, "--expect", "dx=-4", "--expect", "t1=3", "--json"],
        "check, --x bindings": ["check", "sigmoid(w0*x0 + w1*x1 + w2)", "--w0", "2", "--x0", "-1", "--w1", "-3",
                                "--x1", "-2", "--w2", "-3", "--expect", "dx0=0.39", "--json"],
        "check --answers": ["check", "--answers", str(folder / "hw.toml"), "--json"],
        "check --backward": ["check", "--file", forward, "-x", "3", "-y", "-4", "--backward", backward, "--json"],
        "gradcheck": ["gradcheck", "relu(x) * y", "-x", "0.5", "-y", "3", "--json"],
        "jacobian": ["jacobian", "x*y + tanh(x)", "-x", "2", "-y", "3", "--json"],
        "jacobian, inputs-first": ["jacobian", "x*y + tanh(x)", "-x", "2", "-y", "3", "--layout", "inputs-first",
                                   "--json"],
        "hessian": ["hessian", "x**2 * y + exp(x*y)", "-x", "1", "-y", "2", "--json"],
        "grad --symbolic": ["grad", "x * exp(x)", "--symbolic", "--json"],
        "grad --order": ["grad", "x * exp(x)", "-x", "0.5", "--order", "3", "--json"],
        "gates": ["gates", "relu", "mul", "--json"],
        "schema": ["schema", "grad"],
        "graph": ["graph", *example, "--format", "dot"],
        "graph --format text": ["graph", *example, "--format", "text"],  # drawn with rich
        "code": ["code", *example],
        "exercise": ["exercise", "x * y + x", "--seed", "7", "--json"],
        "grade": ["grade", str(folder / "course" / "key.toml"), str(folder / "course" / "bob.toml"), "--json"],
    }


JSON_PATHS = [
    "grad", "grad, options", "check --expect", "check, --x bindings", "check --answers", "check --backward",
    "gradcheck", "jacobian", "jacobian, inputs-first", "hessian", "grad --symbolic", "grad --order", "gates",
    "schema", "graph", "code", "grade", "exercise",
]
# The same command lines without --json: a table (rich), or text where the command prints text.
TEXT_PATHS = ("grad --symbolic", "schema", "graph", "code")


@pytest.mark.parametrize("name", JSON_PATHS)
def test_no_command_imports_typer_rich_or_numpy_on_numbers(name, tmp_path):
    """Issue 21: none of them before it knows it needs them (the JSON path of numbers needs none)."""
    process = run_bpcli("-X", "importtime", *scalar_command_lines(tmp_path)[name])
    assert process.returncode == 0, process.stderr[-2000:]
    modules = modules_of(process)
    assert "bpcli.cli.quick" in modules  # the measurement saw bpcli's own imports
    assert not {module for module in modules if module.split(".")[0] in HEAVY}
    assert "pathlib" not in modules - interpreter_modules()  # a path is text (declare.Path), read with engine/paths.py


ONLY_WHERE_USED = {"bpcli.analyses.backward_file", "bpcli.analyses.student_code", "bpcli.analyses.exercise",
                   "bpcli.engine.syntax.functions", "tomllib"}


@pytest.mark.parametrize(("name", "used"), [
    ("check --expect", set()),
    ("check --answers", {"tomllib"}),  # a TOML file without a backward pass
    # The course's key has a backward file named FILE.py: whether it is FILE.py:NAME is asked (function_spec, with
    # no ast); bob hands in none, so no function is read.
    ("grade", {"tomllib"}),
    ("exercise", {"bpcli.analyses.exercise"}),
])
def test_each_check_grade_and_exercise_imports_only_the_analyses_it_uses(name, used, tmp_path):
    """A backward file's checker, a student's functions, an exercise's drawing, TOML: each only where it is used."""
    process = run_bpcli("-X", "importtime", *scalar_command_lines(tmp_path)[name])
    assert process.returncode == 0, process.stderr[-2000:]
    assert modules_of(process) & ONLY_WHERE_USED == used


# The gate card is laid out without rich where the output takes no styles (views/plain_layout.py).
PLAIN_TABLES = ("gates",)


@pytest.mark.parametrize("name", [*(name for name in JSON_PATHS if name not in TEXT_PATHS + PLAIN_TABLES),
                                  "graph --format text"])
def test_every_table_on_numbers_imports_rich_but_neither_typer_nor_numpy(name, tmp_path):
    """Issue 21: a table needs rich to draw, and numbers need no numpy (a Jacobian's and a Hessian's neither)."""
    words = [word for word in scalar_command_lines(tmp_path)[name] if word != "--json"]
    process = run_bpcli("-X", "importtime", *words)
    assert process.returncode == 0, process.stderr[-2000:]
    modules = modules_of(process)
    assert "rich.console" in modules
    assert not {module for module in modules if module.split(".")[0] in ("typer", "click", "numpy", "lark")}


# Results are Records (bpcli/engine/record.py): dataclasses' import brings inspect, ast, dis and tokenize,
# and each @dataclass compiles its methods when its module is imported.


@pytest.mark.parametrize("name", JSON_PATHS)
def test_no_json_path_imports_dataclasses_or_the_flat_tape(name, tmp_path):
    """No result is a dataclass; and the flat tape is for large expressions (4,000 characters and more):
    a short one's command never imports it."""
    process = run_bpcli("-X", "importtime", *scalar_command_lines(tmp_path)[name])
    assert process.returncode == 0, process.stderr[-2000:]
    modules = modules_of(process)
    assert "bpcli.cli.quick" in modules  # the measurement saw bpcli's own imports
    assert not {"dataclasses", "inspect", "ast", "dis", "tokenize"} & modules
    assert "bpcli.engine.tape" not in modules


# An exercise's answers file quotes its strings as JSON does; --w0-style bindings are first asked whether they
# are a misspelt option of any command (common.py).
READ_JSON = ("exercise", "check, --x bindings")


@pytest.mark.parametrize("name", [*(name for name in JSON_PATHS if name not in TEXT_PATHS + READ_JSON),
                                  "graph --format text", "graph", "code"])
def test_a_table_or_text_imports_no_json_writer(name, tmp_path):
    """Where nothing is JSON, neither json nor the JSON views are imported (values read as JSON import it):
    check's and grade's tables neither, whose expectations and TOML files are numbers."""
    words = [word for word in scalar_command_lines(tmp_path)[name] if word != "--json"]
    process = run_bpcli("-X", "importtime", *words)
    assert process.returncode == 0, process.stderr[-2000:]
    modules = modules_of(process)
    assert "bpcli.cli.quick" in modules
    assert not modules & {"json", "bpcli.views.json_doc"}
    assert "bpcli.engine.tape" not in modules


def test_the_console_script_never_collects_while_it_starts():
    """While a command starts, the collector never scans its objects: all alive to the end (at Python's
    default of a pass every 700 objects, it would have scanned them some ten times)."""
    probe = (
        "import atexit, gc, sys\n"
        "passes = lambda: gc.get_stats()[0]['collections']\n"
        "sys.argv = ['bpcli', 'grad', 'x * y', '-x', '2', '-y', '3', '--json']\n"
        "from bpcli.cli import main\n"
        "before = passes()\n"
        "atexit.register(lambda: sys.stderr.write(f'passes {passes() - before}\\n'))\n"
        "main()\n"
    )
    process = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert process.returncode == 0, process.stderr[-2000:]
    assert json.loads(process.stdout)["gradients"] == {"x": 3.0, "y": 2.0}
    assert process.stderr == "passes 0\n"


@pytest.mark.parametrize(("words", "code"), [
    (["gates", "--json"], 0),  # a long document, all of it written
    (["check", "x * y", "-x", "2", "-y", "3", "--expect", "dx=5", "--json"], 1),  # a wrong answer
    (["grad", "x *", "--json"], 2),  # bad input: its message on stderr
    (["graph", "x * y", "-x", "2", "-y", "3", "--out", "{out}"], 0),  # a file written
])
def test_the_console_script_ends_at_once_after_its_exit_functions_with_everything_written(words, code, tmp_path):
    """bpcli.cli.console (the bpcli command, python -m bpcli) ends the process without Python's teardown of
    every module: the exit functions have run, the output is flushed whole, files are in place, and the exit
    code is the command's. Nothing after console() runs, and no module is torn down (an object's __del__ that
    Python's teardown would call leaves its mark, a folder)."""
    out = tmp_path / "circuit.dot"
    words = [word.format(out=out) for word in words]

    def run(entry: str) -> subprocess.CompletedProcess[str]:
        probe = (
            "import atexit, os, sys\n"
            "class TornDown:\n"
            f"    def __del__(self, mark=os.mkdir): mark({str(tmp_path / entry)!r})\n"  # bound now: the teardown clears names
            "marker = TornDown()\n"
            "atexit.register(lambda: sys.stderr.write('exit functions ran\\n'))\n"
            f"sys.argv = ['bpcli', *{words!r}]\n"
            f"from bpcli.cli import {entry}\n"
            f"{entry}()\n"
            "sys.stderr.write('after console\\n')\n"
        )
        return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60)

    process, expected = run("console"), run("main")  # main: Python's own exit
    assert process.returncode == expected.returncode == code
    assert process.stdout == expected.stdout
    assert process.stderr.endswith("exit functions ran\n") and "after console" not in process.stderr
    assert process.stderr == expected.stderr
    assert (tmp_path / "main").exists() and not (tmp_path / "console").exists()  # torn down only by Python's exit
    if "--json" in words and code == 0:
        json.loads(process.stdout)
    if "--out" in words:
        assert out.read_text().startswith("digraph")


def test_a_text_view_imports_none_of_them(tmp_path):
    """Text, and the gate card on a pipe (rich's tables and blocks written as plain text)."""
    lines = scalar_command_lines(tmp_path)
    for name in (*TEXT_PATHS, *PLAIN_TABLES):
        process = run_bpcli("-X", "importtime", *[word for word in lines[name] if word != "--json"])
        assert process.returncode == 0, process.stderr[-2000:]
        heavy = {module.split(".")[0] for module in modules_of(process)} & {"typer", "click", "numpy", "lark", "rich"}
        assert not heavy, (name, heavy)


@pytest.mark.parametrize("suffix, content, words", [
    (".csv", "x,y\n1,2\n3,4\n", []),
    (".jsonl", '{"x": 1, "y": 2}\n{"x": 3, "y": 4}\n', ["--format", "jsonl"]),
])
def test_small_text_points_import_neither_numpy_nor_typer_nor_rich(tmp_path, suffix, content, words):
    """Issue 21: a small CSV or JSON Lines table written as text is evaluated row by row on numbers
    (analyses/few_points.py); numpy's import alone would cost more than the rows."""
    points = tmp_path / f"points{suffix}"
    points.write_text(content)
    process = run_bpcli("-X", "importtime", "grad", "x * tanh(y)", "--points", str(points), *words)
    assert process.returncode == 0, process.stderr[-2000:]
    modules = modules_of(process)
    assert "bpcli.analyses.few_points" in modules  # the measurement saw the command's own imports
    assert not {module for module in modules if module.split(".")[0] in HEAVY}
    assert "dataclasses" not in modules  # PointsResult is a Record
    assert "bpcli.analyses.expected" not in modules  # no number here may underflow: none is kept with its text


def test_binary_points_import_numpy_but_neither_typer_nor_rich(tmp_path):
    """A binary table needs numpy (and writing .npy too); nothing else heavy."""
    points = tmp_path / "points.csv"
    points.write_text("x,y\n1,2\n3,4\n")
    process = run_bpcli("-X", "importtime", "grad", "x * tanh(y)", "--points", str(points),
                        "--out", str(tmp_path / "out.npy"))
    assert process.returncode == 0, process.stderr[-2000:]
    modules = {module.split(".")[0] for module in modules_of(process)}
    assert "numpy" in modules
    assert not modules & {"typer", "click", "rich", "lark"}


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


# Reading TOML compiles: tomllib's own NamedTuple has annotations as texts (typing compiles each).
READS_TOML = ("check --answers", "grade")


@pytest.mark.parametrize("name", [name for name in JSON_PATHS if name not in READS_TOML])
def test_no_json_path_compiles_text(name, tmp_path):
    """A run's first compile() of a text sets up Python's AST types, 1.5 ms of start-up (an eighth of
    ``python -c pass``); typing compiles every annotation it reads as a text. bpcli's NamedTuples and
    records and the quick reader read their annotations without compile() (engine/record.py, cli/quick.py).
    Module sources (bytes, when no cached bytecode is written) do not count."""
    probe = (
        "import builtins, sys\n"
        "real, texts = builtins.compile, []\n"
        "def counted(source, *args, **kwargs):\n"
        "    if isinstance(source, str):\n"
        "        texts.append(source)\n"
        "    return real(source, *args, **kwargs)\n"
        "builtins.compile = counted\n"
        "import atexit\n"
        "atexit.register(lambda: sys.stderr.write(f'compiled {texts}\\n'))\n"
        f"sys.argv = ['bpcli', *{scalar_command_lines(tmp_path)[name]!r}]\n"
        "from bpcli.cli import main\n"
        "main()\n"
    )
    process = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert process.returncode == 0, process.stderr[-2000:]
    assert process.stderr.splitlines()[-1] == "compiled []"

"""Readable on any terminal: no number cut at any width, COLUMNS honoured, no trailing spaces,
nested array previews, and output encodings that cannot write ∂ (issue 18 "Terminal", issue 17)."""

from __future__ import annotations

import json
import os
import re
import subprocess

import numpy as np
import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from bpcli.cli import app
from bpcli.views.numbers import format_value
from helpers import bpcli_executable, on_a_terminal, run_process


@pytest.fixture
def files(tmp_path, monkeypatch) -> dict[str, str]:
    """The files check reads, named relative to the current folder (a long path would wrap, digits and all)."""
    (tmp_path / "program.txt").write_text("q = x + y\nf = q * z\n")
    (tmp_path / "backward.txt").write_text("df = 1\ndq = z * df\ndz = q\ndx = q\n")
    monkeypatch.chdir(tmp_path)
    return {"program": "program.txt", "backward": "backward.txt"}


NEURON = ("sigmoid(w0*x0 + w1*x1 + w2)", "--w0", "2", "--x0", "-1", "--w1", "-3", "--x1", "-2", "--w2", "-3")
# Every command that prints a table, with the arguments of a typical run.
COMMANDS = {
    "grad": ("grad", *NEURON),
    "grad-arrays": ("grad", "sum(relu(W @ x + b))", "-W", "[[1.25, -2.5], [3.125, 0.5], [-1, 2]]",
                    "-x", "[0.75, -1.5]", "-b", "[0.1, 0.2, -0.3]"),
    "grad-explain": ("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--explain"),
    "grad-order": ("grad", "sigmoid(x) * x**3", "-x", "0.51234", "--order", "2"),
    "gradcheck": ("gradcheck", "relu(x) * y + sigmoid(x * y)", "-x", "0", "-y", "0.5123"),
    "hessian": ("hessian", "x**2 * y + sigmoid(x * y)", "-x", "1.5", "-y", "-0.75"),
    "hessian-vector": ("hessian", "sum(x**3)", "-x", "[1.5, -2.25]", "--vector", "[1, 0.5]"),
    "jacobian": ("jacobian", "tanh(x) * 3", "-x", "[0.51234, -1.25, 2.5]"),
    "check": ("check", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--expect", "dz=-4", "--expect", "dx=-4"),
    "check-backward": ("check", "--file", "{program}", "-x", "-2", "-y", "5", "-z", "-4",
                       "--backward", "{backward}"),
    "gates": ("gates", "relu", "max", "matmul"),
}
# A number as the tables print it, not part of a name (t1, x0) or of a longer number.
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?!\w|\.\d)")


def _arguments(name: str, files: dict[str, str]) -> list[str]:
    return [argument.format(**files) for argument in COMMANDS[name]]


def _run(arguments: list[str], columns: int | None = None, charset: str = "utf-8"):
    env = {"COLUMNS": str(columns) if columns else None}
    return CliRunner(charset=charset).invoke(app, arguments, env=env)


def _numbers(text: str) -> set[str]:
    return set(NUMBER.findall(text))


@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize("columns", [40, 60, 100])
def test_every_number_whole_within_columns(name, columns, files):
    """Piped, the table takes COLUMNS; each number the wide table shows is there, none cut or made up."""
    arguments = _arguments(name, files)
    wide, narrow = _run(arguments, 400), _run(arguments, columns)
    assert narrow.exit_code == wide.exit_code and narrow.exit_code in (0, 1), narrow.stderr
    too_long = [line for line in narrow.stdout.splitlines() if cell_len(line) > columns]
    assert not too_long, "\n".join(too_long)
    cut, lost = _numbers(narrow.stdout) - _numbers(wide.stdout), _numbers(wide.stdout) - _numbers(narrow.stdout)
    assert not cut and not lost, (cut, lost, narrow.stdout)


def test_a_narrow_table_becomes_one_block_per_stage():
    result = _run(["grad", *NEURON], 60)
    lines = result.stdout.splitlines()
    assert "1. t1 = w0 * x0  (mul)" in lines
    assert "5. f = sigmoid(t4)  (sigmoid)" in lines
    block = lines[lines.index("5. f = sigmoid(t4)  (sigmoid)") + 1:][:4]
    assert block == [
        "  value           0.7311",
        "  local gradient  ∂f/∂t4 = f * (1 - f) = 0.1966",
        "  upstream        1",
        "  downstream      t4 ← 0.1966",
    ]


def test_a_table_that_fits_by_wrapping_words_stays_a_table():
    """At 100 columns the stage table is too wide for one line per cell, but wraps between words."""
    result = _run(["grad", *NEURON], 100)
    assert "┃ # ┃ stage ┃" in result.stdout
    assert "…" not in result.stdout
    assert "0.7311" in result.stdout and "0.1966" in result.stdout


def test_an_elided_stage_table_keeps_its_note_in_blocks():
    result = _run(["grad", "+".join(["x"] * 30), "-x", "1", "--max-stages", "4"], 40)
    assert result.exit_code == 0
    assert "…  25 more stages (--max-stages 0 shows" in result.stdout


def test_columns_that_are_not_a_width_are_ignored():
    for columns in ("0", "-5", "wide"):
        result = CliRunner().invoke(app, ["grad", *NEURON], env={"COLUMNS": columns})
        assert result.exit_code == 0
        assert "┃ # ┃ stage ┃ gate    ┃ expression  ┃  value ┃" in result.stdout


def test_a_real_pipe_honours_columns():
    process = run_process("grad", *NEURON, env={"COLUMNS": "60"})
    assert process.returncode == 0
    assert max(map(cell_len, process.stdout.splitlines())) <= 60
    assert "1. t1 = w0 * x0  (mul)" in process.stdout


def _on_a_60_column_terminal(*args: str, env: dict[str, str]) -> str:
    """What bpcli writes to a pseudo-terminal 60 columns wide, without its escape codes."""
    output = on_a_terminal(*args, env=env, columns=60)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode()).replace("\r\n", "\n")


@pytest.mark.parametrize("columns", [None, "0"], ids=["unset", "zero"])
def test_a_60_column_terminal_cuts_no_number(columns):
    """Once, the stage table showed 0.19… and 0.73… there; and COLUMNS=0 printed nothing at all."""
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    env["NO_COLOR"] = "1"
    if columns is not None:
        env["COLUMNS"] = columns
    text = _on_a_60_column_terminal("grad", *NEURON, env=env)
    assert "…" not in text
    assert max(map(cell_len, text.splitlines())) <= 60
    assert {"0.7311", "0.1966", "-0.1966", "0.3932", "-0.3932", "-0.5898"} <= _numbers(text)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_line_ends_in_a_space(name, files):
    for columns in (None, 50):
        result = _run(_arguments(name, files), columns)
        assert result.exit_code in (0, 1), result.stderr
        padded = [line for line in result.stdout.splitlines() if line != line.rstrip()]
        assert not padded, padded


def test_no_line_ends_in_a_space_in_a_real_pipe():
    process = run_process("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4")
    assert process.stdout.splitlines()[0] == "Backpropagation through (x+y)*z"
    assert all(line == line.rstrip() for line in process.stdout.splitlines())


class TestArrayPreviews:
    def test_a_matrix_keeps_its_rows(self):
        assert format_value(np.array([[1.0, 2.0], [3.0, 4.0]])) == "[[1, 2], [3, 4]]"
        assert format_value(np.arange(6.0).reshape(3, 2)) == "[[0, 1], [2, 3], [4, 5]]"
        assert format_value(np.arange(8.0).reshape(2, 2, 2)) == "[[[0, 1], [2, 3]], [[4, 5], [6, 7]]]"

    def test_large_arrays_are_summarised_as_numpy_does(self):
        assert format_value(np.arange(1.0, 9.0)) == "[1, 2, 3, ..., 6, 7, 8]"
        assert format_value(np.ones((100, 100))) == (
            "[[1, 1, ..., 1, 1], [1, 1, ..., 1, 1], ..., [1, 1, ..., 1, 1], [1, 1, ..., 1, 1]]"
        )
        assert format_value(np.zeros((5, 5, 5))) == (
            "[[[0, ..., 0], ..., [0, ..., 0]], ..., [[0, ..., 0], ..., [0, ..., 0]]]"
        )

    def test_small_arrays_are_whole(self):
        assert format_value(np.array([0.5, -0.25, 3.0])) == "[0.5, -0.25, 3]"
        assert format_value(np.arange(9.0).reshape(3, 3)) == "[[0, 1, 2], [3, 4, 5], [6, 7, 8]]"

    def test_the_stage_table_shows_a_3_by_2_gradient_as_3_rows(self):
        result = _run(["grad", "sum(W @ x)", "-W", "[[1,2],[3,4],[5,6]]", "-x", "[1,-1]"], 200)
        assert "W ← [[1, -1], [1, -1], [1, -1]]" in result.stdout

    def test_the_check_header_shows_a_matrix_as_rows(self):
        result = _run(["check", "sum(W @ x)", "-W", "[[1,2],[3,4]]", "-x", "[1,-1]", "--expect", "dx=[4,6]"])
        assert result.exit_code == 0
        assert "Checking sum(W @ x) at W = [[1, 2], [3, 4]], x = [1, -1]" in result.stdout


# ---- output encodings that are not UTF-8 (issue 17) ----------------------------------------

ENCODINGS = ("ascii", "latin-1", "cp1252")


def _boxed_runs(text: str) -> list[list[str]]:
    """The runs of consecutive table lines (an ASCII table's lines start with | or +)."""
    runs: list[list[str]] = []
    previous_boxed = False
    for line in text.splitlines():
        boxed = line[:1] in ("|", "+")
        if boxed and previous_boxed:
            runs[-1].append(line)
        elif boxed:
            runs.append([line])
        previous_boxed = boxed
    return runs


def _encoded(arguments: list[str], encoding: str) -> tuple[int, str, str]:
    """A real bpcli with PYTHONIOENCODING: its exit code, standard output and error read in that encoding."""
    process = subprocess.run([*bpcli_executable(), *arguments], capture_output=True, timeout=60,
                             env={**os.environ, "PYTHONIOENCODING": encoding})
    return process.returncode, process.stdout.decode(encoding), process.stderr.decode(encoding)


def _holds_up(utf8: tuple[int, str, str], other: tuple[int, str, str]) -> None:
    """A run on another encoding exits as on UTF-8, drops no warning, writes no ∂ or ←, and aligns its tables."""
    code, stdout, stderr = other
    assert code == utf8[0] and code in (0, 1), stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert "∂" not in stdout and "←" not in stdout
    assert stderr.count("\n") == utf8[2].count("\n")  # no warning dropped
    for run in _boxed_runs(stdout):
        assert len({len(line) for line in run}) == 1, "\n".join(run)


@pytest.mark.slow  # two processes per case
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_runs_on_a_stream_that_cannot_write_unicode(name, encoding, files):
    """A real process with PYTHONIOENCODING (standard output and error alike)."""
    arguments = _arguments(name, files)
    _holds_up(_encoded(arguments, "utf-8"), _encoded(arguments, encoding))


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_in_process_on_a_stream_that_cannot_write_unicode(name, encoding, files):
    """CliRunner's standard output in that encoding: the commands tolerate it themselves."""
    def run(charset: str) -> tuple[int, str, str]:
        result = _run(_arguments(name, files), charset=charset)
        return result.exit_code, result.stdout, result.stderr

    _holds_up(run("utf-8"), run(encoding))


def test_ascii_spellings():
    code, stdout, _ = _encoded(["grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4"], "ascii")
    assert code == 0
    assert "| 2 | f     | mul  | t1 * z     |   -12 | df/dt1 = z = -4 |        1 | t1 <- -4   |" in stdout
    assert "| input | value | df/dinput |" in stdout


def test_latin_1_keeps_what_it_can_write():
    code, stdout, _ = _encoded(["hessian", "x**2 * y", "-x", "1", "-y", "2"], "latin-1")
    assert code == 0
    assert "Hessian of f = 2: d²f/drow dcolumn" in stdout


def test_warnings_and_errors_are_spelled_not_dropped():
    code, _, stderr = _encoded(["gradcheck", "relu(x) * y", "-x", "0", "-y", "3"], "ascii")
    assert code == 0
    assert "bpcli: warning: x +- 1e-05 crosses a kink" in stderr
    code, stdout, _ = _encoded(["check", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--expect", "dz=-4"], "cp1252")
    assert code == 1
    assert "FAIL dz = -4, but df/dz = 3" in stdout
    code, _, stderr = _encoded(["grad", "x # ∂", "-y", "1"], "ascii")
    assert code == 2
    assert stderr.startswith("bpcli: error: ")


def test_explain_on_ascii():
    code, stdout, _ = _encoded(["grad", "x*y", "-x", "1", "-y", "2", "--explain"], "ascii")
    assert code == 0
    assert "the multiply gate f = x * y swaps its inputs" in stdout


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_json_stays_exact(encoding):
    """JSON is escaped, not respelled: the document is the same to a JSON reader."""
    arguments = ["grad", "x * 2  # é ∂ ←", "-x", "1.5", "--json"]
    code, stdout, _ = _encoded(arguments, encoding)
    assert code == 0
    assert json.loads(stdout) == json.loads(_encoded(arguments, "utf-8")[1])
    assert json.loads(stdout)["expression"] == "x * 2  # é ∂ ←"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_json_in_process(encoding):
    result = _run(["grad", "x * 2  # é ∂ ←", "-x", "1.5", "--json"], charset=encoding)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["expression"] == "x * 2  # é ∂ ←"

"""The command line as people and scripts use it: CliRunner and the real executable."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import numpy as np
import pytest

import bpcli
from bpcli.cli.shared import NO_EXPRESSION
from helpers import REPO, run_cli, run_json, run_process, validated


class TestTable:
    def test_one_row_per_gate_with_locals_upstream_and_downstream(self):
        result = run_cli("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4")
        assert result.exit_code == 0
        out = result.stdout
        assert "∂f/∂t1 = z = -4" in out
        assert "∂f/∂z = t1 = 3" in out
        assert "∂t1/∂x = 1" in out
        assert "x ← -4" in out and "z ← 3" in out
        row_1 = next(line for line in out.splitlines() if "│ t1 " in line and "add" in line)
        assert "x + y" in row_1 and " 3 " in row_1 and "-4" in row_1
        assert "Gradients of f = -12" in out

    def test_no_colour_codes_when_piped(self):
        result = run_cli("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4")
        assert "\x1b[" not in result.stdout

    def test_fork_shows_each_contribution_and_the_sum(self):
        result = run_cli("grad", "x*y + x", "-x", "3", "-y", "2")
        assert "dx = 1 (via f) + 2 (via t1) = 3" in result.stdout

    def test_warnings_follow_the_table_on_stderr(self):
        result = run_cli("grad", "max(x, y)", "-x", "4", "-y", "4")
        assert result.exit_code == 0
        assert "max tie: the gradient is split evenly" in result.stderr
        assert "warning" not in result.stdout

    def test_precision(self):
        result = run_cli("grad", "sigmoid(x)", "-x", "1", "--precision", "8")
        assert "0.73105858" in result.stdout

    def test_long_tables_are_cut_with_a_note(self):
        expression = "+".join(["x"] * 300)
        result = run_cli("grad", expression, "-x", "1", "--max-stages", "20")
        assert "279 more stages" in result.stdout
        assert "Gradients of f = 300" in result.stdout


class TestBindings:
    @pytest.mark.parametrize(
        "args",
        [
            ["-x", "-2", "-y", "5", "-z", "-4"],
            ["--x", "-2", "--y", "5", "--z", "-4"],
            ["x=-2", "y=5", "z=-4"],
            ["--x=-2", "-y=5", "z=-4"],
            ["-x", "-2e0", "-y", "+5", "-z", "-4.0"],
        ],
    )
    def test_binding_forms(self, args):
        doc = run_json("grad", "(x+y)*z", *args)
        assert doc["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}

    def test_multi_letter_names(self):
        doc = run_json("grad", "w0*x0 + w1", "--w0", "2", "--x0", "-1", "--w1", "3")
        assert doc["gradients"] == {"w0": -1.0, "x0": 2.0, "w1": 1.0}

    def test_a_name_that_is_also_an_option_is_bound_with_equals(self):
        doc = run_json("grad", "json * 2", "json=3")
        assert doc["gradients"] == {"json": 2.0}

    def test_expression_starting_with_minus_follows_double_dash(self):
        result = run_cli("grad", "--json", "--", "-x**2", "x=3")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["gradients"] == {"x": -6.0}

    def test_unused_binding_warns_on_stderr(self):
        result = run_cli("grad", "x*2", "-x", "1", "-w", "5", "--json")
        assert result.exit_code == 0
        assert "bpcli: warning: w is bound but the expression does not use it" in result.stderr
        json.loads(result.stdout)

    def test_expression_from_standard_input(self):
        result = run_cli("grad", "-", "-x", "3", "--json", input="q = x * x\nf = q + 1\n")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["gradients"] == {"x": 6.0}

    def test_expression_from_a_file(self, tmp_path):
        path = tmp_path / "program.txt"
        path.write_text("q = x + y  # the add gate\nf = q * z\n")
        doc = run_json("grad", "--file", str(path), "-x", "-2", "-y", "5", "-z", "-4")
        assert [s["name"] for s in doc["stages"]] == ["q", "f"]

    def test_file_with_equals_bindings(self, tmp_path):
        path = tmp_path / "program.txt"
        path.write_text("f = x * y")
        doc = run_json("grad", "--file", str(path), "x=2", "y=3")
        assert doc["gradients"] == {"x": 3.0, "y": 2.0}


class TestErrors:
    @pytest.mark.parametrize(
        "args, fragment",
        [
            (["(x+)*z", "-x", "1", "-z", "1"], "parse error at line 1, column 4"),
            (["foo(x)", "-x", "1"], "unknown function 'foo'"),
            (["max(x, x, x)", "-x", "1"], "max takes 1 or 2 arguments, got 3"),
            (["x*y*z", "-x", "1"], "unbound variables: y, z"),
            (["x*2", "-x", "abc"], "the value of x is not a number: 'abc'"),
            (["x*2", "-x"], "-x needs a value"),
            (["--", "-x**2", "x=3", "--json"],
             "--json is an option of bpcli, but after -- it is read as a binding: put the options before --"),
            (["x*2", "-x", "1", "-x", "2"], "x is bound twice"),
            (["x*2", "-x", "1", "oops"], "unexpected argument 'oops'"),
            (["x*2", "-x", "1", "--9x", "1"], "is not a binding"),
            (["q = x * 2; x = q", "-x", "1"], "x is used before it is assigned"),
            ([], "no expression"),
        ],
    )
    def test_bad_input_exits_2_with_one_message(self, args, fragment):
        result = run_cli("grad", *args)
        assert result.exit_code == 2, result.stdout
        assert fragment in result.stderr
        assert result.stderr.startswith("bpcli: error: ")
        assert "Traceback" not in result.stderr + result.stdout
        assert result.stdout == ""

    def test_parse_error_shows_the_line_and_a_caret(self):
        result = run_cli("grad", "(x+)*z", "-x", "1", "-z", "1")
        assert "  (x+)*z\n     ^\n" in result.stderr

    def test_unreadable_file(self, tmp_path):
        result = run_cli("grad", "--file", str(tmp_path / "missing.txt"))
        assert result.exit_code == 2
        assert "cannot read" in result.stderr

    def test_non_utf8_file(self, tmp_path):
        path = tmp_path / "latin1.txt"
        path.write_bytes(b"x * \xe9")
        result = run_cli("grad", "--file", str(path), "-x", "1")
        assert result.exit_code == 2
        assert "not UTF-8" in result.stderr

    def test_unknown_option_of_bpcli_itself(self):
        result = run_cli("grad", "x", "-x", "1", "--precision", "zero")
        assert result.exit_code == 2
        assert "Traceback" not in result.stderr


class TestRealProcess:
    def test_installed_bpcli_prints_parseable_json(self):
        process = run_process("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--json")
        assert process.returncode == 0, process.stderr
        doc = json.loads(process.stdout)
        assert doc["value"] == -12.0
        assert doc["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}

    def test_bad_input_in_a_real_process(self):
        process = run_process("grad", "(x+y", "-x", "1", "-y", "2")
        assert process.returncode == 2
        assert "Traceback" not in process.stderr
        assert process.stderr.startswith("bpcli: error: parse error")

    def test_python_dash_m(self):
        import subprocess
        import sys

        process = subprocess.run(
            [sys.executable, "-m", "bpcli", "grad", "x*y", "x=2", "y=3", "--json"],
            capture_output=True, text=True, cwd=REPO, timeout=60,
        )
        assert process.returncode == 0, process.stderr
        assert validated(process.stdout)["gradients"] == {"x": 3.0, "y": 2.0}

    def test_table_without_a_terminal_has_no_colour(self):
        process = run_process("grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4")
        assert process.returncode == 0
        assert "\x1b[" not in process.stdout
        assert "∂f/∂t1 = z = -4" in process.stdout

    def test_version(self):
        process = run_process("--version")
        assert process.returncode == 0
        assert process.stdout.startswith("bpcli ")


class TestQuickPath:
    """`bpcli grad EXPR -x V ... [--json]` runs without typer; it must say exactly what typer's command says."""

    @pytest.mark.parametrize(
        "args",
        [
            ["grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--json"],
            ["grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4"],
            ["grad", "q = x + y; f = q * z", "x=-2", "y=5", "--json", "z=-4"],
            ["grad", "max(x, y)", "-x", "4", "-y", "4"],
            ["grad", "relu(x)", "-x", "[1,-2,3,-1]"],  # bad input: an array output needs --upstream
            ["grad", "(x+", "-x", "1"],
            ["grad", "x * y", "-x", "1"],
            ["grad", "x * 2", "-x", "1", "-w", "3", "--json"],
        ],
    )
    def test_same_output_and_exit_code_as_typer(self, args):
        quick = run_process(*args)
        typer_run = run_cli(*args)
        assert quick.returncode == typer_run.exit_code
        assert quick.stdout == typer_run.stdout
        assert quick.stderr == typer_run.stderr


class TestClosedPipes:
    """`bpcli ... | head -1`: no traceback, and a check's verdict survives the reader leaving early."""

    @staticmethod
    def run_with_reader_gone(*args: str) -> tuple[int, str]:
        import subprocess

        from helpers import bpcli_executable

        process = subprocess.Popen([*bpcli_executable(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.stdout.close()  # the reader goes away before bpcli has written anything
        stderr = process.stderr.read().decode()
        return process.wait(timeout=60), stderr

    @pytest.mark.parametrize(
        "args, code",
        [
            (["grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--json"], 0),
            (["grad", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--precision", "3"], 0),
            (["check", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--expect", "dx=3"], 1),
            (["check", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--expect", "dx=-4"], 0),
            (["gradcheck", "x * y", "-x", "3", "-y", "2", "--json"], 0),
        ],
    )
    def test_exit_quietly_with_the_commands_code(self, args, code):
        returncode, stderr = self.run_with_reader_gone(*args)
        assert returncode == code
        assert stderr == ""


def run_in_shell(redirection: str, *args: str) -> "subprocess.CompletedProcess[bytes]":
    """Run the real bpcli with a shell redirection (">&-", "<&-", "> /dev/full"); what is not
    redirected is captured."""
    import shlex
    import subprocess

    from helpers import bpcli_executable

    command = " ".join(map(shlex.quote, [*bpcli_executable(), *args])) + " " + redirection
    return subprocess.run(["sh", "-c", command], capture_output=True, timeout=60)


def run_with_both_streams_gone(*args: str) -> int:
    """`bpcli ... 2>&1 | true`: standard output and standard error go to a pipe nobody reads."""
    import os
    import subprocess

    from helpers import bpcli_executable

    reader, writer = os.pipe()
    os.close(reader)
    try:
        process = subprocess.Popen([*bpcli_executable(), *args], stdout=writer, stderr=writer)
    finally:
        os.close(writer)
    return process.wait(timeout=60)


class TestStreams:
    """A stream that is closed or cannot be written: one message and exit 2, or silence; never a traceback."""

    @pytest.mark.parametrize(
        "args",
        [
            ["check", "x*y", "-x", "1", "-y", "2", "--expect", "dw=2"],  # typer
            ["grad", "(x+"],  # the quick path
            ["grad", "(x+", "--precision", "3"],  # typer
            ["gates", "--bogus"],  # a usage error, printed by typer itself
        ],
    )
    def test_a_diagnostic_nobody_reads_keeps_the_exit_code(self, args):
        assert run_with_both_streams_gone(*args) == 2

    def test_a_check_verdict_survives_both_streams_gone(self):
        args = ["check", "(x+y)*z", "-x", "-2", "-y", "5", "-z", "-4", "--expect", "dx=3"]
        assert run_with_both_streams_gone(*args) == 1

    @pytest.mark.parametrize(
        "args",
        [
            ["grad", "x*y", "-x", "1", "-y", "2"],  # the quick path
            ["grad", "x*y", "-x", "1", "-y", "2", "--json"],
            ["grad", "x*y", "-x", "1", "-y", "2", "--precision", "3"],  # typer
            ["check", "x*y", "-x", "1", "-y", "2", "--expect", "dx=2"],
            ["graph", "x*y"],
            ["--version"],
        ],
    )
    def test_closed_standard_output(self, args):
        process = run_in_shell(">&-", *args)
        assert process.returncode == 2
        assert process.stderr == b"bpcli: error: cannot write to standard output: it is closed\n"

    def test_closed_standard_output_is_no_error_when_nothing_is_written_there(self, tmp_path):
        process = run_in_shell(">&-", "graph", "x*y", "--out", str(tmp_path / "circuit.dot"))
        assert (process.returncode, process.stderr) == (0, b"")
        assert (tmp_path / "circuit.dot").read_text().startswith("digraph")

    @pytest.mark.parametrize("args", [["grad", "-", "-x", "1"], ["grad", "-", "-x", "1", "--precision", "3"]])
    def test_closed_standard_input(self, args):
        process = run_in_shell("<&-", *args)
        assert process.returncode == 2
        assert process.stdout == b""
        assert process.stderr == b"bpcli: error: cannot read standard input: it is closed\n"

    @pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
    @pytest.mark.parametrize(
        "args",
        [
            ["grad", "x*y", "-x", "1", "-y", "2", "--json"],  # the quick path
            ["grad", "x*y", "-x", "1", "-y", "2"],
            ["grad", "x*y", "-x", "1", "-y", "2", "--precision", "3"],  # typer
            ["check", "x*y", "-x", "1", "-y", "2", "--expect", "dx=3"],  # a verdict that was never shown
            ["graph", "x*y", "--format", "mermaid"],
            ["gates"],
            ["--help"],
        ],
    )
    def test_a_full_disk(self, args):
        process = run_in_shell("> /dev/full", *args)
        assert process.returncode == 2
        assert process.stderr == b"bpcli: error: cannot write to standard output: No space left on device\n"

    @pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
    @pytest.mark.parametrize("extra", [[], ["--format", "jsonl"]])
    def test_a_full_disk_behind_out(self, tmp_path, extra):
        points = tmp_path / "points.csv"
        points.write_text("x,y\n1,2\n3,4\n")
        process = run_in_shell("", "grad", "x*y", "--points", str(points), "--out", "/dev/full", *extra)
        assert process.returncode == 2
        assert process.stdout == b""
        assert process.stderr == b"bpcli: error: cannot write /dev/full: No space left on device\n"

    @pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
    @pytest.mark.parametrize("suffix", [".csv", ".npy"])  # a small text table's path, and numpy's
    @pytest.mark.parametrize("extra", [[], ["--format", "jsonl"]])
    def test_a_full_disk_behind_the_rows_of_points(self, tmp_path, suffix, extra):
        points = tmp_path / f"points{suffix}"
        if suffix == ".csv":
            points.write_text("x,y\n1,2\n3,4\n")
        else:
            np.save(points, np.array([[1.0, 2.0], [3.0, 4.0]]))
        process = run_in_shell("> /dev/full", "grad", "x*y", "--points", str(points), *extra)
        assert process.returncode == 2  # was 3, an internal error
        assert process.stderr == b"bpcli: error: cannot write to standard output: No space left on device\n"

    @pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
    @pytest.mark.parametrize(
        "args",
        [
            ["exercise", "x*y", "--json", "--out", "missing/sheet.md"],  # the JSON printed, then --out fails
            ["grade", "course/key.toml", "course/ada", "--csv", "-", "--gradescope", "missing/results.json"],
        ],
    )
    def test_a_full_disk_behind_output_left_by_a_command_that_failed(self, tmp_path, args):
        """Output still buffered when a command fails is flushed at exit: a full disk then is one more
        message, never Python's traceback (it was exit 1, a failed check's code, or 120)."""
        subprocess.run([sys.executable, "-m", "bpcli", "grade", "--init", "course"], cwd=tmp_path, check=True,
                       capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        # Standard output as a user has it: buffered (the test runner's environment may ask for it unbuffered).
        env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
        env["PYTHONPATH"] = str(REPO)
        with open("/dev/full", "wb") as full:
            process = subprocess.run([sys.executable, "-m", "bpcli", *args], cwd=tmp_path, env=env, timeout=60,
                                     stdout=full, stderr=subprocess.PIPE, text=True)
        written = args[-1]
        assert process.returncode == 2
        assert process.stderr == (f"bpcli: error: cannot write {written}: No such file or directory\n"
                                  "bpcli: error: cannot write to standard output: No space left on device\n")

    def test_closed_standard_error(self):
        process = run_in_shell("2>&-", "grad", "(x+")
        assert process.returncode == 2
        assert process.stdout == b""


class TestWarningsOnStandardError:
    """Warnings about the values are diagnostics: on stderr, so that stdout is only what a script reads."""

    @pytest.mark.parametrize(
        "args, warning",
        [
            (["grad", "x*y", "-x", "1e999", "-y", "2"], "x is inf"),  # the quick path
            (["grad", "x*y", "-x", "1e999", "-y", "2", "--precision", "3"], "x is inf"),  # typer
            (["grad", "log(x)", "-x", "0", "--explain"], "log(0) is -inf"),
            (["grad", "log(x)", "-x", "0", "--symbolic"], "the gradient through it is inf"),
            (["grad", "log(x)", "-x", "0", "--order", "2"], "log(0) is -inf"),
            (["hessian", "relu(x)*y", "-x", "0", "-y", "1"], "the second derivative does not exist"),
            (["jacobian", "log(x)", "-x", "[0,1]"], "log(0) is -inf"),
            (["gradcheck", "relu(x) * y", "-x", "0", "-y", "3"], "crosses a kink"),
        ],
    )
    def test_text_views(self, args, warning):
        process = run_process(*args)
        assert process.returncode == 0, process.stderr
        assert "warning" not in process.stdout
        assert process.stdout.strip()
        lines = process.stderr.splitlines()
        assert lines and all(line.startswith("bpcli: warning: ") for line in lines)
        assert any(warning in line for line in lines)

    def test_symbolic_output_is_only_the_derivatives(self):
        process = run_process("grad", "log(x)", "-x", "0", "--symbolic")
        assert process.stdout == "df/dx = 1 / x = inf\n"

    @pytest.mark.parametrize("command", [["grad"], ["grad", "--precision", "3"], ["grad", "--symbolic"], ["hessian"]])
    def test_json_keeps_them_in_the_document(self, command):
        process = run_process(*command, "log(x)", "-x", "0", "--json")
        assert process.returncode == 0, process.stderr
        assert process.stderr == ""
        assert any("log(0) is -inf" in w["message"] for w in json.loads(process.stdout)["warnings"])

    def test_the_library_view_still_shows_them(self):
        import io

        from rich.console import Console

        console = Console(width=120, record=True, file=io.StringIO())
        console.print(bpcli.grad("log(x)", x=0.0))
        assert "warning: stage 1, f = log(x): log(0) is -inf" in console.export_text()


class TestNoExpression:
    """Each command that reads an expression says, when none is given, how to give one to that command."""

    @pytest.mark.parametrize("command", sorted(NO_EXPRESSION))
    def test_the_message_names_the_command_and_its_example_runs(self, command, tmp_path, monkeypatch):
        result = run_cli(command)
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.startswith(f"bpcli: error: no expression: give one (bpcli {command} "), result.stderr
        example = result.stderr.split("(bpcli ", 1)[1].rsplit("), - for standard input", 1)[0]
        monkeypatch.chdir(tmp_path)  # exercise --seed 7 prints its sheet; nothing is written
        ran = run_cli(*shlex.split(example))
        assert ran.exit_code == 0, ran.stderr

    def test_every_command_that_reads_an_expression_has_an_example(self):
        readers = {path.stem for path in (REPO / "bpcli" / "cli").glob("*.py")
                   if "common.Expression" in path.read_text(encoding="utf-8")}
        assert readers == set(NO_EXPRESSION)

    def test_exercise_names_its_problem_sets(self):
        assert run_cli("exercise").stderr == (
            'bpcli: error: no expression: give one (bpcli exercise "q = x + y; f = q * z" --seed 7), - for standard '
            "input, --set PATH, or --file PATH\n")
